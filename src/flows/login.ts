import { fromContext, type AuditContext, type AuditRecorder } from '../audit/audit.ts';
import type { Logger } from '../observability/logger.ts';
import type { ClientFacts } from '../proxy/client-address.ts';
import type { Clock } from '../core/clock.ts';
import type { Random } from '../core/random.ts';
import type { SessionRecord, SessionService } from '../session/sessions.ts';
import type { DurableStore, Enrollment, FactorMethod } from '../store/durable.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import type { UpstreamAccount } from './upstream-account.ts';
import type { Regulation, Subject } from './regulation.ts';
import { maskDestination, type SecondFactor, type SendResult, type SendState } from './second-factor.ts';
import type { RiskService } from '../risk/service.ts';
import { explainRisk } from '../risk/assess.ts';
import { Contacts } from '../directory/index.ts';
import { canonicalIdentity, EMAIL_IDENTITY, type IdentityRules } from '../directory/identity.ts';
import { factorState, type AccountGenerations } from './account-generation.ts';
import type { RememberedBrowsers } from './remember-browser.ts';
import type { PasskeyCeremonies, RelyingParty } from '../factors/passkey/ceremony.ts';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';

/**
 * The login state machine: regulation → the upstream's password check → (a code of the user's
 * second factor) → a new session. Between the two steps a pending login holds the upstream's
 * cookies server-side; they reach the browser only when every required step has passed. Every
 * answer of the password step is padded to the same minimum duration and none says whether the
 * account exists.
 */

export type LoginResult =
  | {
      readonly kind: 'authenticated';
      readonly session: SessionRecord;
      readonly cookieValue: string;
      /** The upstream's Set-Cookie headers, withheld until now. */
      readonly upstreamSetCookies: readonly string[];
      /** A new signed device cookie to set (the browser had none that verified). */
      readonly deviceCookie: string | null;
      /** The "remember this browser" cookie: a value to set, null to clear it, absent to leave it. */
      readonly rememberCookie?: string | null;
    }
  | {
      readonly kind: 'verification_required';
      /** '2fa': the user's second factor; 'risk': an email code because the sign-in looked risky. */
      readonly reason: '2fa' | 'risk';
      readonly pendingId: string;
      readonly method: FactorMethod;
      /** Masked phone or address the code went to; null for an authenticator app. */
      readonly destination: string | null;
      /** For sms/email: how sending the first code went. */
      readonly send: SendResult | null;
      /** null: the browser's "remember" cookie did not serve and is cleared. */
      readonly rememberCookie?: null;
    }
  | {
      readonly kind: 'invalid_credentials';
      /** Failures still allowed from here (this address, or this known device) before it is paused. */
      readonly attemptsLeft: number;
      /** Set when this failure paused sign-in from here: for how long. */
      readonly lockedForMs: number | null;
    }
  | {
      readonly kind: 'too_many_attempts';
      readonly retryAfterMs: number;
      /** 'throttle': the account is being slowed down (a short wait); otherwise sign-in from here is paused. */
      readonly subject: Subject;
    }
  | { readonly kind: 'unavailable' }
  /** The upstream answered with neither the success nor the failure signal (never a wrong password). */
  | { readonly kind: 'upstream_error' }
  /**
   * The password was right but this sign-in needs an email code and no address is known for the
   * account (or the directory cannot say right now: `lookupFailed`). Nothing was sent.
   */
  | { readonly kind: 'no_email'; readonly lookupFailed: boolean };

type Authenticated = Extract<LoginResult, { kind: 'authenticated' }>;

export type LoginVerifyResult =
  | Authenticated
  | { readonly kind: 'invalid_code'; readonly attemptsLeft: number }
  | { readonly kind: 'code_expired' }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'too_many_attempts'; readonly retryAfterMs: number }
  /** No pending login (never started, finished, or expired): start again with the password. */
  | { readonly kind: 'no_pending_login' }
  /**
   * The account's factors, destination or lock state changed after the password step (THREATS
   * T18): this sign-in has ended, and a new one is decided from the account as it is now.
   */
  | { readonly kind: 'account_changed' };

/** A pending login looked up for a page: still going, gone, or ended by a change of the account. */
export type PendingLookup =
  | { readonly kind: 'pending'; readonly pending: PendingLogin }
  | { readonly kind: 'no_pending_login' }
  | { readonly kind: 'account_changed' };

export interface LoginAttempt {
  readonly email: string;
  readonly password: string;
  readonly client: ClientFacts;
  readonly requestId: string;
  readonly userAgent?: string | undefined;
  /** The browser's device cookie, if any (verified by the risk service). */
  readonly deviceCookie?: string | undefined;
  /** The page's language (en, zh-CN): kept with the sign-in for the security alerts. */
  readonly lang?: string | undefined;
  /** The browser's "remember this browser" cookie, if any (src/flows/remember-browser.ts). */
  readonly rememberCookie?: string | undefined;
  /** Where the sign-in returns to (a safe same-origin path): the policy's remember_browser.except_rules look at it. */
  readonly returnTo?: string | undefined;
}

/** The browser presenting the code (same one that sent the password, normally). */
export interface Presenter {
  readonly client: ClientFacts;
  readonly requestId: string;
  readonly userAgent?: string | undefined;
  readonly deviceCookie?: string | undefined;
  /** The page's language (en, zh-CN): kept with the sign-in for the security alerts. */
  readonly lang?: string | undefined;
}

/** Password done, second factor not yet. Kept server-side only; the browser holds its random id. */
export interface PendingLogin {
  readonly id: string;
  readonly reason: '2fa' | 'risk';
  readonly user: string;
  readonly method: FactorMethod;
  readonly destination: string | null;
  readonly passwordAt: number;
  readonly upstreamSetCookies: readonly string[];
  readonly upstreamCookies: Record<string, string>;
  /**
   * The sign-in attempt's correlation id for the audit trail (`details.login` of every event of
   * this attempt, both steps). Random and separate from `id`, which is a bearer secret.
   */
  readonly loginId?: string;
  /** The account's generation when the password step passed (see account-generation.ts). */
  readonly generation: string;
  /** `factorState` of the enrollment this sign-in was decided on; null: the account had no 2FA. */
  readonly factors: string | null;
}

export interface LoginFlowDeps {
  readonly regulation: Regulation;
  readonly account: UpstreamAccount;
  readonly sessions: SessionService;
  readonly durable: DurableStore;
  readonly factor: SecondFactor;
  readonly risk: RiskService;
  readonly store: EphemeralStore;
  readonly generations: AccountGenerations;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly audit: AuditRecorder;
  readonly minResponseMs: number;
  readonly pendingMs: number;
  /** Waits in real time; injected so tests of the padding need not sleep. */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * A monotonic millisecond reading (performance.now in production) that times the work to pad;
   * injected so the padding test does not depend on how fast a loaded machine runs the flow.
   */
  readonly elapsed: () => number;
  /** How identifiers become account keys (default: email addresses). */
  readonly identity?: IdentityRules;
  /** Where an account's email comes from (default: the identifier, when it is an address). */
  readonly contacts?: Contacts;
  /** "Don't ask again on this browser" (issue 17); absent: never offered. */
  readonly remembered?: RememberedBrowsers | undefined;
  /** Passkeys as the second factor (src/factors/passkey/); absent: codes only. */
  readonly passkeys?: PasskeyCeremonies | undefined;
}

/** @deprecated kept for callers that key by email; use canonicalIdentity with the config's rules. */
export function normaliseAccount(email: string): string {
  return canonicalIdentity(email, EMAIL_IDENTITY);
}

const PENDING = (id: string): string => `pending:${id}`;

/** The audit context of a sign-in attempt: who presents, and the attempt's correlation id. */
function attemptContext(presenter: Presenter, loginId: string | undefined): AuditContext {
  return {
    client: presenter.client.address,
    userAgent: presenter.userAgent,
    requestId: presenter.requestId,
    // `lang`: the page's language, so an alert about any step of this sign-in is worded in it.
    ...(loginId !== undefined || presenter.lang !== undefined
      ? { details: { ...(loginId !== undefined ? { login: loginId } : {}), ...(presenter.lang !== undefined ? { lang: presenter.lang } : {}) } }
      : {}),
  };
}
const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class LoginFlow {
  private readonly contacts: Contacts;
  constructor(private readonly deps: LoginFlowDeps) {
    this.contacts = deps.contacts ?? new Contacts(null, deps.identity ?? EMAIL_IDENTITY, deps.logger);
  }

  async attempt(input: LoginAttempt): Promise<LoginResult> {
    const started = this.deps.elapsed();
    const result = await this.run(input);
    const left = this.deps.minResponseMs - (this.deps.elapsed() - started);
    if (left > 0) await (this.deps.sleep ?? realSleep)(left);
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
        const novelty = await this.deps.risk.novelty(user, input.deviceCookie, input.client.address);
        this.deps.audit.record({ event: 'login_success', outcome: 'success', user: user, ...fromContext(context, { factors: 'password', risk_level: assessment.level, ...novelty, lang: input.lang }) });
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

  /**
   * The sign-in second factor skipped for a remembered browser (issue 17): the password's
   * fingerprint is checked first (another password drops every remembered browser), then the
   * browser's record (device, factors, expiry, secret), then the risk of this sign-in (high risk
   * drops the record and the code is asked). 'none': no cookie (or the feature is off).
   */
  private async rememberedSignIn(
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
  private async rememberAfterVerify(pending: PendingLogin, done: Authenticated, presenter: Presenter, context: AuditContext, returnTo: string | undefined): Promise<string | null> {
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

  private async startPending(fields: Omit<PendingLogin, 'id'>, presenter: Presenter): Promise<LoginResult> {
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

  private async sendIfNeeded(pending: PendingLogin, presenter: Pick<Presenter, 'client' | 'requestId' | 'userAgent'>): Promise<SendResult | null> {
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

  private complete(user: string, passwordAt: number, second: { at: number; method: FactorMethod } | null, upstreamSetCookies: readonly string[], upstreamCookies: Record<string, string>, presenter: Presenter, verified: boolean): Promise<Authenticated>;
  private complete(user: string, passwordAt: number, second: { at: number; method: FactorMethod } | null, upstreamSetCookies: readonly string[], upstreamCookies: Record<string, string>, presenter: Presenter, verified: boolean, stillValid: () => Promise<boolean>): Promise<Authenticated | null>;
  private async complete(
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
  private async stillCurrent(pending: PendingLogin): Promise<{ enrollment: Enrollment | null } | null> {
    const [current, enrollment] = await Promise.all([
      this.deps.generations.isCurrent(pending.user, pending.generation),
      this.deps.durable.getEnrollment(pending.user),
    ]);
    if (!current || pending.factors === undefined || factorState(enrollment) !== pending.factors) return null;
    return { enrollment };
  }

  /** Ends a pending login that the account's change made stale; audited, told to the person. */
  private async endStale(pending: PendingLogin, presenter: Pick<Presenter, 'client' | 'requestId' | 'userAgent'>, stage: string): Promise<{ kind: 'account_changed' }> {
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
