import type { AuditEvent, AuditQuery, AuditRecorder } from '../audit/audit.ts';
import { forgetRememberedBrowsers, type RememberedBrowsers } from '../flows/remember-browser.ts';
import { AUDIT_EVENTS, type AuditEventType } from '../config/audit-events.ts';
import type { Channel } from '../channels/channel.ts';
import { normalisePhone } from '../channels/phone.ts';
import { notificationMessage, type SecurityEvent } from '../channels/templates.tsx';
import { checkIdentifier, EMAIL_IDENTITY, type IdentityRules } from '../directory/identity.ts';
import type { Contacts } from '../directory/index.ts';
import type { Regulation } from '../flows/regulation.ts';
import { maskDestination, type SecondFactor } from '../flows/second-factor.ts';
import type { Logger } from '../observability/logger.ts';
import type { RiskHistoryStore } from '../risk/history.ts';
import type { Clock } from '../core/clock.ts';
import type { SessionService } from '../session/sessions.ts';
import type { DurableStore, Enrollment, FactorMethod } from '../store/durable.ts';
import type { PasskeyStore } from '../factors/passkey/store.ts';
import { LEGACY_ONLY, type OwnerMessageRoute } from '../alerts/owner-message.ts';
import type { AccountGenerations } from '../flows/account-generation.ts';
import { sessionJson, type ActiveSessions, type UpstreamOutcome } from '../flows/active-sessions.ts';

/**
 * What support does for a merchant (DESIGN §3, §5): look up an account's 2FA state, reset 2FA after
 * a lost device, change the phone or address codes go to, end every session, lift lockouts, and read
 * the account's audit trail. The admin HTTP API (src/admin/routes.ts) and the break-glass CLI
 * (src/cli/admin.ts) both call these, so both validate, refuse and audit the same way.
 *
 * Every change needs a reason (kept in the audit record with the actor) and is notified to the
 * account's email, as the user's own factor changes are (THREATS T14).
 *
 * "Known" account: one the sidecar has a record of: a 2FA enrollment, a sign-in in the risk
 * history, an audit event, or (where this process can see it) a lockout or failure counter.
 * The sidecar has no user directory of its own (the upstream app has), so an account that never
 * signed in through it is unknown here, and operations on it answer 404 `unknown_user`.
 */

export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

/** Who is acting, for the audit record: `admin:<token name>` (API) or `cli:<os user>` (CLI). */
export interface AdminActor {
  readonly actor: string;
  readonly requestId?: string;
  readonly client?: string;
}

/**
 * Sessions, bans and lockouts live in the ephemeral store. The service always sees them; the CLI
 * sees them only when that store is shared (Redis), not with the embedded in-memory store.
 */
export interface LiveState {
  readonly sessions: Pick<SessionService, 'revokeUser'>;
  readonly regulation: Pick<Regulation, 'unlock' | 'accountState'>;
  readonly factor: Pick<SecondFactor, 'unlock' | 'lockState'>;
  /** Ends the account's pending sign-ins, 2FA flows and step-ups on every replica (THREATS T18). */
  readonly accounts: Pick<AccountGenerations, 'bump'>;
  /** The account's sessions one by one (the service only: ending one replays the app's logout). */
  readonly activeSessions?: Pick<ActiveSessions, 'list' | 'revoke'>;
}

export interface AdminOperationsDeps {
  readonly durable: DurableStore;
  readonly riskHistory: RiskHistoryStore;
  /** Where admin actions are recorded and audit queries answered. */
  readonly audit: AuditRecorder & AuditQuery;
  /** null: this process cannot reach sessions and bans (see LiveState); `liveUnavailable` says why. */
  readonly live: LiveState | null;
  readonly liveUnavailable?: string;
  /** The email channel security notifications go through. */
  readonly email: Channel;
  readonly smsCountryAllowed: (e164: string) => boolean;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly product: string;
  readonly support: string;
  /** How account identifiers are written (`login.identifier`); default email addresses. */
  readonly identity?: IdentityRules;
  /** Where the account's email address comes from for notifications (the directory). */
  readonly contacts?: Contacts;
  /** Remembered browsers (issue 17): listed in the status, dropped by every support action. */
  readonly remembered?: RememberedBrowsers | undefined;
  /** The accounts' passkeys: a 2FA reset removes them too (they sit on top of the enrollment). */
  readonly passkeys?: Pick<PasskeyStore, 'removeAll'>;
  /**
   * Whether the owner's message about a reset or a destination change is the security alert
   * (src/alerts/owner-message.ts); absent (the CLI, which runs no alert dispatcher): the email notice.
   */
  readonly ownerMessages?: OwnerMessageRoute;
}

export type KnownBy = 'enrollment' | 'sign_in_history' | 'audit' | 'lockout';

export interface UserStatus {
  readonly user: string;
  readonly known_by: KnownBy[];
  readonly two_factor:
    | { readonly enabled: false }
    | {
        readonly enabled: true;
        readonly method: FactorMethod;
        /** The full phone or address, for support to compare with what the merchant says. */
        readonly destination: string | null;
        readonly destination_masked: string | null;
        readonly created_at: string;
        readonly updated_at: string;
        readonly recovery_codes_left: number;
      };
  /** null when this process cannot see lockouts (CLI on the embedded store). */
  readonly lockout: {
    readonly second_factor: {
      readonly locked: boolean;
      readonly consecutive_failures: number;
      readonly locked_for_seconds: number | null;
      readonly banned_for_seconds: number | null;
    };
    readonly login: { readonly banned_for_seconds: number | null; readonly recent_failures: number };
  } | null;
  readonly last_sign_in: { readonly at: string; readonly network: string } | null;
  /** Browsers that skip the sign-in second factor ("remember this browser"); absent when the feature is not wired. */
  readonly remembered_browsers?: RememberedBrowserView[];
}

export interface RememberedBrowserView {
  readonly id: string;
  readonly label: string;
  readonly created_at: string;
  readonly last_used_at: string;
  readonly expires_at: string;
}

export function rememberedBrowserView(r: { id: string; label: string; createdAt: number; lastUsedAt: number; expiresAt: number }): RememberedBrowserView {
  return { id: r.id, label: r.label, created_at: new Date(r.createdAt).toISOString(), last_used_at: new Date(r.lastUsedAt).toISOString(), expires_at: new Date(r.expiresAt).toISOString() };
}

export interface ActionResult {
  readonly user: string;
  readonly action: 'reset_2fa' | 'set_destination' | 'revoke_sessions' | 'revoke_session' | 'unlock' | 'revoke_remembered_browsers';
  /** Whether every session of the account was ended (false only where live state is unreachable). */
  readonly sessions_revoked: boolean;
  /** Whether the account was told by email (false for revoke/unlock, which change no factor). */
  readonly notified: boolean;
  readonly warnings: string[];
  readonly [extra: string]: unknown;
}

const MAX_REASON = 500;
const EMAIL = /^[^\s@"<>()[\]\\,;:]{1,64}@(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/**
 * An account identifier as the sidecar keys it (canonicalised as at sign-in); 400 when it cannot
 * be one. With `login.identifier: username` any sane username is accepted (length, no control
 * characters); the app, not the sidecar, knows which exist.
 */
export function parseAccount(raw: unknown, rules: IdentityRules = EMAIL_IDENTITY): string {
  const checked = checkIdentifier(raw, rules);
  if (!checked.ok) throw new AdminError(400, rules.kind === 'email' ? 'invalid_email' : 'invalid_identifier', checked.message);
  return checked.identity;
}

/** The reason support gives for a change: required, 1 to 500 characters, one line of text. */
export function parseReason(raw: unknown): string {
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) {
    throw new AdminError(400, 'reason_required', 'Give a reason for this change (1 to 500 characters), e.g. the support ticket; it is kept in the audit log.');
  }
  if (typeof raw !== 'string') throw new AdminError(400, 'invalid_reason', 'The reason must be text.');
  const reason = raw.trim();
  if (reason.length > MAX_REASON) throw new AdminError(400, 'invalid_reason', `The reason is too long (${reason.length} characters; at most ${MAX_REASON}).`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(reason)) throw new AdminError(400, 'invalid_reason', 'The reason must be one line of text without control characters.');
  return reason;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const seconds = (ms: number | null): number | null => (ms === null ? null : Math.ceil(ms / 1000));

export class AdminOperations {
  constructor(private readonly deps: AdminOperationsDeps) {}

  /** Whether sessions and lockouts can be changed from here. */
  get canReachLiveState(): boolean {
    return this.deps.live !== null;
  }

  private requireLive(what: string): LiveState {
    if (this.deps.live) return this.deps.live;
    throw new AdminError(
      503,
      'live_state_unavailable',
      `Cannot ${what} here: ${this.deps.liveUnavailable ?? 'sessions and lockouts are not reachable from this process'}.`,
    );
  }

  private async knownBy(user: string, enrollment: Enrollment | null): Promise<KnownBy[]> {
    const found: KnownBy[] = [];
    if (enrollment) found.push('enrollment');
    if ((await this.deps.riskHistory.recentLogins(user, 1)).length > 0) found.push('sign_in_history');
    if ((await this.deps.audit.recent({ user, limit: 1 })).length > 0) found.push('audit');
    const live = this.deps.live;
    if (live) {
      const [factor, login] = await Promise.all([live.factor.lockState(user), live.regulation.accountState(user)]);
      if (factor.consecutiveFailures > 0 || factor.bannedForMs !== null || login.bannedForMs !== null || login.failures > 0) found.push('lockout');
    }
    return found;
  }

  private unknown(user: string): AdminError {
    return new AdminError(
      404,
      'unknown_user',
      `No record of ${user}: no 2FA enrollment, sign-in or audit event. Check the spelling; an account that never signed in through the sidecar is unknown here.`,
    );
  }

  /** 404 for unknown accounts, 409 for known ones without 2FA. */
  private async enrolled(user: string): Promise<Enrollment> {
    const enrollment = await this.deps.durable.getEnrollment(user);
    if (enrollment) return enrollment;
    if ((await this.knownBy(user, null)).length === 0) throw this.unknown(user);
    throw new AdminError(409, 'not_enrolled', `${user} has no two-factor authentication enabled; there is nothing to change.`);
  }

  private async requireKnown(user: string): Promise<void> {
    const enrollment = await this.deps.durable.getEnrollment(user);
    if ((await this.knownBy(user, enrollment)).length === 0) throw this.unknown(user);
  }

  async status(user: string): Promise<UserStatus> {
    const enrollment = await this.deps.durable.getEnrollment(user);
    const knownBy = await this.knownBy(user, enrollment);
    if (knownBy.length === 0) throw this.unknown(user);
    const live = this.deps.live;
    let lockout: UserStatus['lockout'] = null;
    if (live) {
      const [factor, login] = await Promise.all([live.factor.lockState(user), live.regulation.accountState(user)]);
      lockout = {
        second_factor: {
          locked: factor.locked,
          consecutive_failures: factor.consecutiveFailures,
          locked_for_seconds: seconds(factor.lockedForMs),
          banned_for_seconds: seconds(factor.bannedForMs),
        },
        login: { banned_for_seconds: seconds(login.bannedForMs), recent_failures: login.failures },
      };
    }
    const [last] = await this.deps.riskHistory.recentLogins(user, 1);
    return {
      user,
      known_by: knownBy,
      two_factor: enrollment
        ? {
            enabled: true,
            method: enrollment.method,
            destination: enrollment.destination,
            destination_masked: maskDestination(enrollment.method, enrollment.destination),
            created_at: iso(enrollment.createdAt),
            updated_at: iso(enrollment.updatedAt),
            recovery_codes_left: await this.deps.durable.remainingRecoveryCodes(user),
          }
        : { enabled: false },
      lockout,
      last_sign_in: last ? { at: iso(last.at), network: last.network } : null,
      ...(this.deps.remembered ? { remembered_browsers: (await this.deps.remembered.list(user)).map(rememberedBrowserView) } : {}),
    };
  }

  /**
   * Support drops the account's remembered browsers: one (`rawId`) or all. The next sign-in from
   * them asks for the second factor again.
   */
  async revokeRememberedBrowsers(user: string, rawId: unknown, rawReason: unknown, by: AdminActor): Promise<ActionResult> {
    const reason = parseReason(rawReason);
    if (rawId !== undefined && (typeof rawId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(rawId))) {
      throw new AdminError(400, 'invalid_id', 'id must be the id of one remembered browser (as GET /admin/users/{id} lists them), or left out to drop them all.');
    }
    await this.requireKnown(user);
    const remembered = this.deps.remembered;
    if (!remembered) throw new AdminError(503, 'remembered_browsers_unavailable', 'Remembered browsers are not available in this process.');
    const context = { actor: by.actor, reason, ...(by.requestId !== undefined ? { requestId: by.requestId } : {}), ...(by.client !== undefined ? { client: by.client } : {}) };
    let count: number;
    if (rawId !== undefined) {
      if (!(await remembered.revoke(user, rawId, context))) throw new AdminError(404, 'unknown_remembered_browser', `${user} has no remembered browser ${rawId}.`);
      count = 1;
    } else {
      count = await remembered.forgetAll(user, 'admin_revoked', context);
    }
    this.deps.audit.record({
      event: 'admin_action',
      outcome: 'success',
      user,
      reason,
      actor: by.actor,
      ...(by.requestId !== undefined ? { requestId: by.requestId } : {}),
      ...(by.client !== undefined ? { client: by.client } : {}),
      details: { action: 'revoke_remembered_browsers', count },
    });
    this.deps.logger.info({ event: 'admin_action', action: 'revoke_remembered_browsers', user, actor: by.actor, requestId: by.requestId }, 'admin action');
    return { user, action: 'revoke_remembered_browsers', revoked: count, sessions_revoked: false, notified: false, warnings: [] };
  }

  /** Every support action drops the account's remembered browsers (issue 17). */
  private async forgetBrowsers(user: string, reason: string, by: AdminActor): Promise<void> {
    await forgetRememberedBrowsers(this.deps.remembered, user, reason, {
      actor: by.actor,
      ...(by.requestId !== undefined ? { requestId: by.requestId } : {}),
      ...(by.client !== undefined ? { client: by.client } : {}),
    });
  }

  /**
   * Lost device: 2FA is turned off (enrollment, recovery codes and used TOTP steps removed), every
   * session ends, the second-factor lockout is lifted, and the account is told by email. The
   * merchant then signs in with the password and sets 2FA up again.
   */
  async resetTwoFactor(user: string, rawReason: unknown, by: AdminActor): Promise<ActionResult> {
    const reason = parseReason(rawReason);
    const enrollment = await this.enrolled(user);
    await this.deps.durable.disable(user);
    await this.forgetBrowsers(user, 'admin_2fa_reset', by);
    const passkeysRemoved = (await this.deps.passkeys?.removeAll(user)) ?? 0;
    const warnings: string[] = [];
    // A sign-in waiting for a code of the old factor ends instead of completing on the password alone.
    await this.endFlows(user);
    const revoked = await this.revokeIfReachable(user, warnings);
    if (this.deps.live) await this.deps.live.factor.unlock(user);
    const recipients = await this.addressesOf(user, warnings);
    const notified = await this.notify(recipients, '2fa_reset');
    if (!notified && recipients.length > 0) warnings.push('the email notification could not be sent (see the log)');
    this.record(by, user, reason, '2fa_reset', { method: enrollment.method, ...(passkeysRemoved > 0 ? { passkeys_removed: passkeysRemoved } : {}) });
    return { user, action: 'reset_2fa', previous_method: enrollment.method, sessions_revoked: revoked, notified, warnings };
  }

  /** A new phone (sms, E.164 and the SMS country allow-list) or address (email) for the account's codes. */
  async setDestination(user: string, rawDestination: unknown, rawReason: unknown, by: AdminActor): Promise<ActionResult> {
    const reason = parseReason(rawReason);
    if (typeof rawDestination !== 'string' || rawDestination.trim() === '') {
      throw new AdminError(400, 'destination_required', 'Give the new destination: a phone number in international form (+15555550123) for SMS, or an email address for email codes.');
    }
    const enrollment = await this.enrolled(user);
    let destination: string;
    if (enrollment.method === 'totp') {
      throw new AdminError(
        409,
        'no_destination',
        `${user} uses an authenticator app (TOTP): codes are not sent anywhere, so there is no destination to change. If the merchant lost the device, reset 2FA instead.`,
      );
    } else if (enrollment.method === 'sms') {
      const phone = normalisePhone(rawDestination);
      if (!phone) {
        throw new AdminError(400, 'invalid_phone', 'The phone number must be in international form with its country code, e.g. +15555550123.');
      }
      if (!this.deps.smsCountryAllowed(phone.e164)) {
        throw new AdminError(400, 'country_not_allowed', `Text messages cannot be sent to numbers in ${phone.country} (not in factors.sms_countries).`);
      }
      destination = phone.e164;
    } else {
      const address = rawDestination.trim();
      if (!EMAIL.test(address)) throw new AdminError(400, 'invalid_destination', 'The destination must be an email address such as merchant@example.com.');
      destination = address.toLowerCase();
    }
    if (!(await this.deps.durable.setDestination(user, destination, this.deps.clock.now()))) {
      throw new AdminError(409, 'not_enrolled', `${user} turned two-factor authentication off meanwhile; nothing was changed.`);
    }
    await this.forgetBrowsers(user, 'admin_destination_changed', by);
    const warnings: string[] = [];
    // Sign-ins and flows waiting for a code end too: none may send another one to the old destination.
    await this.endFlows(user);
    // A changed factor ends every session (ASVS 5.0 7.4.3): whoever holds one signed in with the old one.
    const revoked = await this.revokeIfReachable(user, warnings);
    // The account's address is told, and for email codes also the old address, which stops receiving them.
    const recipients = await this.addressesOf(user, warnings);
    if (enrollment.method === 'email' && enrollment.destination && !recipients.includes(enrollment.destination)) recipients.push(enrollment.destination);
    const notified = await this.notify(recipients, 'destination_changed', enrollment.method);
    if (!notified && recipients.length > 0) warnings.push('the email notification could not be sent (see the log)');
    this.record(by, user, reason, 'destination_changed', {
      method: enrollment.method,
      from: maskDestination(enrollment.method, enrollment.destination) ?? '',
      to: maskDestination(enrollment.method, destination) ?? '',
    });
    return {
      user,
      action: 'set_destination',
      method: enrollment.method,
      destination,
      destination_masked: maskDestination(enrollment.method, destination),
      sessions_revoked: revoked,
      notified,
      warnings,
    };
  }

  /** Ends every session of the account, on every replica (the session generation is raised). */
  async revokeSessions(user: string, rawReason: unknown, by: AdminActor): Promise<ActionResult> {
    const reason = parseReason(rawReason);
    const live = this.requireLive('end sessions');
    await this.requireKnown(user);
    await live.accounts.bump(user);
    await live.sessions.revokeUser(user);
    await this.forgetBrowsers(user, 'admin_sessions_revoked', by);
    this.record(by, user, reason, 'sessions_revoked', {});
    return { user, action: 'revoke_sessions', sessions_revoked: true, notified: false, warnings: [] };
  }

  private requireActiveSessions(what: string): Pick<ActiveSessions, 'list' | 'revoke'> {
    const live = this.requireLive(what);
    if (live.activeSessions) return live.activeSessions;
    throw new AdminError(503, 'live_state_unavailable', `Cannot ${what} here: only the running service sees sessions one by one (use the admin API).`);
  }

  /** The account's live sessions (the same list the user sees on Login & Security). */
  async sessions(user: string): Promise<{ user: string; sessions: Array<Record<string, unknown>> }> {
    const active = this.requireActiveSessions('list sessions');
    await this.requireKnown(user);
    const views = await active.list(user);
    return { user, sessions: views.map((v) => { const { current: _current, ...rest } = sessionJson(v); return rest; }) };
  }

  /**
   * Ends one session of the account by its handle, on every replica, and replays the app's logout
   * with the cookies that session held; the answer says whether the app confirmed it.
   */
  async revokeSession(user: string, handle: string, rawReason: unknown, by: AdminActor): Promise<ActionResult & { handle: string; upstream: UpstreamOutcome }> {
    const reason = parseReason(rawReason);
    const active = this.requireActiveSessions('end a session');
    await this.requireKnown(user);
    const done = await active.revoke(user, handle, {
      requestId: by.requestId ?? '',
      actor: by.actor,
      reason,
      ...(by.client !== undefined ? { client: by.client } : {}),
    });
    if (!done) throw new AdminError(404, 'session_not_found', 'This account has no live session with that handle (GET /admin/users/{account}/sessions lists them).');
    // A support action: like every other, it drops the account's remembered browsers.
    await this.forgetBrowsers(user, 'admin_session_revoked', by);
    const warnings = done.upstream === 'not_confirmed' ? ['the sidecar session ended, but the app did not confirm that its own session ended (see the audit log)'] : [];
    this.deps.audit.record({
      event: 'admin_action',
      outcome: 'success',
      user,
      reason,
      actor: by.actor,
      ...(by.requestId !== undefined ? { requestId: by.requestId } : {}),
      ...(by.client !== undefined ? { client: by.client } : {}),
      details: { action: 'session_revoked', handle: done.handle, upstream: done.upstream },
    });
    this.deps.logger.info({ event: 'admin_action', action: 'session_revoked', user, actor: by.actor, requestId: by.requestId }, 'admin action');
    return { user, action: 'revoke_session', handle: done.handle, upstream: done.upstream, sessions_revoked: false, notified: false, warnings };
  }

  /**
   * Lifts the account's lockouts: the second-factor lock after consecutive wrong codes, the
   * second-factor and password failure counters and their growing bans. Per-address bans stay:
   * they protect every account from one attacker.
   */
  async unlock(user: string, rawReason: unknown, by: AdminActor): Promise<ActionResult> {
    const reason = parseReason(rawReason);
    const live = this.requireLive('lift lockouts');
    await this.requireKnown(user);
    const [factor, login] = await Promise.all([live.factor.lockState(user), live.regulation.accountState(user)]);
    await live.factor.unlock(user);
    await live.regulation.unlock(user);
    await live.accounts.bump(user);
    await this.forgetBrowsers(user, 'admin_unlock', by);
    const was = {
      second_factor_locked: factor.locked,
      consecutive_failures: factor.consecutiveFailures,
      second_factor_banned: factor.bannedForMs !== null,
      login_banned: login.bannedForMs !== null,
    };
    this.record(by, user, reason, 'unlocked', was);
    return { user, action: 'unlock', was, sessions_revoked: false, notified: false, warnings: [] };
  }

  /** Audit events, newest first: of one account, or of everyone when `user` is absent. */
  async auditEvents(filter: { user?: string; event?: string; since?: number; limit?: number }): Promise<AuditEvent[]> {
    const limit = filter.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new AdminError(400, 'invalid_limit', 'limit must be a whole number from 1 to 1000.');
    if (filter.event !== undefined && !(AUDIT_EVENTS as readonly string[]).includes(filter.event)) {
      throw new AdminError(400, 'invalid_event', `event must be one of: ${AUDIT_EVENTS.join(', ')}.`);
    }
    if (filter.since !== undefined && !Number.isFinite(filter.since)) throw new AdminError(400, 'invalid_since', 'since must be an ISO 8601 time such as 2026-11-26T10:00:00Z.');
    return this.deps.audit.recent({
      limit,
      ...(filter.user !== undefined ? { user: filter.user } : {}),
      ...(filter.event !== undefined ? { event: filter.event as AuditEventType } : {}),
      ...(filter.since !== undefined ? { since: filter.since } : {}),
    });
  }

  /**
   * Replaces the account's generation where the ephemeral store is reachable. Where it is not (the
   * CLI beside a service on the embedded store), the flows still end: each one also checks the
   * durable enrollment it was decided on, which this change has just replaced.
   */
  private async endFlows(user: string): Promise<void> {
    if (this.deps.live) await this.deps.live.accounts.bump(user);
  }

  private async revokeIfReachable(user: string, warnings: string[]): Promise<boolean> {
    if (!this.deps.live) {
      warnings.push(`sessions were not ended: ${this.deps.liveUnavailable ?? 'sessions are not reachable from this process'}`);
      return false;
    }
    await this.deps.live.sessions.revokeUser(user);
    return true;
  }

  /**
   * The account's own address for a notification: from the directory (support has no upstream
   * session, so only kinds that need none answer), else the identifier when it is an address.
   */
  private async addressesOf(user: string, warnings: string[]): Promise<string[]> {
    const contact = this.deps.contacts ? await this.deps.contacts.of(user, { upstreamCookies: {} }) : null;
    const email = contact ? (contact.ok ? contact.email : null) : (this.deps.identity ?? EMAIL_IDENTITY).kind === 'email' ? user : null;
    if (email === null) warnings.push('no email address is known for this account (directory), so it was not told by email');
    return email === null ? [] : [email];
  }

  /** The identifier support gave, canonicalised by this deployment's rules (400 when it cannot be one). */
  parseAccount(raw: unknown): string {
    return parseAccount(raw, this.deps.identity ?? EMAIL_IDENTITY);
  }

  private async notify(recipients: readonly string[], event: SecurityEvent, method?: FactorMethod): Promise<boolean> {
    if (recipients.length === 0) return false;
    // One message per event: when the support_action alert covers it, the alert (queued from the
    // audit record) is the message; `notified` then says the owner's message was handed to it.
    if ((this.deps.ownerMessages ?? LEGACY_ONLY)(event) === 'alert') return true;
    const message = notificationMessage({
      event,
      ...(method ? { method } : {}),
      time: new Date(this.deps.clock.now()),
      product: this.deps.product,
      support: this.deps.support,
    });
    let all = true;
    for (const to of recipients) {
      try {
        await this.deps.email.send({ kind: 'email', to, subject: message.subject, text: message.text, html: message.html, purpose: 'notification' });
      } catch (error) {
        // The change stands; a lost notification is logged for support rather than undoing it.
        this.deps.logger.error({ err: error, user: recipients[0], event }, 'security notification could not be sent');
        all = false;
      }
    }
    return all;
  }

  /** One `admin_action` record (what support did) and one record of the specific event. */
  private record(by: AdminActor, user: string, reason: string, event: AuditEventType, details: Record<string, string | number | boolean>): void {
    const common = {
      outcome: 'success' as const,
      user,
      reason,
      actor: by.actor,
      ...(by.requestId !== undefined ? { requestId: by.requestId } : {}),
      ...(by.client !== undefined ? { client: by.client } : {}),
    };
    this.deps.audit.record({ ...common, event, details });
    this.deps.audit.record({ ...common, event: 'admin_action', details: { action: event, ...details } });
    this.deps.logger.info({ event: 'admin_action', action: event, user, actor: by.actor, requestId: by.requestId }, 'admin action');
  }
}
