/**
 * Out-of-band one-time codes (SMS, email, identity verification, step-up): 6 digits, short-lived,
 * single use, stored hashed, compared in constant time, with an attempt cap that holds under
 * concurrency (THREATS T8) and a resend cooldown (T9).
 *
 * Keys in the ephemeral store (the purpose is the caller's flow id + step):
 *   otc:<purpose>            "<nonce>.<hmac hex>"  the live code, TTL = lifetime
 *   otc-issued:<purpose>     "<nonce>"             marker of the last issue, TTL = lifetime + 1 h
 *   otc-attempts:<nonce>     counter               attempts against that issue, TTL = marker TTL
 *   otc-cooldown:<purpose>   "1"                   resend cooldown, TTL = resendCooldownMs
 * The nonce is random per issue, so a new code gets a fresh attempt counter without a reset step
 * that a racing verify could undo, and the prefixes differ so no purpose can name another key.
 *
 * Decisions:
 * - A malformed submission (not a string of exactly six ASCII digits) consumes an attempt when a
 *   live code exists, so scripted garbage cannot probe for free; it is still answered 'malformed'.
 * - "Never issued" and "expired" both answer 'expired' (the marker only tells a code killed by the
 *   attempt cap, which answers 'too_many_attempts', from one that ran out of time or was used).
 * - A correct code that lost a race (consumed by a concurrent submission, or replaced by a new
 *   issue meanwhile) answers 'expired'.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import type { Random } from '../core/random.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';

const MINUTE = 60_000;
/** NIST SP 800-63B §5.1.3: an out-of-band secret is valid for at most 10 minutes. */
export const MAX_CODE_LIFETIME_MS = 10 * MINUTE;
const MARKER_EXTRA_MS = 60 * MINUTE;
const CODE_DIGITS = 6;
const CODE_SPACE = 10 ** CODE_DIGITS;
// Largest multiple of 10^6 below 2^32: values at or above it are redrawn (no modulo bias).
const SAMPLE_LIMIT = Math.floor(2 ** 32 / CODE_SPACE) * CODE_SPACE;
const CODE_PATTERN = /^[0-9]{6}$/;

export interface OneTimeCodeOptions {
  /** How long a code stays valid (default 5 minutes, at most 10). */
  readonly lifetimeMs?: number;
  /** Wrong (or malformed) submissions before the code dies (default 5). */
  readonly maxAttempts?: number;
  /** Minimum time between two issues for one purpose (default 60 s). */
  readonly resendCooldownMs?: number;
  readonly digits?: 6;
}

export type IssueResult =
  | { ok: true; code: string; expiresAt: number; resendAfter: number }
  | CooldownRefusal;

export interface CooldownRefusal {
  ok: false;
  refused: 'cooldown';
  retryAfterMs: number;
}

export type VerifyCodeResult =
  | { ok: true }
  | { ok: false; reason: 'invalid'; attemptsLeft: number }
  | { ok: false; reason: 'expired' }
  | { ok: false; reason: 'too_many_attempts' }
  | { ok: false; reason: 'malformed' };

export class OneTimeCodes {
  readonly lifetimeMs: number;
  readonly maxAttempts: number;
  readonly resendCooldownMs: number;
  private readonly markerTtlMs: number;

  constructor(
    private readonly store: EphemeralStore,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly hashKey: Buffer,
    options: OneTimeCodeOptions = {},
  ) {
    if (!Buffer.isBuffer(hashKey) || hashKey.length < 16) throw new RangeError('hashKey must be at least 16 bytes');
    this.lifetimeMs = options.lifetimeMs ?? 5 * MINUTE;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.resendCooldownMs = options.resendCooldownMs ?? MINUTE;
    if (!Number.isSafeInteger(this.lifetimeMs) || this.lifetimeMs <= 0 || this.lifetimeMs > MAX_CODE_LIFETIME_MS) {
      throw new RangeError(`lifetimeMs must be between 1 and ${MAX_CODE_LIFETIME_MS} (NIST SP 800-63B: at most 10 minutes)`);
    }
    if (!Number.isSafeInteger(this.maxAttempts) || this.maxAttempts < 1 || this.maxAttempts > 100) {
      throw new RangeError('maxAttempts must be an integer between 1 and 100');
    }
    if (!Number.isSafeInteger(this.resendCooldownMs) || this.resendCooldownMs < 0) {
      throw new RangeError('resendCooldownMs must be a non-negative integer');
    }
    if (options.digits !== undefined && options.digits !== CODE_DIGITS) throw new RangeError('only 6-digit codes are supported');
    this.markerTtlMs = this.lifetimeMs + MARKER_EXTRA_MS;
  }

  /** Whether a code issued for `purpose` can still be entered (not used, killed, replaced or expired). */
  async isLive(purpose: string): Promise<boolean> {
    checkPurpose(purpose);
    return (await this.store.get(codeKey(purpose))) !== null;
  }

  /** Whether a new code may be issued for `purpose` now. */
  async canResend(purpose: string): Promise<{ ok: true } | CooldownRefusal> {
    checkPurpose(purpose);
    const remaining = await this.store.ttl(cooldownKey(purpose));
    return remaining === null ? { ok: true } : cooldown(remaining);
  }

  /**
   * Issues a fresh code for `purpose`, replacing (killing) any previous one and its attempt count.
   * Refused with `{ refused: 'cooldown' }` within `resendCooldownMs` of the previous issue.
   * The code in clear is only returned to the caller (for delivery); the store keeps its HMAC.
   */
  async issue(purpose: string): Promise<IssueResult> {
    checkPurpose(purpose);
    if (this.resendCooldownMs > 0) {
      const claimed = await this.claimCooldown(purpose);
      if (!claimed.ok) return claimed;
    }
    const now = this.clock.now();
    const code = this.drawCode();
    const nonce = Buffer.from(this.random.bytes(16)).toString('hex');
    await this.store.set(codeKey(purpose), `${nonce}.${this.hash(purpose, code)}`, this.lifetimeMs);
    await this.store.set(issuedKey(purpose), nonce, this.markerTtlMs);
    return { ok: true, code, expiresAt: now + this.lifetimeMs, resendAfter: now + this.resendCooldownMs };
  }

  /**
   * Checks `code` for `purpose`. The attempt is counted atomically before comparing, so parallel
   * guesses cannot exceed `maxAttempts`; the last allowed wrong attempt deletes the code. A correct
   * code is consumed with compareAndDelete, so it succeeds exactly once.
   */
  async verify(purpose: string, code: unknown): Promise<VerifyCodeResult> {
    checkPurpose(purpose);
    const wellFormed = typeof code === 'string' && CODE_PATTERN.test(code);
    const record = await this.store.get(codeKey(purpose));
    if (record === null) return wellFormed ? this.gone(purpose) : { ok: false, reason: 'malformed' };
    const dot = record.indexOf('.');
    const nonce = record.slice(0, dot);
    const storedHash = Buffer.from(record.slice(dot + 1), 'hex');

    const attempts = await this.store.increment(attemptsKey(nonce), 1, this.markerTtlMs, 'fixed');
    if (attempts > this.maxAttempts) {
      await this.store.compareAndDelete(codeKey(purpose), record);
      return { ok: false, reason: 'too_many_attempts' };
    }
    const attemptsLeft = this.maxAttempts - attempts;

    if (!wellFormed) {
      if (attemptsLeft === 0) await this.store.compareAndDelete(codeKey(purpose), record);
      return { ok: false, reason: 'malformed' };
    }
    const submittedHash = Buffer.from(this.hash(purpose, code), 'hex');
    const equal = storedHash.length === submittedHash.length && timingSafeEqual(storedHash, submittedHash);
    if (equal) {
      if (!(await this.store.compareAndDelete(codeKey(purpose), record))) return { ok: false, reason: 'expired' };
      await this.store.delete(attemptsKey(nonce));
      return { ok: true };
    }
    if (attemptsLeft === 0) await this.store.compareAndDelete(codeKey(purpose), record);
    return { ok: false, reason: 'invalid', attemptsLeft };
  }

  /**
   * Removes the live code for `purpose` (the send failed: leave no code behind) and lifts the resend
   * cooldown, since nothing was delivered. Send budgets (SendBudget) still count the attempt.
   */
  async discard(purpose: string): Promise<void> {
    checkPurpose(purpose);
    await this.store.delete(codeKey(purpose));
    await this.store.delete(cooldownKey(purpose));
  }

  private async gone(purpose: string): Promise<VerifyCodeResult> {
    const nonce = await this.store.get(issuedKey(purpose));
    if (nonce !== null) {
      const attempts = await this.store.get(attemptsKey(nonce));
      if (attempts !== null && Number(attempts) >= this.maxAttempts) {
        return { ok: false, reason: 'too_many_attempts' };
      }
    }
    return { ok: false, reason: 'expired' };
  }

  private async claimCooldown(purpose: string): Promise<{ ok: true } | CooldownRefusal> {
    for (let i = 0; i < 3; i++) {
      if (await this.store.setIfAbsent(cooldownKey(purpose), '1', this.resendCooldownMs)) return { ok: true };
      const remaining = await this.store.ttl(cooldownKey(purpose));
      if (remaining !== null) return cooldown(remaining);
      // The cooldown ended between the two calls: try to claim it again.
    }
    return cooldown(1);
  }

  /** Uniform 6-digit code: 32-bit samples, redrawn above the largest multiple of 10^6. */
  private drawCode(): string {
    for (;;) {
      const bytes = this.random.bytes(4);
      if (bytes.length !== 4) throw new Error('random source returned the wrong number of bytes');
      const sample = Buffer.from(bytes).readUInt32BE(0);
      if (sample < SAMPLE_LIMIT) return String(sample % CODE_SPACE).padStart(CODE_DIGITS, '0');
    }
  }

  private hash(purpose: string, code: string): string {
    return createHmac('sha256', this.hashKey).update(`${purpose}:${code}`, 'utf8').digest('hex');
  }
}

function cooldown(remainingMs: number): CooldownRefusal {
  return { ok: false, refused: 'cooldown', retryAfterMs: Math.max(1, remainingMs) };
}

function checkPurpose(purpose: string): void {
  if (typeof purpose !== 'string' || purpose.length === 0 || purpose.length > 200) {
    throw new RangeError('purpose must be a non-empty string of at most 200 characters');
  }
}

/** Store keys, exported for tests and for operators reading the store. */
export const oneTimeCodeKeys = {
  code: codeKey,
  issued: issuedKey,
  attempts: attemptsKey,
  cooldown: cooldownKey,
} as const;

function codeKey(purpose: string): string {
  return `otc:${purpose}`;
}
function issuedKey(purpose: string): string {
  return `otc-issued:${purpose}`;
}
function attemptsKey(nonce: string): string {
  return `otc-attempts:${nonce}`;
}
function cooldownKey(purpose: string): string {
  return `otc-cooldown:${purpose}`;
}
