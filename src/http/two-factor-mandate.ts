import type { Context } from 'koa';
import type { AuditRecorder } from '../audit/audit.ts';
import type { Logger } from '../observability/logger.ts';
import type { CompiledPolicy, UserState } from '../policy/types.ts';
import { graceStatus, type GraceStatus, type RequireTwoFactorSpec } from '../policy/require-two-factor.ts';
import type { CanonicalTarget } from '../proxy/canonical-target.ts';
import type { SessionRecord } from '../session/sessions.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import type { GraceStore } from '../store/grace.ts';
import type { DurableStore } from '../store/durable.ts';
import { hasAnyFactor } from '../flows/factors.ts';
import type { Identity } from '../access/ports.ts';
import type { GuardState } from './guard-http.ts';
import type { Clock } from '../core/clock.ts';
import { sendError, wantsHtml, redirect } from './answer.ts';

/**
 * `require_2fa` over HTTP (issue 17; the policy side is src/policy/require-two-factor.ts):
 *
 * - the enforcement point asks `userState` for a signed-in user without 2FA on a covered rule, and
 *   gets `twoFactorGrace`: prompt (grace open, not asked in this session), skipped ("Not now" was
 *   chosen in this session), over, or exempt (the account has none of the listed roles);
 * - `answer` turns a `two_factor_required` decision into the response: pages go (303) to the
 *   "Your organisation requires two-step verification" page; API clients pass while the grace
 *   period lasts and get `403 {error: "2fa_required", enable_url}` once it is over — never the
 *   upstream;
 * - the page itself (`/_guard/two-factor-required`, src/http/required-two-factor.ts): "Set up now" opens the enable flow on Login &
 *   Security (which comes back to `return_to` afterwards) and, while the grace period lasts, a
 *   "Not now" form (POST, CSRF) counts one skip, durably and atomically, and lets this session on.
 *
 * The first prompt of an account is recorded when the page is first owed (the day limit counts from
 * it). Every store failure fails closed (the enforcement point answers 503).
 */

export const REQUIRED_PAGE = '/_guard/two-factor-required';
export const ENABLE_PAGE = '/_guard/security/enable';
/** "Not now" lets the session on for this long at most (sessions are shorter: NIST AAL2 12 h). */
const SKIP_TTL_MS = 24 * 3_600_000;
const skipKey = (sid: string): string => `req2fa-skip:${sid}`;
const rolesKey = (sid: string): string => `req2fa-roles:${sid}`;
/** Roles looked up in the directory are reused by a session for this long. */
const ROLES_TTL_MS = 5 * 60_000;

export const enableUrlFor = (returnTo: string): string => `${ENABLE_PAGE}?return_to=${encodeURIComponent(returnTo)}`;
const requiredPageFor = (returnTo: string): string => `${REQUIRED_PAGE}?return_to=${encodeURIComponent(returnTo)}`;

/** An account's roles/groups as the directory gives them (lower-cased), or 'unknown' (lookup failed). */
export type RolesOf = (session: SessionRecord, requestId: string) => Promise<readonly string[] | 'unknown'>;

export interface RequiredTwoFactorDeps {
  readonly policy: () => CompiledPolicy;
  readonly grace: GraceStore;
  readonly durable: DurableStore;
  readonly store: EphemeralStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly audit?: AuditRecorder;
  /** Needed only when the policy lists roles (start refuses a role filter without it). */
  readonly rolesOf?: RolesOf;
}

/** Where an account stands with the mandate now (the page and the API show it). */
export interface Standing {
  readonly required: boolean;
  readonly enabled: boolean;
  readonly exempt: boolean;
  readonly grace: GraceStatus | null;
  readonly skippedThisSession: boolean;
}

export interface RequiredTwoFactor {
  /** The user state a covered rule is decided with (only called for a session without 2FA). */
  userState(identity: Identity, user: UserState, requestId: string): Promise<UserState>;
  /**
   * Answers a `two_factor_required` decision; returns true when the request may go on to the
   * upstream instead (an API client during the grace period).
   */
  answer(ctx: Context, identity: Identity, grace: boolean, target: CanonicalTarget): Promise<boolean>;
  /** Where the account stands with the mandate now. */
  standing(session: SessionRecord, requestId: string): Promise<Standing>;
  /** The mandate covers this account (its last factor may not be removed). */
  isRequired(session: SessionRecord, requestId: string): Promise<boolean>;
  /** 2FA was turned on: while a mandate stands, the account's grace period ends for good. */
  enabled(user: string, now: number): Promise<void>;
  /** One "Not now" (the page's form, the API's skip): counted durably, never past the limit. */
  skip(session: SessionRecord, requestId: string, client: string): Promise<Skipped>;
}

export type Skipped = { ok: true; skipsLeft: number | null; daysLeft: number | null } | { ok: false };

export function createRequiredTwoFactor(deps: RequiredTwoFactorDeps): RequiredTwoFactor {
  const { grace: graceStore, store, clock } = deps;

  const spec = (): RequireTwoFactorSpec | null => deps.policy().requireTwoFactor ?? null;

  /** Whether the account is outside the role filter; lookup failures count as inside (fail closed). */
  async function exempt(mandate: RequireTwoFactorSpec, session: SessionRecord, requestId: string): Promise<boolean> {
    if (mandate.roles === null) return false;
    let roles: readonly string[] | 'unknown' = 'unknown';
    const cached = await store.get(rolesKey(session.id));
    if (cached !== null) roles = JSON.parse(cached) as string[];
    else if (deps.rolesOf) {
      roles = await deps.rolesOf(session, requestId);
      if (roles !== 'unknown') await store.set(rolesKey(session.id), JSON.stringify(roles), ROLES_TTL_MS);
    }
    if (roles === 'unknown') return false;
    return !roles.some((role) => mandate.roles!.includes(role.toLowerCase()));
  }

  async function standing(session: SessionRecord, requestId: string): Promise<Standing> {
    const mandate = spec();
    const enabled = await hasAnyFactor(deps.durable, session.user);
    if (!mandate) return { required: false, enabled, exempt: false, grace: null, skippedThisSession: false };
    if (await exempt(mandate, session, requestId)) return { required: false, enabled, exempt: true, grace: null, skippedThisSession: false };
    const record = await graceStore.get(session.user);
    const status: GraceStatus = record?.endedAt != null ? { open: false, reason: 'no_grace' } : graceStatus(mandate.grace, record, clock.now());
    const skipped = status.open && (await store.get(skipKey(session.id))) !== null;
    return { required: true, enabled, exempt: false, grace: status, skippedThisSession: skipped };
  }

  const userState: RequiredTwoFactor['userState'] = async (identity, user, requestId) => {
    const session = identity.session;
    if (!session || user.twoFactorEnabled === true) return user;
    const mandate = spec();
    if (!mandate) return { ...user, twoFactorGrace: 'exempt' };
    if (await exempt(mandate, session, requestId)) return { ...user, twoFactorGrace: 'exempt' };
    const record = await graceStore.get(session.user);
    if (record?.endedAt != null) return { ...user, twoFactorGrace: 'over' };
    const status = graceStatus(mandate.grace, record, clock.now());
    const skipped = (await store.get(skipKey(session.id))) !== null;
    // The session that used the last skip goes on (that skip was allowed); a deadline or the day
    // limit ends every session's grace at once.
    if (!status.open) return { ...user, twoFactorGrace: skipped && status.reason === 'skips' ? 'skipped' : 'over' };
    return { ...user, twoFactorGrace: skipped ? 'skipped' : 'prompt' };
  };

  const answer: RequiredTwoFactor['answer'] = async (ctx, identity, grace, target) => {
    const session = identity.session;
    if (!session) {
      sendError(ctx, 403, 'forbidden', 'You do not have access to this page.');
      return false;
    }
    const html = wantsHtml(ctx.req.headers);
    // API clients cannot show the page: during the grace period they go on, as before the mandate.
    if (grace && !html) return true;
    // The day limit counts from the first time the account is shown the page.
    await graceStore.prompted(session.user, clock.now());
    const requestId = (ctx.state as GuardState).requestId;
    deps.logger.info({ event: '2fa_required', user: session.user, grace, path: target.path, requestId }, 'two-step verification required by policy');
    if (html) {
      redirect(ctx, requiredPageFor(target.forwarded));
      return false;
    }
    sendError(ctx, 403, '2fa_required', 'Your organisation requires two-step verification (2FA) here. Set it up on Login & Security, then try again.', {
      enable_url: enableUrlFor(target.forwarded),
    });
    return false;
  };

  /** One "Not now": counted durably (never past the limit), then this session goes on. */
  async function skip(session: SessionRecord, requestId: string, client: string): Promise<Skipped> {
    const mandate = spec();
    if (!mandate) return { ok: true, skipsLeft: null, daysLeft: null };
    if (await hasAnyFactor(deps.durable, session.user)) return { ok: true, skipsLeft: null, daysLeft: null };
    if (await exempt(mandate, session, requestId)) return { ok: true, skipsLeft: null, daysLeft: null };
    const now = clock.now();
    const before = await graceStore.get(session.user);
    if (before?.endedAt != null || !graceStatus(mandate.grace, before, now).open) return { ok: false };
    const counted = await graceStore.skip(session.user, now, mandate.grace.skips);
    if (!counted.ok) return { ok: false };
    const after = graceStatus(mandate.grace, counted.record, now);
    await store.set(skipKey(session.id), '1', SKIP_TTL_MS);
    deps.logger.info({ event: '2fa_required_skipped', user: session.user, skips: counted.record.skips, requestId }, '"Not now" chosen on the required two-step verification page');
    deps.audit?.record({
      event: '2fa_required_skipped',
      outcome: 'success',
      user: session.user,
      client,
      requestId,
      details: { skips: counted.record.skips },
    });
    // The skip just counted may have used the last one: this session still goes on (it was allowed).
    return { ok: true, skipsLeft: after.open ? after.skipsLeft : 0, daysLeft: after.open ? after.daysLeft : null };
  }

  const isRequired: RequiredTwoFactor['isRequired'] = async (session, requestId) => {
    const mandate = spec();
    return mandate !== null && !(await exempt(mandate, session, requestId));
  };

  const enabled: RequiredTwoFactor['enabled'] = async (user, now) => {
    if (spec() !== null) await graceStore.end(user, now);
  };

  return { userState, answer, standing, isRequired, enabled, skip };
}
