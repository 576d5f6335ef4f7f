import { fromContext } from '../audit/audit.ts';
import type { ClientFacts } from '../proxy/client-address.ts';
import type { SendResult } from './second-factor.ts';
import { explainRisk } from '../risk/assess.ts';
import { canonicalIdentity, EMAIL_IDENTITY } from '../directory/identity.ts';
import { factorState } from './account-generation.ts';
import type { RelyingParty } from '../factors/passkey/ceremony.ts';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { attemptContext, PENDING, type LoginAttempt, type LoginResult, type LoginVerifyResult, type PendingLogin, type Presenter } from './login-types.ts';
import { PendingLogins } from './pending-login.ts';

export type { LoginAttempt, LoginFlowDeps, LoginResult, LoginVerifyResult, PendingLogin, PendingLookup, Presenter } from './login-types.ts';

/**
 * The login state machine: regulation → the upstream's password check → (a code of the user's
 * second factor) → a new session. Between the two steps a pending login holds the upstream's
 * cookies server-side; they reach the browser only when every required step has passed. Every
 * answer of the password step is padded to the same minimum duration and none says whether the
 * account exists.
 */
export class LoginFlow extends PendingLogins {
  async attempt(input: LoginAttempt): Promise<LoginResult> {
    const started = this.deps.elapsed();
    const result = await this.run(input);
    const left = this.deps.minResponseMs - (this.deps.elapsed() - started);
    if (left > 0) await this.deps.sleep(left);
    return result;
  }

  private async run(input: LoginAttempt): Promise<LoginResult> {
    const account = canonicalIdentity(input.email, this.deps.identity ?? EMAIL_IDENTITY);
    const log = this.deps.logger;
    const loginId = this.deps.random.bytes(12).toString('base64url');
    const context = attemptContext(input, loginId);
    // An absurd "account" is recorded as given only up to a sane length (it is attacker input).
    const auditUser = account.slice(0, 254);
    const failure = (reason: string, details?: Record<string, string>): void =>
      this.deps.audit.record({ event: 'login_failure', outcome: 'failure', user: auditUser, reason, ...fromContext(context, details) });
    // The owner's own browser is counted by itself: failures from other places cannot close it.
    const knownDevice = account.length > 0 && account.length <= 254 ? await this.deps.risk.knownDevice(account, input.deviceCookie) : null;
    const reservation = await this.deps.regulation.reserve(account, input.client.address, context, { knownDevice });
    if (!reservation.ok) {
      log.warn({ event: 'login_refused', user: account, client: input.client.address, subject: reservation.subject, requestId: input.requestId }, 'login refused: too many attempts');
      failure('too_many_attempts', { subject: reservation.subject });
      return { kind: 'too_many_attempts', retryAfterMs: reservation.retryAfterMs, subject: reservation.subject };
    }
    const invalid = async (): Promise<LoginResult> => {
      const settled = await reservation.settle('failure');
      return { kind: 'invalid_credentials', attemptsLeft: reservation.remaining, lockedForMs: settled.lockedForMs };
    };
    // Absurd input is a failed attempt like any other (counted), not a different answer.
    if (account.length === 0 || account.length > 254 || input.password.length === 0 || input.password.length > 1024) {
      failure('invalid_credentials');
      return invalid();
    }
    const check = await this.deps.account.checkPassword(input.email.trim(), input.password, {
      forwardedFor: input.client.forwardedFor,
      userAgent: input.userAgent,
      requestId: input.requestId,
      host: input.client.host,
      proto: input.client.proto,
    });
    if (!check.ok) {
      if (check.reason === 'unavailable') {
        await reservation.settle('neutral');
        log.error({ event: 'login_unavailable', detail: check.detail, requestId: input.requestId }, 'upstream login check failed');
        failure('upstream_unavailable', { detail: check.detail.slice(0, 300) });
        return { kind: 'unavailable' };
      }
      if (check.reason === 'upstream_error') {
        // Not the user's fault, so it counts against no one: the operator has to look at the upstream.
        await reservation.settle('neutral');
        const seen = { status: check.status === null ? '' : String(check.status), location: (check.location ?? '').slice(0, 300) };
        log.error({ event: 'login_upstream_error', ...seen, detail: check.detail, requestId: input.requestId }, 'the upstream answered the login with neither the success nor the failure signal');
        failure('upstream_error', { ...seen, detail: check.detail.slice(0, 300) });
        return { kind: 'upstream_error' };
      }
      const result = await invalid();
      await this.deps.risk.recordLoginFailure(account);
      log.info({ event: 'login_failure', user: account, client: input.client.address, requestId: input.requestId }, 'login failed');
      failure('invalid_credentials');
      return result;
    }
    await reservation.settle('success');
    // Where the app can say which account this session is (a directory or profile naming it), that
    // account is the key: two spellings the app takes for one account (Alice/alice on a
    // case-insensitive app) must not get two enrollments, histories and lock-outs (issue 14).
    const named = await this.contacts.accountOfSession({ upstreamCookies: check.upstreamCookies, requestId: input.requestId });
    if (named !== null && named !== account) {
      log.info({ event: 'login_account_named', typed: account, user: named, requestId: input.requestId }, 'the app names the signed-in account differently; keyed on its name');
    }
    const user = named ?? account;
    const now = this.deps.clock.now();
    // Read before the enrollment: a change landing in between then leaves this sign-in stale
    // (changes write the durable record first and replace the generation after).
    const generation = await this.deps.generations.current(user);
    const enrollment = await this.deps.durable.getEnrollment(user);
    const presenter: Presenter = input;
    if (!enrollment) {
      // Without 2FA the password is the only factor: a risky-looking sign-in is verified by email first.
      const assessment = await this.deps.risk.assess({
        user: user,
        deviceCookie: input.deviceCookie,
        clientAddress: input.client.address,
        userAgent: input.userAgent ?? '',
        context,
      });
      log.info(
        { event: 'risk_assessed', user: user, level: assessment.level, score: assessment.score, signals: explainRisk(assessment), requestId: input.requestId },
        'sign-in risk assessed',
      );
      if (assessment.level === 'low') {
        log.info({ event: 'login_success', user: user, client: input.client.address, requestId: input.requestId }, 'login succeeded');
        // Security alerts (src/alerts/): is this browser or network new to the account, and its language.
        this.deps.audit.record({ event: 'login_success', outcome: 'success', user: user, ...fromContext(context, { factors: 'password', risk_level: assessment.level, ...assessment.novelty, lang: input.lang }) });
        return this.complete(user, now, null, check.setCookies, check.upstreamCookies, presenter, false);
      }
      // The address comes from the directory: a username is never taken for one (issue 12).
      const contact = await this.contacts.of(user, { upstreamCookies: check.upstreamCookies, requestId: input.requestId });
      if (!contact.ok || contact.email === null) {
        log.warn({ event: 'login_no_email', user: user, reason: contact.ok ? 'no_email_known' : contact.reason, requestId: input.requestId }, 'risky sign-in refused: no email address to send a code to');
        this.deps.audit.record({ event: 'login_failure', outcome: 'failure', user: user, reason: 'no_email_on_file', ...fromContext(context, contact.ok ? undefined : { directory: contact.reason }) });
        return { kind: 'no_email', lookupFailed: !contact.ok && contact.reason !== 'not_found' };
      }
      return this.startPending(
        {
          reason: 'risk',
          user,
          method: 'email',
          destination: contact.email,
          passwordAt: now,
          upstreamSetCookies: check.setCookies,
          upstreamCookies: check.upstreamCookies,
          loginId,
          generation,
          factors: null,
        },
        input,
      );
    }
    const skipped = await this.rememberedSignIn(user, now, generation, enrollment, check, input, context);
    if (skipped.kind === 'authenticated') return skipped.result;
    const asked = await this.startPending(
      {
        reason: '2fa',
        user: user,
        method: enrollment.method,
        destination: enrollment.destination,
        passwordAt: now,
        upstreamSetCookies: check.setCookies,
        upstreamCookies: check.upstreamCookies,
        loginId,
        generation,
        factors: factorState(enrollment),
      },
      input,
    );
    // A "remember" cookie that did not serve is cleared, so the browser stops presenting it.
    return skipped.kind === 'refused' && skipped.clear && asked.kind === 'verification_required' ? { ...asked, rememberCookie: null } : asked;
  }

  /** The second step: a code of the enrolled method, a recovery code, or the risk email code. */
  async verify(pendingId: string | undefined, code: unknown, presenter: Presenter, options: { remember?: boolean; returnTo?: string | undefined } = {}): Promise<LoginVerifyResult> {
    const { client, requestId } = presenter;
    const pending = await this.pending(pendingId);
    if (!pending) return { kind: 'no_pending_login' };
    const context = attemptContext(presenter, pending.loginId);
    // Decided before any code is judged: a reset, a new destination or an enabled 2FA means the
    // sign-in starts again from the account as it is now (a new device may need an email code).
    const state = await this.stillCurrent(pending);
    if (!state) return this.endStale(pending, presenter, 'verify');
    const enrollment = pending.reason === '2fa' ? state.enrollment : null;
    if (pending.reason === '2fa' && !enrollment) return this.endStale(pending, presenter, 'verify');
    const result = await this.deps.factor.verify({
      flowKey: `login:${pending.id}`,
      target: enrollment ? { kind: 'enrolled', enrollment } : { kind: 'sent', method: 'email' },
      code,
      account: pending.user,
      clientAddress: client.address,
      allowRecovery: enrollment !== null,
      purpose: pending.reason === 'risk' ? 'risk' : 'login',
      context,
      knownDevice: await this.deps.risk.knownDevice(pending.user, presenter.deviceCookie),
    });
    if (!result.ok) {
      switch (result.reason) {
        case 'invalid':
          return { kind: 'invalid_code', attemptsLeft: result.attemptsLeft };
        case 'expired':
          return { kind: 'code_expired' };
        case 'malformed':
          return { kind: 'malformed' };
        case 'too_many_attempts':
          return { kind: 'too_many_attempts', retryAfterMs: result.retryAfterMs };
      }
    }
    // Single use: of two concurrent correct submissions only one completes the login.
    if (!(await this.deps.store.compareAndDelete(PENDING(pending.id), JSON.stringify(pending)))) return { kind: 'no_pending_login' };
    const second = enrollment ? { at: this.deps.clock.now(), method: enrollment.method } : null;
    // Read before complete() adds this sign-in to the history (security alerts, src/alerts/).
    const novelty = await this.deps.risk.novelty(pending.user, presenter.deviceCookie, client.address);
    const done = await this.complete(pending.user, pending.passwordAt, second, pending.upstreamSetCookies, pending.upstreamCookies, presenter, true, async () =>
      (await this.stillCurrent(pending)) !== null,
    );
    if (!done) return this.endStale(pending, presenter, 'complete');
    this.deps.logger.info({ event: 'login_success', user: pending.user, via: result.via, reason: pending.reason, client: client.address, requestId }, 'login succeeded after verification');
    this.deps.audit.record({ event: 'login_success', outcome: 'success', user: pending.user, reason: pending.reason, ...fromContext(context, { factors: `password+${result.via}`, ...novelty, lang: presenter.lang }) });
    if (options.remember === true) {
      const rememberCookie = await this.rememberAfterVerify(pending, done, presenter, context, options.returnTo);
      if (rememberCookie !== null) return { ...done, rememberCookie };
    }
    return done;
  }

  // ---- passkeys (src/factors/passkey/) ------------------------------------------------------------

  /** Whether this pending 2FA sign-in may finish with a passkey (the account has one). */
  async passkeyAvailable(pending: PendingLogin): Promise<boolean> {
    if (!this.deps.passkeys || pending.reason !== '2fa') return false;
    return (await this.deps.passkeys.list(pending.user)).length > 0;
  }

  /** The assertion options for this pending 2FA sign-in, its challenge bound to the pending login. */
  async passkeyOptions(
    pendingId: string | undefined,
    rp: RelyingParty | null,
    presenter: Pick<Presenter, 'client' | 'requestId' | 'userAgent'>,
  ): Promise<{ kind: 'options'; options: PublicKeyCredentialRequestOptionsJSON } | { kind: 'no_pending_login' | 'account_changed' | 'no_passkey' | 'unavailable' }> {
    const looked = await this.lookup(pendingId, presenter);
    if (looked.kind !== 'pending') return looked;
    const pending = looked.pending;
    if (!this.deps.passkeys || pending.reason !== '2fa') return { kind: 'no_passkey' };
    if (!rp) return { kind: 'unavailable' };
    const options = await this.deps.passkeys.authenticationOptions({ user: pending.user, bind: `login:${pending.id}`, rp });
    return options ? { kind: 'options', options } : { kind: 'no_passkey' };
  }

  /** The second step with a passkey: an assertion answering this pending sign-in's challenge. */
  async verifyPasskey(pendingId: string | undefined, response: unknown, presenter: Presenter): Promise<LoginVerifyResult | { kind: 'passkey_refused'; reason: string }> {
    const pending = await this.pending(pendingId);
    if (!pending) return { kind: 'no_pending_login' };
    const state = await this.stillCurrent(pending);
    if (!state || !state.enrollment) return this.endStale(pending, presenter, 'verify');
    if (!this.deps.passkeys || pending.reason !== '2fa') return { kind: 'passkey_refused', reason: 'no_challenge' };
    const context = attemptContext(presenter, pending.loginId);
    const checked = await this.deps.passkeys.assert({ user: pending.user, bind: `login:${pending.id}`, response, context, purpose: 'login' });
    if (!checked.ok) return { kind: 'passkey_refused', reason: checked.reason };
    if (!(await this.deps.store.compareAndDelete(PENDING(pending.id), JSON.stringify(pending)))) return { kind: 'no_pending_login' };
    await this.deps.factor.discardCode(`login:${pending.id}`);
    const second = { at: this.deps.clock.now(), method: state.enrollment.method };
    const done = await this.complete(pending.user, pending.passwordAt, second, pending.upstreamSetCookies, pending.upstreamCookies, presenter, true, async () =>
      (await this.stillCurrent(pending)) !== null,
    );
    if (!done) return this.endStale(pending, presenter, 'complete');
    this.deps.logger.info({ event: 'login_success', user: pending.user, via: 'passkey', reason: pending.reason, client: presenter.client.address, requestId: presenter.requestId }, 'login succeeded with a passkey');
    this.deps.audit.record({ event: 'login_success', outcome: 'success', user: pending.user, reason: pending.reason, ...fromContext(context, { factors: 'password+passkey' }) });
    return done;
  }

  /** A new code for the pending login (sms/email); the previous code dies. */
  async resend(
    pendingId: string | undefined,
    presenter: { readonly client: ClientFacts; readonly requestId: string; readonly userAgent?: string | undefined },
  ): Promise<SendResult | { ok: false; reason: 'no_pending_login' | 'not_applicable' | 'account_changed' }> {
    const pending = await this.pending(pendingId);
    if (!pending) return { ok: false, reason: 'no_pending_login' };
    // Never to a destination the account no longer has: the sign-in ends instead.
    if (!(await this.stillCurrent(pending))) {
      await this.endStale(pending, presenter, 'resend');
      return { ok: false, reason: 'account_changed' };
    }
    const sent = await this.sendIfNeeded(pending, presenter);
    return sent ?? { ok: false, reason: 'not_applicable' };
  }
}
