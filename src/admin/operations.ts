// Over 300 lines: one method per support action (admin API and CLI alike), each checked and audited the same way.
import type { AuditEvent } from '../audit/audit.ts';
import { forgetRememberedBrowsers } from '../flows/remember-browser.ts';
import { AUDIT_EVENTS, type AuditEventType } from '../config/audit-events.ts';
import { normalisePhone } from '../channels/phone.ts';
import { EMAIL_IDENTITY } from '../directory/identity.ts';
import { maskDestination } from '../flows/second-factor.ts';
import type { Enrollment } from '../store/durable.ts';
import { sessionJson, type ActiveSessions, type UpstreamOutcome } from '../flows/active-sessions.ts';
import {
  actorFields,
  AdminError,
  EMAIL,
  parseAccount,
  parseReason,
  type ActionResult,
  type AdminActor,
  type AdminOperationsDeps,
  type LiveState,
  type UserStatus,
} from './model.ts';
import { accountStatus, knownBy, unknownUser } from './account-status.ts';
import { notifyOwner, ownerAddresses } from './owner-notice.ts';

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

  /** 404 for unknown accounts, 409 for known ones without 2FA. */
  private async enrolled(user: string): Promise<Enrollment> {
    const enrollment = await this.deps.durable.getEnrollment(user);
    if (enrollment) return enrollment;
    if ((await knownBy(this.deps, user, null)).length === 0) throw unknownUser(user);
    throw new AdminError(409, 'not_enrolled', `${user} has no two-factor authentication enabled; there is nothing to change.`);
  }

  private async requireKnown(user: string): Promise<void> {
    const enrollment = await this.deps.durable.getEnrollment(user);
    if ((await knownBy(this.deps, user, enrollment)).length === 0) throw unknownUser(user);
  }

  async status(user: string): Promise<UserStatus> {
    return accountStatus(this.deps, user);
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
    this.recordAdminAction(by, user, reason, { action: 'revoke_remembered_browsers', count });
    return { user, action: 'revoke_remembered_browsers', revoked: count, sessions_revoked: false, notified: false, warnings: [] };
  }

  /** Every support action drops the account's remembered browsers (issue 17). */
  private async forgetBrowsers(user: string, reason: string, by: AdminActor): Promise<void> {
    await forgetRememberedBrowsers(this.deps.remembered, user, reason, {
      ...actorFields(by),
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
    const recipients = await ownerAddresses(this.deps, user, warnings);
    const notified = await notifyOwner(this.deps, recipients, '2fa_reset');
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
    const recipients = await ownerAddresses(this.deps, user, warnings);
    if (enrollment.method === 'email' && enrollment.destination && !recipients.includes(enrollment.destination)) recipients.push(enrollment.destination);
    const notified = await notifyOwner(this.deps, recipients, 'destination_changed', enrollment.method);
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
    this.recordAdminAction(by, user, reason, { action: 'session_revoked', handle: done.handle, upstream: done.upstream });
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


  /** The identifier support gave, canonicalised by this deployment's rules (400 when it cannot be one). */
  parseAccount(raw: unknown): string {
    return parseAccount(raw, this.deps.identity ?? EMAIL_IDENTITY);
  }


  /** The `admin_action` record of what support did, and its log line. */
  private recordAdminAction(by: AdminActor, user: string, reason: string, details: { action: string } & Record<string, string | number | boolean>): void {
    this.deps.audit.record({ event: 'admin_action', outcome: 'success', user, reason, ...actorFields(by), details });
    this.deps.logger.info({ event: 'admin_action', action: details.action, user, actor: by.actor, requestId: by.requestId }, 'admin action');
  }

  /** One `admin_action` record (what support did) and one record of the specific event. */
  private record(by: AdminActor, user: string, reason: string, event: AuditEventType, details: Record<string, string | number | boolean>): void {
    const common = {
      outcome: 'success' as const,
      user,
      reason,
      ...actorFields(by),
    };
    this.deps.audit.record({ ...common, event, details });
    this.deps.audit.record({ ...common, event: 'admin_action', details: { action: event, ...details } });
    this.deps.logger.info({ event: 'admin_action', action: event, user, actor: by.actor, requestId: by.requestId }, 'admin action');
  }
}
