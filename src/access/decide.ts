import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { ClientFacts } from '../proxy/client-address.ts';
import type { CanonicalTarget } from '../proxy/canonical-target.ts';
import { decide as decideRule } from '../policy/decide.ts';
import type { CompiledPolicy, SensitiveSpec, UserState } from '../policy/types.ts';
import { isStoreUnavailable } from '../store/ephemeral.ts';
import { wantsHtml } from './audience.ts';
import { ANONYMOUS, type FactsTrace, type Identity, type IdentityResolver, type MandateFacts, type SensitiveFacts } from './ports.ts';
import type { AccessResult } from './result.ts';
import { GUARD_PREFIX, route, type GuardRouteTable, type RouteHost, type Routing } from './routing.ts';

/**
 * The access decision: the only place that decides what happens to a request, for every entry
 * (full proxy, websocket upgrade, the sidecar's own routes, forward-auth). Three steps, as
 * Pomerium's evaluate → check_response: `route` (canonical target and rule, synchronous),
 * `gather` (identity and the facts the rule needs: risk and step-up freshness on a sensitive rule,
 * the require_2fa grace state on a covered one — the only awaits), then `decide` (synchronous, no
 * I/O): one AccessResult with a typed reason.
 */

/**
 * How the request arrived. `http`: the full proxy (and the sidecar's own routes); `socket`: a
 * websocket upgrade; `ingress`: a forward-auth check (the ingress routes /_guard/ to the sidecar).
 */
export type Channel = 'http' | 'socket' | 'ingress';

/** Who is asking and the user state the matched rule is decided with. */
export interface Facts {
  readonly identity: Identity;
  /** Differs from identity.user on sensitive and require_2fa rules (risk, freshness, grace). */
  readonly user: UserState;
  /** The store could not say who this is: only what anonymous visitors may do can go on. */
  readonly storeDown: boolean;
}

export interface AccessDeps {
  readonly policy: () => CompiledPolicy;
  readonly guardRoutes: GuardRouteTable;
  readonly identity: Pick<IdentityResolver, 'resolve' | 'resolveKnown'>;
  readonly sensitive: SensitiveFacts;
  /** Policy `require_2fa`; none: a covered rule refuses users without 2FA (fail closed). */
  readonly mandate?: MandateFacts | undefined;
  readonly logger: Logger;
  readonly metrics?: Metrics | undefined;
  /** The request's tracing span, when tracing is on. */
  readonly trace?: ((req: IncomingMessage) => FactsTrace | undefined) | undefined;
}

export interface Access {
  route(method: string, rawTarget: string, host: RouteHost): Routing;
  gather(routing: Routing, req: IncomingMessage, client: ClientFacts, requestId: string, channel: Channel): Promise<Facts>;
  /**
   * The facts when they are known without waiting (nothing to know; no cookie: anonymous; a session
   * this process holds, on a rule that needs nothing more), else null and `gather` is asked. Lets
   * most traffic skip the promises of a lookup.
   */
  knownFacts(routing: Routing, req: IncomingMessage, client: ClientFacts, channel: Channel): Facts | null;
  decide(routing: Routing, facts: Facts, channel: Channel, headers: IncomingHttpHeaders): AccessResult;
}

type Routed = Extract<Routing, { kind: 'routed' }>;

export function loginUrl(target: CanonicalTarget): string {
  return `${GUARD_PREFIX}/login?return_to=${encodeURIComponent(target.forwarded)}`;
}

const NO_FACTS: Facts = Object.freeze({ identity: ANONYMOUS, user: ANONYMOUS.user, storeDown: false });
const STORE_DOWN: Facts = Object.freeze({ identity: ANONYMOUS, user: ANONYMOUS.user, storeDown: true });
const SIDECAR_ROUTE: AccessResult = Object.freeze({ kind: 'sidecar_route' });

export function createAccess(deps: AccessDeps): Access {
  const { logger, metrics } = deps;

  /** The risk level and step-up freshness a sensitive rule is decided with. */
  async function sensitiveState(spec: SensitiveSpec, identity: Identity, req: IncomingMessage, client: ClientFacts, requestId: string): Promise<UserState> {
    const risk = deps.trace?.(req)?.begin('guard.risk');
    if (!risk) return deps.sensitive.userState(identity, spec, req, client, requestId);
    try {
      const user = await deps.sensitive.userState(identity, spec, req, client, requestId);
      risk.end({ 'guard.risk.level': user.risk ?? 'none', 'guard.fresh': user.fresh ?? false });
      return user;
    } catch (error) {
      risk.fail(error);
      throw error;
    }
  }

  /**
   * Who the request is and the user state its rule is decided with. A store that cannot answer
   * makes the request anonymous (and says so), so public routes keep working during an outage.
   */
  async function gather(routing: Routing, req: IncomingMessage, client: ClientFacts, requestId: string, channel: Channel): Promise<Facts> {
    // Nothing to know: the target is refused, or a sidecar route this entry does not decide.
    if (routing.kind === 'reject' || (routing.internal && channel !== 'http')) return NO_FACTS;
    const lookup = deps.trace?.(req)?.begin('guard.session');
    try {
      const identity = await deps.identity.resolve(req, client);
      lookup?.end({ 'guard.authenticated': identity.user.authenticated });
      let user = identity.user;
      const spec = sensitiveSpec(routing, channel);
      if (spec && identity.session) user = await sensitiveState(spec, identity, req, client, requestId);
      if (mandateApplies(routing, identity, user)) user = await (deps.mandate as MandateFacts).userState(identity, user, requestId);
      return { identity, user, storeDown: false };
    } catch (error) {
      lookup?.fail(error);
      if (!isStoreUnavailable(error)) throw error;
      metrics?.storeError('request');
      logger.warn({ err: error }, 'store unavailable: request treated as anonymous (fail closed)');
      return STORE_DOWN;
    }
  }

  /** Only a sensitive rule needs risk and freshness; a websocket upgrade is decided on the identity alone. */
  function sensitiveSpec(routing: Routed, channel: Channel): SensitiveSpec | null {
    return routing.internal || channel === 'socket' ? null : routing.match.rule.sensitive;
  }

  /** A require_2fa rule, for a signed-in user without 2FA: the grace state must be looked up. */
  function mandateApplies(routing: Routed, identity: Identity, user: UserState): boolean {
    return routing.match.rule.requireTwoFactor === true && identity.session !== null && user.twoFactorEnabled !== true && deps.mandate !== undefined;
  }

  function knownFacts(routing: Routing, req: IncomingMessage, client: ClientFacts, channel: Channel): Facts | null {
    if (routing.kind === 'reject' || (routing.internal && channel !== 'http')) return NO_FACTS;
    // A traced request goes through gather, for its spans.
    if (deps.trace?.(req) !== undefined) return null;
    // Without a cookie there is no session to look up: anonymous, which is what gather would find.
    if (req.headers.cookie === undefined) return NO_FACTS;
    const identity = deps.identity.resolveKnown?.(req, client);
    if (identity === undefined) return null;
    if (identity.session && (sensitiveSpec(routing, channel) !== null || mandateApplies(routing, identity, identity.user))) return null;
    return { identity, user: identity.user, storeDown: false };
  }

  function decide(routing: Routing, facts: Facts, channel: Channel, headers: IncomingHttpHeaders): AccessResult {
    if (routing.kind === 'reject') return routing;
    if (routing.internal && channel !== 'http') return SIDECAR_ROUTE;
    const explanation = decideRule(routing.match, facts.user);
    const identity = facts.identity;
    const decision = explanation.decision;
    const passed = routing.internal ? 'own_route' : 'forward';
    let result: AccessResult;
    switch (decision.kind) {
      case 'pass':
        return { kind: passed, routing, explanation, identity };
      case 'login_required':
        result = { kind: 'login_required', routing, explanation, identity, loginUrl: loginUrl(routing.target) };
        break;
      case 'deny':
        result = { kind: 'deny', routing, explanation, identity, code: 'forbidden' };
        break;
      case 'intercept':
        result = { kind: 'intercept', routing, explanation, identity, intercept: decision.intercept };
        break;
      case 'step_up_required': {
        const spec = explanation.rule.sensitive;
        result = spec && identity.session
          ? { kind: 'step_up_required', routing, explanation, identity, method: decision.action, spec, session: identity.session }
          : { kind: 'deny', routing, explanation, identity, code: 'forbidden' };
        break;
      }
      case 'two_factor_required':
        // During the grace period what cannot show the setup page (an API client, a socket) goes on.
        if (decision.grace && (channel === 'socket' || !wantsHtml(headers))) return { kind: passed, routing, explanation, identity };
        result = deps.mandate && identity.session
          ? { kind: 'two_factor_setup_required', routing, explanation, identity, grace: decision.grace, session: identity.session }
          : { kind: 'deny', routing, explanation, identity, code: '2fa_required' };
        break;
    }
    // Fail closed (THREATS T16): without the store nobody can be recognised, so only what an
    // anonymous visitor may do goes on; anything that needs a session is refused, never guessed.
    // A rule that denies everyone is refused as such: its answer does not depend on who asks.
    return facts.storeDown && decision.kind !== 'deny' ? { kind: 'store_unavailable', routing, explanation, identity } : result;
  }

  return {
    route: (method, rawTarget, host) => route(deps.policy(), deps.guardRoutes, method, rawTarget, host),
    gather,
    knownFacts,
    decide,
  };
}
