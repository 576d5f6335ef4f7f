import { createHmac } from 'node:crypto';
import { fromContext, type AuditContext, type AuditRecorder } from '../audit/audit.ts';
import { maskEmail, maskPhone } from '../channels/phone.ts';
import type { Logger } from '../observability/logger.ts';
import type { Clock } from '../core/clock.ts';
import type { OneTimeCodes } from '../factors/one-time-codes.ts';
import type { SendBudget } from '../factors/send-budget.ts';
import type { FactorMaterial } from '../factors/factor.ts';
import type { FactorRegistry } from '../factors/registry.ts';
import { consecutiveFailuresKey, LOCKOUT_MS, NIST_MAX_CONSECUTIVE } from '../factors/lockout.ts';
import type { DurableStore, Enrollment, FactorMethod } from '../store/durable.ts';
import type { Regulation } from './regulation.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import { CodeDelivery, type CodePurpose, type SendResult, type SendState } from './code-delivery.ts';

export type { CodePurpose, SendResult, SendState } from './code-delivery.ts';
export { LOCKOUT_MS, NIST_MAX_CONSECUTIVE } from '../factors/lockout.ts';

/**
 * The second factors behind one interface: send a code (by a factor's sender), verify a code of
 * any registered factor (src/factors/registry.ts) or a recovery code, and count failures per
 * account across all of them (THREATS T8). Flows (login, enable, disable, step-up) only say which
 * purpose a code is for and what it is checked against; they never compare codes themselves.
 */

export type VerifyResult =
  | { readonly ok: true; readonly via: FactorMethod | 'recovery' }
  | { readonly ok: false; readonly reason: 'invalid'; readonly attemptsLeft: number }
  | { readonly ok: false; readonly reason: 'expired' }
  | { readonly ok: false; readonly reason: 'too_many_attempts'; readonly retryAfterMs: number }
  | { readonly ok: false; readonly reason: 'malformed' };

/**
 * What a code can be checked against: an enrollment, an enrollment being set up (enable's confirm
 * step), or a code sent by a method without an enrollment (identity, risk, step-up email codes).
 */
export type CodeTarget =
  | { readonly kind: 'enrolled'; readonly enrollment: Enrollment }
  | { readonly kind: 'setup'; readonly method: FactorMethod; readonly material: FactorMaterial }
  | { readonly kind: 'sent'; readonly method: FactorMethod };

export interface SecondFactorDeps {
  readonly durable: DurableStore;
  /** The registered methods and the recovery codes. */
  readonly factors: FactorRegistry;
  readonly codes: OneTimeCodes;
  readonly budget: SendBudget;
  readonly failures: Regulation;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly audit: AuditRecorder;
  readonly product: string;
  readonly codeLifetimeMs: number;
  /** Counts consecutive failures per account beyond any window (the NIST 800-63B cap). */
  readonly store: EphemeralStore;
  readonly lockoutAfter: number;
  /** Told when the factor locks for unknown origins (the owner's notice; rate-limited there). */
  readonly onAttack?: ((account: string, event: 'factor_locked') => Promise<void>) | undefined;
}

/** The masked destination of a built-in method (sms, email); a registry's `describe` covers every method. */
export function maskDestination(method: FactorMethod, destination: string | null): string | null {
  if (destination === null) return null;
  if (method === 'sms') return maskPhone(destination);
  if (method === 'email') return maskEmail(destination);
  return null;
}

/** Derives a purpose-bound key from secret material, so one secret never serves two uses. */
export function deriveKey(material: Buffer, purpose: string): Buffer {
  return createHmac('sha256', material).update(`smartpush-guard:${purpose}`).digest();
}

const NO_MATERIAL: FactorMaterial = { destination: null, totp: null };

export class SecondFactor {
  private readonly delivery: CodeDelivery;

  constructor(private readonly deps: SecondFactorDeps) {
    this.delivery = new CodeDelivery(deps);
  }

  /** The registered methods (for flows that enroll or describe one). */
  get factors(): FactorRegistry {
    return this.deps.factors;
  }

  /** The masked destination of `method`, as pages and answers show it. */
  describe(method: FactorMethod, destination: string | null): string | null {
    return this.deps.factors.describe(method, destination);
  }

  /** Whether codes of `method` are sent (false: read off a device, nothing to send). */
  sends(method: FactorMethod): boolean {
    return this.deps.factors.sends(method);
  }

  /** Sends a one-time code for `flowKey` by the method's sender, within every send budget (T9). */
  sendCode(input: Parameters<CodeDelivery['sendCode']>[0]): Promise<SendResult> {
    return this.delivery.sendCode(input);
  }

  /** The truth about sending for a flow, for the pages (see SendState). */
  sendState(flowKey: string): Promise<SendState> {
    return this.delivery.sendState(flowKey);
  }

  /** Ends the live code of a flow that ended (the account changed under it): no code of it may count later. */
  discardCode(flowKey: string): Promise<void> {
    return this.delivery.discardCode(flowKey);
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
    const consecutive = await this.deps.store.takeSlot(consecutiveFailuresKey(input.account), cap, LOCKOUT_MS);
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
      await this.deps.store.decrementIfPresent(consecutiveFailuresKey(input.account));
      throw error;
    }
    if (!result.ok && result.reason === 'invalid') {
      // What the person may still try: the code's own attempts or the account's, whichever ends first.
      const own = result.attemptsLeft < 0 ? reservation.remaining : Math.min(result.attemptsLeft, reservation.remaining);
      result = { ok: false, reason: 'invalid', attemptsLeft: own };
    }
    if (result.ok) {
      await reservation.settle('success');
      await this.deps.store.delete(consecutiveFailuresKey(input.account));
      if (result.via !== 'recovery' && this.deps.factors.sends(result.via)) await this.delivery.giveBackSend(input.flowKey);
    } else if (result.reason === 'invalid') {
      await reservation.settle('failure');
      // Each failure keeps the count for another LOCKOUT_MS (the lock opens 30 days after the last one).
      await this.deps.store.increment(consecutiveFailuresKey(input.account), 0, LOCKOUT_MS, 'sliding');
      if (consecutive.count === this.deps.lockoutAfter) {
        lockedNow = true;
        await this.deps.onAttack?.(input.account, 'factor_locked');
      }
    } else {
      await this.deps.store.decrementIfPresent(consecutiveFailuresKey(input.account));
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
      this.deps.store.get(consecutiveFailuresKey(account)),
      this.deps.store.ttl(consecutiveFailuresKey(account)),
      this.deps.failures.accountState(account),
    ]);
    const consecutiveFailures = Number(raw ?? '0') || 0;
    const locked = consecutiveFailures >= this.deps.lockoutAfter;
    return { consecutiveFailures, locked, lockedForMs: locked ? ttl : null, bannedForMs: windowed.bannedForMs };
  }

  /** Support's unlock: clears the consecutive-failure lock and the windowed failures and bans of the account. */
  async unlock(account: string): Promise<void> {
    await this.deps.store.delete(consecutiveFailuresKey(account));
    await this.deps.failures.unlock(account);
  }

  private async check(input: { flowKey: string; target: CodeTarget; code: unknown; account: string; allowRecovery: boolean }): Promise<VerifyResult> {
    const code = (input.code as string).replace(/\s+/g, '');
    const isDigits = /^\d{6,8}$/.test(code);
    const recovery = this.deps.factors.recovery;
    if (!isDigits) {
      if (!input.allowRecovery || input.target.kind !== 'enrolled') return { ok: false, reason: 'malformed' };
      const normalised = recovery.normalise(code);
      if (normalised === null) return { ok: false, reason: 'malformed' };
      const used = await recovery.use(input.account, normalised);
      return used.ok ? { ok: true, via: 'recovery' } : used;
    }
    const target = input.target;
    const method = target.kind === 'enrolled' ? target.enrollment.method : target.method;
    const material = target.kind === 'enrolled' ? target.enrollment : target.kind === 'setup' ? target.material : NO_MATERIAL;
    const verdict = await this.deps.factors.get(method).verify({ account: input.account, flowKey: input.flowKey, code, material });
    return verdict.ok ? { ok: true, via: method } : verdict;
  }
}
