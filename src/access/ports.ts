import type { IncomingMessage } from 'node:http';
import type { ClientFacts } from '../proxy/client-address.ts';
import type { UpstreamAnswer } from '../proxy/forward.ts';
import type { SensitiveSpec, UserState } from '../policy/types.ts';
import type { SessionRecord } from '../session/sessions.ts';

/**
 * What the access decision is told, and by whom. The decision (access/decide.ts) calls only these
 * interfaces; the sidecar's sign-in, step-up and require_2fa modules implement them and the
 * composition root wires them in, so nothing here reaches up into a route handler.
 */

export interface Identity {
  readonly user: UserState;
  readonly session: SessionRecord | null;
}

export const ANONYMOUS: Identity = Object.freeze({ user: Object.freeze({ authenticated: false }), session: null });

export interface IdentityResolver {
  /** Who the request's sidecar cookie says this is; anonymous when none or invalid. */
  resolve(req: IncomingMessage, client: ClientFacts): Promise<Identity>;
  /**
   * What resolve() would answer, when it is known without waiting (no cookie, or a session this
   * process already holds and need not touch); undefined when only resolve() can tell.
   */
  resolveKnown?(req: IncomingMessage, client: ClientFacts): Identity | undefined;
  /**
   * The Cookie header the upstream may see: its session cookies only as bound to a fully
   * authenticated sidecar session, never as the client sent them (cookie binding, DESIGN §2).
   * Not part of the decision: the proxy, upgrade and forward-auth entries apply it to what passed.
   * `connection`: the one the header came on, where its filtered form is remembered.
   */
  upstreamCookieHeader(header: string | undefined, identity: Identity, connection?: object): string | undefined;
  /** The upstream answered a proxied request of this identity (it may have rotated or ended its session). */
  observeUpstreamResponse?(identity: Identity, answer: UpstreamAnswer): void;
}

/** Sensitive rules (DESIGN §3): the risk level and step-up freshness a rule's category is decided with. */
export interface SensitiveFacts {
  userState(identity: Identity, spec: SensitiveSpec, req: IncomingMessage, client: ClientFacts, requestId?: string): Promise<UserState>;
}

/** Policy `require_2fa`: where a signed-in user without 2FA stands with the grace period (only on covered rules). */
export interface MandateFacts {
  userState(identity: Identity, user: UserState, requestId: string): Promise<UserState>;
}

/** The tracing span of a request, as far as fact gathering marks its phases. */
export interface FactsTrace {
  begin(name: 'guard.session' | 'guard.risk'): {
    end(attributes?: Readonly<Record<string, string | number | boolean>>): void;
    fail(error: unknown): void;
  };
}
