import { fromContext, type AuditContext } from '../audit/audit.ts';
import type { Enrollment, FactorMethod } from '../store/durable.ts';
import type { SendResult, SendState } from './second-factor.ts';
import { Contacts } from '../directory/index.ts';
import { EMAIL_IDENTITY } from '../directory/identity.ts';
import { factorState } from './account-generation.ts';
import { attemptContext, PENDING, type Authenticated, type LoginAttempt, type LoginFlowDeps, type LoginResult, type PendingLogin, type PendingLookup, type Presenter } from './login-types.ts';

/**
 * The sign-in between its steps: the pending login kept server-side (started, looked up, ended
 * when the account changed meanwhile, THREATS T18), the code sent for it, a remembered browser
 * standing in for the second step (issue 17), and the session made when every step has passed.
 */
export class PendingLogins {
  protected readonly contacts: Contacts;
  constructor(protected readonly deps: LoginFlowDeps) {
    this.contacts = deps.contacts ?? new Contacts(null, deps.identity ?? EMAIL_IDENTITY, deps.logger);
  }

  /**
   * The sign-in second factor skipped for a remembered browser (issue 17): the password's
   * fingerprint is checked first (another password drops every remembered browser), then the
   * browser's record (device, factors, expiry, secret), then the risk of this sign-in (high risk
   * drops the record and the code is asked). 'none': no cookie (or the feature is off).
   */
  protected async rememberedSignIn(
    user: string,
    passwordAt: number,
    generation: string,
    enrollment: Enrollment,
    check: { setCookies: readonly string[]; upstreamCookies: Record<string, string> },
    input: LoginAttempt,
    context: AuditContext,
  ): Promise<{ kind: 'authenticated'; result: Authenticated } | { kind: 'none' } | { kind: 'refused'; clear: boolean }> {
    const remembered = this.deps.remembered;
    if (!remembered) return { kind: 'none' };
    try {
      await remembered.passwordAccepted(user, input.password, context);
      if (!remembered.enabled || input.rememberCookie === undefined || input.rememberCookie === '') return { kind: 'none' };
      // The policy's remember_browser (read now: a reload applies from the next sign-in). A
      // refusal keeps the record and the cookie: they serve again when the policy allows.
      const allowance = remembered.allowance(input.returnTo, input.client.hostname);
      if (!allowance.allowed) {
        this.deps.logger.info({ event: 'remembered_browser_refused', user, reason: allowance.reason, requestId: input.requestId }, 'remembered browser not honoured by the policy; second factor asked');
        return { kind: 'refused', clear: false };
      }
      const factors = factorState(enrollment) as string;
      const found = await remembered.check({ user, cookie: input.rememberCookie, deviceId: this.deps.risk.deviceId(input.deviceCookie), factors, days: allowance.days, context });
      if (!found.ok) {
        this.deps.logger.info({ event: 'remembered_browser_refused', user, reason: found.reason, requestId: input.requestId }, 'remembered browser not accepted; second factor asked');
        // An unknown id may be another account's remembered browser (one cookie per browser): kept.
        return { kind: 'refused', clear: found.reason !== 'unknown' && found.reason !== 'policy_window' };
      }
      const assessment = await this.deps.risk.assess({ user, deviceCookie: input.deviceCookie, clientAddress: input.client.address, userAgent: input.userAgent ?? '', context });
      if (assessment.level === 'high') {
        await remembered.drop(user, found.record.id, 'high_risk', context);
        return { kind: 'refused', clear: true };
      }
      const cookie = await remembered.use(found.record, input.userAgent ?? '', context);
      if (cookie === null) return { kind: 'refused', clear: false };
      const result = await this.complete(
        user,
        passwordAt,
        { at: found.record.verifiedAt, method: enrollment.method },
        check.setCookies,
        check.upstreamCookies,
        input,
        true,
        // As for a code: a change of the account racing with this sign-in ends it.
        async () => (await this.deps.generations.isCurrent(user, generation)) && factorState(await this.deps.durable.getEnrollment(user)) === factors,
      );
      if (!result) return { kind: 'refused', clear: false };
      this.deps.logger.info({ event: 'login_success', user, via: 'remembered_browser', client: input.client.address, requestId: input.requestId }, 'login succeeded on a remembered browser');
      this.deps.audit.record({ event: 'login_success', outcome: 'success', user, reason: '2fa', ...fromContext(context, { factors: 'password+remembered_browser', risk_level: assessment.level }) });
      return { kind: 'authenticated', result: { ...result, rememberCookie: cookie } };
    } catch (error) {
      // Fail closed: a store that cannot say means the second factor is asked.
      this.deps.logger.error({ err: error, user, requestId: input.requestId }, 'could not check the remembered browser; second factor asked');
      return { kind: 'refused', clear: false };
    }
  }

  /** Remembers the browser after a verified 2FA sign-in, when asked and allowed; the cookie value or null. */
  protected async rememberAfterVerify(pending: PendingLogin, done: Authenticated, presenter: Presenter, context: AuditContext, returnTo: string | undefined): Promise<string | null> {
    const remembered = this.deps.remembered;
    if (!remembered?.enabled || pending.reason !== '2fa' || pending.factors === null) return null;
    // The policy in force now (remember_browser): off, excepted for where this sign-in returns, or fewer days.
    const allowance = remembered.allowance(returnTo, presenter.client.hostname);
    if (!allowance.allowed) {
      this.deps.logger.info({ event: 'remember_browser_not_allowed', user: pending.user, reason: allowance.reason, requestId: presenter.requestId }, 'remember this browser asked for, but the policy does not allow it');
      return null;
    }
    const deviceId = this.deps.risk.deviceId(done.deviceCookie ?? presenter.deviceCookie);
    if (deviceId === null) return null;
    try {
      return await remembered.issue({
        user: pending.user,
        deviceId,
        userAgent: presenter.userAgent ?? '',
        factors: pending.factors,
        verifiedAt: done.session.factors.secondFactor ?? this.deps.clock.now(),
        days: allowance.days,
        context,
      });
    } catch (error) {
      this.deps.logger.error({ err: error, user: pending.user }, 'could not remember the browser; the sign-in stands');
      return null;
    }
  }

  protected async startPending(fields: Omit<PendingLogin, 'id'>, presenter: Presenter): Promise<LoginResult> {
    const pending: PendingLogin = { id: this.deps.random.bytes(32).toString('base64url'), ...fields };
    await this.deps.store.set(PENDING(pending.id), JSON.stringify(pending), this.deps.pendingMs);
    this.deps.logger.info({ event: 'login_password_ok', user: pending.user, reason: pending.reason, method: pending.method }, 'password accepted; verification required');
    this.deps.audit.record({
      event: 'login_verification_required',
      outcome: 'info',
      user: pending.user,
      reason: pending.reason,
      ...fromContext(attemptContext(presenter, pending.loginId), { method: pending.method }),
    });
    const send = await this.sendIfNeeded(pending, presenter);
    return {
      kind: 'verification_required',
      reason: pending.reason,
      pendingId: pending.id,
      method: pending.method,
      destination: this.deps.factor.describe(pending.method, pending.destination),
      send,
    };
  }

  protected async sendIfNeeded(pending: PendingLogin, presenter: Pick<Presenter, 'client' | 'requestId' | 'userAgent'>): Promise<SendResult | null> {
    if (!this.deps.factor.sends(pending.method) || pending.destination === null) return null;
    return this.deps.factor.sendCode({
      flowKey: `login:${pending.id}`,
      method: pending.method,
      destination: pending.destination,
      account: pending.user,
      clientAddress: presenter.client.address,
      purpose: pending.reason === 'risk' ? 'risk' : 'login',
      context: attemptContext(presenter, pending.loginId),
    });
  }

  protected complete(user: string, passwordAt: number, second: { at: number; method: FactorMethod } | null, upstreamSetCookies: readonly string[], upstreamCookies: Record<string, string>, presenter: Presenter, verified: boolean): Promise<Authenticated>;
  protected complete(user: string, passwordAt: number, second: { at: number; method: FactorMethod } | null, upstreamSetCookies: readonly string[], upstreamCookies: Record<string, string>, presenter: Presenter, verified: boolean, stillValid: () => Promise<boolean>): Promise<Authenticated | null>;
  protected async complete(
    user: string,
    passwordAt: number,
    second: { at: number; method: FactorMethod } | null,
    upstreamSetCookies: readonly string[],
    upstreamCookies: Record<string, string>,
    presenter: Presenter,
    /** A code was verified in this sign-in (2FA or the risk email code). */
    verified: boolean,
    /**
     * Asked once the session exists; false ends it again. A change of the account racing with this
     * sign-in shows here, or, when it is one that ends sessions, it ends this one too: such changes
     * revoke the user's sessions after replacing the generation.
     */
    stillValid?: () => Promise<boolean>,
  ): Promise<Authenticated | null> {
    const { record, cookieValue } = await this.deps.sessions.create({
      user,
      factors: second ? { password: passwordAt, secondFactor: second.at } : { password: passwordAt },
      upstreamCookies,
      twoFactor: second?.method ?? null,
      origin: { userAgent: presenter.userAgent, address: presenter.client.address },
    });
    if (stillValid && !(await stillValid())) {
      await this.deps.sessions.revoke(record.id);
      return null;
    }
    // Only a sign-in that proved more than the password makes this browser a known device and its
    // network a known one: a stolen password alone must not build up a trusted history.
    const deviceCookie = verified
      ? await this.deps.risk.verifiedLogin({
          user,
          deviceCookie: presenter.deviceCookie,
          clientAddress: presenter.client.address,
          userAgent: presenter.userAgent ?? '',
        })
      : null;
    return { kind: 'authenticated', session: record, cookieValue, upstreamSetCookies, deviceCookie };
  }

  async pending(pendingId: string | undefined): Promise<PendingLogin | null> {
    if (!pendingId || pendingId.length > 64) return null;
    const raw = await this.deps.store.get(PENDING(pendingId));
    return raw ? (JSON.parse(raw) as PendingLogin) : null;
  }

  /**
   * The account as this pending login needs it to be: the same generation and the same enrollment
   * it was decided on. Returns the current enrollment, or null when the sign-in is stale.
   */
  protected async stillCurrent(pending: PendingLogin): Promise<{ enrollment: Enrollment | null } | null> {
    const [current, enrollment] = await Promise.all([
      this.deps.generations.isCurrent(pending.user, pending.generation),
      this.deps.durable.getEnrollment(pending.user),
    ]);
    if (!current || pending.factors === undefined || factorState(enrollment) !== pending.factors) return null;
    return { enrollment };
  }

  /** Ends a pending login that the account's change made stale; audited, told to the person. */
  protected async endStale(pending: PendingLogin, presenter: Pick<Presenter, 'client' | 'requestId' | 'userAgent'>, stage: string): Promise<{ kind: 'account_changed' }> {
    await this.deps.store.delete(PENDING(pending.id));
    await this.deps.factor.discardCode(`login:${pending.id}`);
    this.deps.logger.info({ event: 'login_account_changed', user: pending.user, stage, requestId: presenter.requestId }, 'pending sign-in ended: the account changed meanwhile');
    this.deps.audit.record({
      event: 'login_failure',
      outcome: 'failure',
      user: pending.user,
      reason: 'account_changed',
      ...fromContext(attemptContext(presenter, pending.loginId), { stage, method: pending.method }),
    });
    return { kind: 'account_changed' };
  }

  /** The pending login behind a browser's cookie, ending it when the account changed meanwhile. */
  async lookup(pendingId: string | undefined, presenter: Pick<Presenter, 'client' | 'requestId' | 'userAgent'>): Promise<PendingLookup> {
    const pending = await this.pending(pendingId);
    if (!pending) return { kind: 'no_pending_login' };
    if (!(await this.stillCurrent(pending))) return this.endStale(pending, presenter, 'page');
    return { kind: 'pending', pending };
  }

  /**
   * What the code page says about sending for this pending sign-in (null: an authenticator app or
   * nowhere to send), and whether a recovery code can be used (a 2FA sign-in with codes left).
   */
  async sendState(pending: PendingLogin): Promise<{ send: SendState | null; recovery: boolean }> {
    const recovery = pending.reason === '2fa' && (await this.deps.durable.remainingRecoveryCodes(pending.user)) > 0;
    if (!this.deps.factor.sends(pending.method) || pending.destination === null) return { send: null, recovery };
    return { send: await this.deps.factor.sendState(`login:${pending.id}`), recovery };
  }
}
