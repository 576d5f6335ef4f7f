import { createHmac } from 'node:crypto';
import { fromContext, type AuditContext, type AuditRecorder } from '../audit/audit.ts';
import type { Channel } from '../channels/channel.ts';
import { ChannelError } from '../channels/channel.ts';
import { maskEmail, maskPhone } from '../channels/phone.ts';
import { codeMessage } from '../channels/templates.tsx';
import type { Logger } from '../observability/logger.ts';
import type { Clock } from '../core/clock.ts';
import type { OneTimeCodes } from '../factors/one-time-codes.ts';
import { hashRecoveryCode, normaliseRecoveryCode } from '../factors/recovery-codes.ts';
import type { SecretBox } from '../factors/secret-box.ts';
import type { SendBudget, SendReceipt } from '../factors/send-budget.ts';
import { verifyTotp } from '../factors/totp.ts';
import type { DurableStore, Enrollment, FactorMethod, SealedSecret, TotpParameters } from '../store/durable.ts';
import type { Regulation } from './regulation.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';

/**
 * The second factors behind one interface: send a code (sms/email), verify a code of any method
 * (TOTP with a replay guard, one-time codes, recovery codes), and count failures per account across
 * all of them (THREATS T8). Flows (login, enable, disable, step-up) only say which purpose a code is
 * for; they never compare codes themselves.
 */

export type CodePurpose = 'login' | 'enable' | 'disable' | 'identity' | 'step_up' | 'risk' | 'recovery';

export type SendResult =
  | {
      readonly ok: true;
      readonly destination: string;
      readonly resendAfter: number;
      /** Milliseconds until a resend is allowed, by the injected clock (for `resend_after`). */
      readonly resendInMs: number;
      readonly expiresAt: number;
    }
  | { readonly ok: false; readonly reason: 'cooldown' | 'budget'; readonly retryAfterMs: number }
  | { readonly ok: false; readonly reason: 'country' }
  | { readonly ok: false; readonly reason: 'delivery'; readonly message: string };

export type VerifyResult =
  | { readonly ok: true; readonly via: FactorMethod | 'recovery' }
  | { readonly ok: false; readonly reason: 'invalid'; readonly attemptsLeft: number }
  | { readonly ok: false; readonly reason: 'expired' }
  | { readonly ok: false; readonly reason: 'too_many_attempts'; readonly retryAfterMs: number }
  | { readonly ok: false; readonly reason: 'malformed' };

/**
 * What the pages say about sending for one flow, from the server's state (never from the URL):
 * whether a code that can still be entered was sent, whether the last send was refused (so no
 * code went out then), and when a new code may be asked for.
 */
export interface SendState {
  readonly live: boolean;
  readonly refused: 'budget' | 'delivery' | 'country' | null;
  /** Milliseconds until a new code may be asked for (resend cooldown or send budget); 0: now. */
  readonly resendInMs: number;
}

/** What a code can be checked against: an enrollment, or a secret/destination still being set up. */
export type CodeTarget =
  | { readonly kind: 'enrolled'; readonly enrollment: Enrollment }
  | { readonly kind: 'totp_setup'; readonly secret: SealedSecret; readonly parameters: TotpParameters }
  | { readonly kind: 'sent'; readonly method: 'sms' | 'email' };

export interface SecondFactorDeps {
  readonly durable: DurableStore;
  readonly codes: OneTimeCodes;
  readonly box: SecretBox;
  readonly budget: SendBudget;
  readonly failures: Regulation;
  readonly channels: { readonly email: Channel; readonly sms: Channel };
  readonly clock: Clock;
  readonly logger: Logger;
  readonly audit: AuditRecorder;
  /** Keys recovery-code hashes are made with, by id; the highest id hashes new codes. */
  readonly hashKeys: ReadonlyMap<string, Buffer>;
  readonly product: string;
  readonly codeLifetimeMs: number;
  readonly smsCountryAllowed: (e164: string) => boolean;
  /** Counts consecutive failures per account beyond any window (the NIST 800-63B cap). */
  readonly store: EphemeralStore;
  readonly lockoutAfter: number;
  /** Told when the factor locks for unknown origins (the owner's notice; rate-limited there). */
  readonly onAttack?: ((account: string, event: 'factor_locked') => Promise<void>) | undefined;
}

const CONSECUTIVE = (account: string): string => `factor:consecutive:${account}`;
/** The live code's send, so entering it correctly gives its budget slot back (TTL: the code's). */
const RECEIPT = (flowKey: string): string => `send-receipt:${flowKey}`;
/** The flow's last send was refused: why, and until when (server time) a new one may be asked for. */
const REFUSED = (flowKey: string): string => `send-refused:${flowKey}`;
interface StoredReceipt {
  readonly account: string;
  readonly destination: string;
  readonly windows: SendReceipt;
}
/** A locked second factor opens again this long after its last failure (support can unlock sooner). */
export const LOCKOUT_MS = 30 * 24 * 3_600_000;
/** NIST SP 800-63B §5.2.2: no more than 100 consecutive failed attempts on one account, from anywhere. */
export const NIST_MAX_CONSECUTIVE = 100;

export function maskDestination(method: FactorMethod, destination: string | null): string | null {
  if (destination === null || method === 'totp') return null;
  return method === 'sms' ? maskPhone(destination) : maskEmail(destination);
}

/** Derives a purpose-bound key from secret material, so one secret never serves two uses. */
export function deriveKey(material: Buffer, purpose: string): Buffer {
  return createHmac('sha256', material).update(`smartpush-guard:${purpose}`).digest();
}

export class SecondFactor {
  constructor(private readonly deps: SecondFactorDeps) {}

  private newestHashKey(): [string, Buffer] {
    const ids = [...this.deps.hashKeys.keys()].sort((a, b) => Number(b) - Number(a));
    const id = ids[0] as string;
    return [id, this.deps.hashKeys.get(id) as Buffer];
  }

  /** Recovery-code hashes carry the id of the key that made them, so the keys can rotate. */
  hashRecovery(code: string): string {
    const [id, key] = this.newestHashKey();
    return `${id}:${hashRecoveryCode(key, code)}`;
  }

  /** Sends a one-time code for `flowKey` to a phone or address, within every send budget (T9). */
  async sendCode(input: {
    flowKey: string;
    method: 'sms' | 'email';
    destination: string;
    account: string;
    clientAddress: string;
    purpose: CodePurpose;
    /** Request facts and correlation ids for the audit trail. */
    context?: AuditContext | undefined;
  }): Promise<SendResult> {
    const masked = maskDestination(input.method, input.destination) as string;
    const audited = (outcome: 'success' | 'failure', reason?: string, provider?: string): void =>
      this.deps.audit.record({
        event: 'code_sent',
        outcome,
        user: input.account,
        ...(reason !== undefined ? { reason } : {}),
        ...fromContext({ client: input.clientAddress, ...input.context }, { channel: input.method, purpose: input.purpose, destination: masked, provider }),
      });
    if (input.method === 'sms' && !this.deps.smsCountryAllowed(input.destination)) {
      audited('failure', 'country_not_allowed');
      await this.refused(input.flowKey, 'country', 0);
      return { ok: false, reason: 'country' };
    }
    // A resend refused by the cooldown must not spend the send budget (it sends nothing).
    const cooldown = await this.deps.codes.canResend(input.flowKey);
    if (!cooldown.ok) {
      audited('failure', 'cooldown');
      return { ok: false, reason: 'cooldown', retryAfterMs: cooldown.retryAfterMs };
    }
    const budget = await this.deps.budget.reserve(input.account, input.destination, input.clientAddress);
    if (!budget.ok) {
      audited('failure', 'send_budget_exhausted');
      await this.refused(input.flowKey, 'budget', budget.retryAfterMs);
      return { ok: false, reason: 'budget', retryAfterMs: budget.retryAfterMs };
    }
    const issued = await this.deps.codes.issue(input.flowKey);
    if ('refused' in issued) {
      audited('failure', 'cooldown');
      return { ok: false, reason: 'cooldown', retryAfterMs: issued.retryAfterMs };
    }
    const message = codeMessage({
      code: issued.code,
      purpose: input.purpose,
      minutes: Math.round(this.deps.codeLifetimeMs / 60_000),
      product: this.deps.product,
    });
    const channel = input.method === 'sms' ? this.deps.channels.sms : this.deps.channels.email;
    try {
      await channel.send({
        kind: input.method,
        to: input.destination,
        subject: message.subject,
        text: message.text,
        html: message.html,
        purpose: 'code',
      });
    } catch (error) {
      // No live code may outlive a failed send: the user would wait for a code that never comes.
      await this.deps.codes.discard(input.flowKey);
      this.deps.logger.error({ err: error, channel: channel.name, purpose: input.purpose }, 'code delivery failed');
      audited('failure', 'delivery_failed', channel.name);
      await this.refused(input.flowKey, 'delivery', 0);
      const message =
        error instanceof ChannelError
          ? error.message
          : 'The code could not be sent. Please try again in a moment.';
      return { ok: false, reason: 'delivery', message };
    }
    this.deps.logger.info({ event: 'code_sent', channel: channel.name, method: input.method, purpose: input.purpose, user: input.account }, 'code sent');
    audited('success', undefined, channel.name);
    const receipt: StoredReceipt = { account: input.account, destination: input.destination, windows: await this.deps.budget.receipt(input.account, input.destination, this.deps.clock.now()) };
    await this.deps.store.set(RECEIPT(input.flowKey), JSON.stringify(receipt), this.deps.codeLifetimeMs);
    await this.deps.store.delete(REFUSED(input.flowKey));
    return {
      ok: true,
      destination: masked,
      resendAfter: issued.resendAfter,
      resendInMs: issued.resendAfter - this.deps.clock.now(),
      expiresAt: issued.expiresAt,
    };
  }

  /** Remembers that no code went out for the flow, and until when (server time) none may be asked for. */
  private async refused(flowKey: string, reason: 'budget' | 'delivery' | 'country', retryAfterMs: number): Promise<void> {
    const until = this.deps.clock.now() + retryAfterMs;
    await this.deps.store.set(REFUSED(flowKey), JSON.stringify({ reason, until }), Math.max(retryAfterMs, this.deps.codeLifetimeMs));
  }

  /** The truth about sending for a flow, for the pages (see SendState). */
  async sendState(flowKey: string): Promise<SendState> {
    const [live, cooldown, raw] = await Promise.all([this.deps.codes.isLive(flowKey), this.deps.codes.canResend(flowKey), this.deps.store.get(REFUSED(flowKey))]);
    const refusal = raw ? (JSON.parse(raw) as { reason: 'budget' | 'delivery' | 'country'; until: number }) : null;
    const waits = [cooldown.ok ? 0 : cooldown.retryAfterMs, refusal ? refusal.until - this.deps.clock.now() : 0];
    return { live, refused: refusal?.reason ?? null, resendInMs: Math.max(0, ...waits) };
  }

  /** A code sent for the flow was entered correctly: its send stops counting (SendBudget.giveBack). */
  private async giveBackSend(flowKey: string): Promise<void> {
    const raw = await this.deps.store.get(RECEIPT(flowKey));
    // Taken once: of two correct submissions racing, one gives the slot back.
    if (!raw || !(await this.deps.store.compareAndDelete(RECEIPT(flowKey), raw))) return;
    const receipt = JSON.parse(raw) as StoredReceipt;
    await this.deps.budget.giveBack(receipt.account, receipt.destination, receipt.windows, this.deps.clock.now());
  }

  /**
   * Checks a code for `flowKey` against the target. Every failure counts toward the account's
   * cap across all factors; the slot is reserved before the comparison, so parallel guesses cannot
   * exceed it.
   */
  async verify(input: {
    flowKey: string;
    target: CodeTarget;
    code: unknown;
    account: string;
    clientAddress: string;
    allowRecovery: boolean;
    /** What the code is for (audit and metrics only). */
    purpose?: CodePurpose | undefined;
    /** Request facts and correlation ids for the audit trail. */
    context?: AuditContext | undefined;
    /** The presenting browser's device id when it is a known device of the account (counted per device, not per address). */
    knownDevice?: string | null | undefined;
  }): Promise<VerifyResult> {
    const context: AuditContext = { client: input.clientAddress, ...input.context };
    const purpose = input.purpose ?? 'unknown';
    const failed = (reason: string, details?: Record<string, string | number>): void =>
      this.deps.audit.record({ event: 'verification_failure', outcome: 'failure', user: input.account, reason, ...fromContext(context, { purpose, ...details }) });
    if (typeof input.code !== 'string' || input.code.length === 0 || input.code.length > 32) {
      failed('malformed');
      return { ok: false, reason: 'malformed' };
    }
    const reservation = await this.deps.failures.reserve(input.account, input.clientAddress, context, { knownDevice: input.knownDevice });
    if (!reservation.ok) {
      failed('too_many_attempts', { subject: reservation.subject });
      return { ok: false, reason: 'too_many_attempts', retryAfterMs: reservation.retryAfterMs };
    }
    // Windows alone let a patient attacker guess forever (9 guesses every 16 minutes); consecutive
    // failures are also counted without a window. At `lockoutAfter` the factor is locked for every
    // origin but the account's known devices, which keep the owner's way in up to NIST's 100
    // (an attacker holding only the password cannot lock the owner out of their authenticator).
    // The slot is taken atomically with the check, like the windowed counters.
    const cap = input.knownDevice ? NIST_MAX_CONSECUTIVE : this.deps.lockoutAfter;
    const consecutive = await this.deps.store.takeSlot(CONSECUTIVE(input.account), cap, LOCKOUT_MS);
    if (!consecutive.ok) {
      await reservation.settle('neutral');
      this.deps.logger.warn({ event: 'factor_locked', user: input.account }, 'second factor locked after consecutive failures');
      this.deps.audit.record({ event: 'factor_locked', outcome: 'failure', user: input.account, reason: 'consecutive_failures', ...fromContext(context, { purpose, failures: cap }) });
      return { ok: false, reason: 'too_many_attempts', retryAfterMs: consecutive.retryAfterMs };
    }
    let result: VerifyResult;
    let lockedNow = false;
    try {
      result = await this.check(input);
    } catch (error) {
      await reservation.settle('neutral');
      await this.deps.store.decrementIfPresent(CONSECUTIVE(input.account));
      throw error;
    }
    if (!result.ok && result.reason === 'invalid') {
      // What the person may still try: the code's own attempts or the account's, whichever ends first.
      const own = result.attemptsLeft < 0 ? reservation.remaining : Math.min(result.attemptsLeft, reservation.remaining);
      result = { ok: false, reason: 'invalid', attemptsLeft: own };
    }
    if (result.ok) {
      await reservation.settle('success');
      await this.deps.store.delete(CONSECUTIVE(input.account));
      if (result.via === 'sms' || result.via === 'email') await this.giveBackSend(input.flowKey);
    } else if (result.reason === 'invalid') {
      await reservation.settle('failure');
      // Each failure keeps the count for another LOCKOUT_MS (the lock opens 30 days after the last one).
      await this.deps.store.increment(CONSECUTIVE(input.account), 0, LOCKOUT_MS, 'sliding');
      if (consecutive.count === this.deps.lockoutAfter) {
        lockedNow = true;
        await this.deps.onAttack?.(input.account, 'factor_locked');
      }
    } else {
      await this.deps.store.decrementIfPresent(CONSECUTIVE(input.account));
      await reservation.settle(result.reason === 'malformed' ? 'neutral' : 'failure');
    }
    this.deps.logger.info(
      { event: result.ok ? 'verification_success' : 'verification_failure', user: input.account, via: result.ok ? result.via : undefined, reason: result.ok ? undefined : result.reason },
      result.ok ? 'code verified' : 'code rejected',
    );
    if (result.ok) {
      this.deps.audit.record({ event: 'verification_success', outcome: 'success', user: input.account, ...fromContext(context, { purpose, via: result.via }) });
      if (result.via === 'recovery') {
        const left = await this.deps.durable.remainingRecoveryCodes(input.account).catch(() => undefined);
        this.deps.audit.record({ event: 'recovery_code_used', outcome: 'info', user: input.account, ...fromContext(context, { purpose, remaining: left }) });
      }
    } else {
      // `locks_factor`: this failure locked the codes (the lockout alert's cue, like the attack notice's).
      failed(result.reason, result.reason === 'invalid' ? { attempts_left: result.attemptsLeft, ...(lockedNow ? { locks_factor: 1 } : {}) } : undefined);
    }
    return result;
  }

  /**
   * The account's second-factor lockout as support sees it: consecutive wrong codes (locked at the
   * cap until a correct code, support, or 30 days without failure) and the windowed ban.
   */
  async lockState(account: string): Promise<{ consecutiveFailures: number; locked: boolean; lockedForMs: number | null; bannedForMs: number | null }> {
    const [raw, ttl, windowed] = await Promise.all([
      this.deps.store.get(CONSECUTIVE(account)),
      this.deps.store.ttl(CONSECUTIVE(account)),
      this.deps.failures.accountState(account),
    ]);
    const consecutiveFailures = Number(raw ?? '0') || 0;
    const locked = consecutiveFailures >= this.deps.lockoutAfter;
    return { consecutiveFailures, locked, lockedForMs: locked ? ttl : null, bannedForMs: windowed.bannedForMs };
  }

  /** Ends the live code of a flow that ended (the account changed under it): no code of it may count later. */
  async discardCode(flowKey: string): Promise<void> {
    await this.deps.codes.discard(flowKey);
    await this.deps.store.delete(RECEIPT(flowKey));
    await this.deps.store.delete(REFUSED(flowKey));
  }

  /** Support's unlock: clears the consecutive-failure lock and the windowed failures and bans of the account. */
  async unlock(account: string): Promise<void> {
    await this.deps.store.delete(CONSECUTIVE(account));
    await this.deps.failures.unlock(account);
  }

  private async check(input: { flowKey: string; target: CodeTarget; code: unknown; account: string; allowRecovery: boolean }): Promise<VerifyResult> {
    const code = (input.code as string).replace(/\s+/g, '');
    const isDigits = /^\d{6,8}$/.test(code);
    if (!isDigits) {
      if (!input.allowRecovery || input.target.kind !== 'enrolled') return { ok: false, reason: 'malformed' };
      const normalised = normaliseRecoveryCode(code);
      if (normalised === null) return { ok: false, reason: 'malformed' };
      return this.useRecoveryCode(input.account, normalised);
    }
    const target = input.target;
    if (target.kind === 'totp_setup') return this.checkTotp(input.account, target.secret, target.parameters, code);
    if (target.kind === 'enrolled' && target.enrollment.method === 'totp' && target.enrollment.totp) {
      return this.checkTotp(input.account, target.enrollment.totp.secret, target.enrollment.totp.parameters, code);
    }
    const method = target.kind === 'sent' ? target.method : (target.enrollment.method as 'sms' | 'email');
    const verdict = await this.deps.codes.verify(input.flowKey, code);
    if (verdict.ok) return { ok: true, via: method };
    if (verdict.reason === 'invalid') return { ok: false, reason: 'invalid', attemptsLeft: verdict.attemptsLeft };
    if (verdict.reason === 'too_many_attempts') return { ok: false, reason: 'too_many_attempts', retryAfterMs: 0 };
    if (verdict.reason === 'malformed') return { ok: false, reason: 'malformed' };
    return { ok: false, reason: 'expired' };
  }

  private async checkTotp(account: string, sealed: SealedSecret, parameters: TotpParameters, code: string): Promise<VerifyResult> {
    const secret = this.deps.box.open(sealed, `totp:${account}`);
    const now = this.deps.clock.now();
    const result = verifyTotp(secret, code, now, parameters);
    secret.fill(0);
    if (!result.ok) return { ok: false, reason: 'invalid', attemptsLeft: -1 };
    // A code is good for one use: its time step is recorded, and a replay (or a second tab) fails.
    const keepUntil = now + 3 * parameters.period * 1000;
    if (!(await this.deps.durable.useTotpStep(account, result.step, keepUntil))) return { ok: false, reason: 'invalid', attemptsLeft: -1 };
    return { ok: true, via: 'totp' };
  }

  private async useRecoveryCode(account: string, code: string): Promise<VerifyResult> {
    const now = this.deps.clock.now();
    for (const [id, key] of this.deps.hashKeys) {
      if (await this.deps.durable.consumeRecoveryCode(account, `${id}:${hashRecoveryCode(key, code)}`, now)) {
        this.deps.logger.warn({ event: 'recovery_code_used', user: account }, 'recovery code used');
        return { ok: true, via: 'recovery' };
      }
    }
    return { ok: false, reason: 'invalid', attemptsLeft: -1 };
  }
}
