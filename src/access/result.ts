import type { Explanation, InterceptKind, SensitiveSpec } from '../policy/types.ts';
import type { SessionRecord } from '../session/sessions.ts';
import type { Identity } from './ports.ts';
import type { Routing } from './routing.ts';

/**
 * The one answer of the access decision (access/decide.ts). Entries (src/entry/) only translate
 * it: the proxy forwards or answers, a websocket upgrade proceeds or is refused, forward-auth
 * tells its ingress; none of them decides anything again.
 */

export type Routed = Extract<Routing, { kind: 'routed' }>;

/** What every decided result carries: the request's rule, why, and who asked. */
interface Decided {
  readonly routing: Routed;
  readonly explanation: Explanation;
  readonly identity: Identity;
}

export type StepUpMethod = 'email_code' | 'fresh_code' | 'phishing_resistant';

export type AccessResult =
  /** 400: the target or Host is ambiguous or invalid; 421: a host the policy does not serve. */
  | Extract<Routing, { kind: 'reject' }>
  /** One of the sidecar's own routes, decided only when it reaches them (forward-auth; sockets have none). */
  | { readonly kind: 'sidecar_route' }
  /** To the upstream. */
  | (Decided & { readonly kind: 'forward' })
  /** To the sidecar's own route handler. */
  | (Decided & { readonly kind: 'own_route' })
  | (Decided & { readonly kind: 'login_required'; readonly loginUrl: string })
  /** The app's own login or logout route: the sidecar's flow takes over. */
  | (Decided & { readonly kind: 'intercept'; readonly intercept: InterceptKind })
  /** A fresh verification is owed for the rule's category; `method` constrains how (a passkey for phishing_resistant). */
  | (Decided & { readonly kind: 'step_up_required'; readonly method: StepUpMethod; readonly spec: SensitiveSpec; readonly session: SessionRecord })
  /** require_2fa: set up 2FA first; `grace`: "Not now" is still possible. */
  | (Decided & { readonly kind: 'two_factor_setup_required'; readonly grace: boolean; readonly session: SessionRecord })
  | (Decided & { readonly kind: 'deny'; readonly code: 'forbidden' | '2fa_required' })
  /** Fail closed (THREATS T16): the store could not say who this is, and the rule needs to know. */
  | (Decided & { readonly kind: 'store_unavailable' });

export type DecidedResult = Extract<AccessResult, Decided>;
