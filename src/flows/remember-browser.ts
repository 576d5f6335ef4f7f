import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { fromContext, type AuditContext, type AuditRecorder } from '../audit/audit.ts';
import type { Logger } from '../observability/logger.ts';
import type { Clock } from '../core/clock.ts';
import type { Random } from '../core/random.ts';
import type { RememberedBrowser, RememberedBrowserStore } from '../store/remembered-browsers.ts';
import type { CompiledPolicy } from '../policy/types.ts';
import { honouredUntil, rememberAllowance, returnRule, type RememberAllowance } from '../policy/remember-browser-policy.ts';
import { browserLabel } from './browser-label.ts';

export { browserLabel } from './browser-label.ts';

/**
 * "Don't ask again on this browser" (issue 17). After a successful second factor at sign-in the
 * user may have the browser remembered: the browser then gets its own cookie `<id>.<secret>`
 * (`spg_rb`), and the server keeps, per account, the SHA-256 of the secret bound to the browser's
 * device id (the signed device cookie, src/risk/device.ts), the enrollment it was made under, and
 * its times. A later sign-in with the right password from that browser skips the second factor
 * when every one of these holds:
 *   - the record exists (not revoked by the user or support) and has not expired;
 *   - the secret matches (constant-time) and the browser's device cookie verifies to the bound id;
 *   - the account's factors are exactly those it was remembered under (`factorState`);
 *   - the sign-in does not score high risk (then the record is dropped and the code asked).
 * Each use rotates the secret (compare-and-set: a copied old token loses, and presenting an old
 * secret drops the record as a sign of theft). Remembering skips only the sign-in second factor,
 * never a step-up: step-up freshness lives in the session's per-category verifications.
 *
 * Password changes at the upstream: the sidecar sees the password at each sign-in and keeps one
 * keyed fingerprint of it per account (HMAC-SHA256 under a key derived from the device-cookie
 * keys; never the password, never an unkeyed hash). A successful sign-in with a password whose
 * fingerprint differs drops every remembered browser of the account (README, Security model).
 */

export interface RememberBrowserConfig {
  readonly enabled: boolean;
  readonly days: number;
}

/** Records per account; the least recently used go first. */
const MAX_REMEMBERED_PER_ACCOUNT = 20;

const ID_BYTES = 16;
const SECRET_BYTES = 32;
const COOKIE_PATTERN = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
const FINGERPRINT_CONTEXT = 'smartpush-guard password-fingerprint v1';

/** Why a presented cookie did not skip the second factor. */
export type RememberRefusal = 'malformed' | 'unknown' | 'expired' | 'other_device' | 'factors_changed' | 'token_reuse'
  /** Older than the policy's (shorter) days now in force: not honoured, but kept (README, Remembered browsers). */
  | 'policy_window';

export type RememberCheck =
  | { readonly ok: true; readonly record: RememberedBrowser }
  | { readonly ok: false; readonly reason: RememberRefusal };

export interface RememberedBrowsersDeps {
  readonly store: RememberedBrowserStore;
  readonly config: RememberBrowserConfig;
  readonly clock: Clock;
  readonly random: Random;
  readonly audit: AuditRecorder;
  readonly logger: Logger;
  /** HMAC keys (the device-cookie keys, newest first); the fingerprint key is derived from them. */
  readonly keys: readonly Buffer[];
  /**
   * `factorState` of the account's enrollment now (null without 2FA): records made under other
   * factors can never serve, so they are not listed. Absent: every unexpired record is listed.
   */
  readonly currentFactors?: (user: string) => Promise<string | null>;
  /** The route policy in force (its `remember_browser` narrows the config); absent: the config alone. */
  readonly policy?: () => CompiledPolicy;
}

export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('base64url');

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class RememberedBrowsers {
  private readonly fingerprintKeys: readonly Buffer[];

  constructor(private readonly deps: RememberedBrowsersDeps) {
    if (deps.keys.length === 0) throw new RangeError('RememberedBrowsers needs at least one key');
    this.fingerprintKeys = deps.keys.map((key) => createHmac('sha256', key).update(`${FINGERPRINT_CONTEXT} key`).digest());
  }

  get enabled(): boolean {
    return this.deps.config.enabled;
  }

  get days(): number {
    return this.deps.config.days;
  }

  /** The cookie's Max-Age in seconds. */
  get maxAgeSeconds(): number {
    return this.deps.config.days * 86_400;
  }

  /**
   * What the config and the policy in force allow for a sign-in returning to `returnTo` (a safe
   * same-origin path) on `hostname`: read at each sign-in, so a policy reload applies to the next one.
   */
  allowance(returnTo: string | undefined, hostname: string): RememberAllowance {
    const policy = this.deps.policy?.();
    const spec = policy?.rememberBrowser ?? null;
    const rule = policy && spec && spec.exceptRules.length > 0 && returnTo !== undefined ? returnRule(policy, returnTo, hostname) : null;
    return rememberAllowance(this.deps.config, spec, rule);
  }

  private newSecret(): { secret: string; hash: string } {
    const secret = this.deps.random.bytes(SECRET_BYTES).toString('base64url');
    return { secret, hash: hashSecret(secret) };
  }

  /** Remembers this browser for `user` after a verified second factor; returns the cookie value. */
  async issue(input: { user: string; deviceId: string; userAgent: string; factors: string; verifiedAt: number; days?: number; context?: AuditContext }): Promise<string> {
    const now = this.deps.clock.now();
    const days = input.days ?? this.deps.config.days;
    const id = this.deps.random.bytes(ID_BYTES).toString('base64url');
    const { secret, hash } = this.newSecret();
    const record: RememberedBrowser = {
      id,
      user: input.user,
      tokenHash: hash,
      deviceId: input.deviceId,
      label: browserLabel(input.userAgent),
      factors: input.factors,
      createdAt: now,
      lastUsedAt: now,
      expiresAt: now + days * 86_400_000,
      verifiedAt: input.verifiedAt,
    };
    await this.deps.store.add(record, MAX_REMEMBERED_PER_ACCOUNT);
    this.deps.audit.record({
      event: 'remembered_browser_added',
      outcome: 'success',
      user: input.user,
      ...fromContext(input.context, { browser: id, label: record.label, days }),
    });
    return `${id}.${secret}`;
  }

  /**
   * Whether `cookie` remembers this browser for `user` now. Records that can never serve again
   * (expired, other factors, another device, an old secret) are dropped on the way.
   */
  async check(input: { user: string; cookie: string; deviceId: string | null; factors: string; days?: number; context?: AuditContext }): Promise<RememberCheck> {
    const match = COOKIE_PATTERN.exec(input.cookie);
    if (!match) return { ok: false, reason: 'malformed' };
    const id = match[1] as string;
    const secret = match[2] as string;
    const record = await this.deps.store.get(input.user, id);
    if (!record) return { ok: false, reason: 'unknown' };
    const now = this.deps.clock.now();
    const refuse = async (reason: RememberRefusal): Promise<RememberCheck> => {
      await this.drop(input.user, id, reason, input.context);
      return { ok: false, reason };
    };
    if (!sameHash(hashSecret(secret), record.tokenHash)) return refuse('token_reuse');
    if (now >= record.expiresAt) return refuse('expired');
    if (input.deviceId === null || !sameHash(input.deviceId, record.deviceId)) return refuse('other_device');
    if (!sameHash(input.factors, record.factors)) return refuse('factors_changed');
    // The policy's days now in force, when shorter than the record's own: honoured only within them (kept).
    if (input.days !== undefined && now >= honouredUntil(record, input.days)) return { ok: false, reason: 'policy_window' };
    return { ok: true, record };
  }

  /**
   * Uses a record that `check` accepted: a new secret replaces the old one (compare-and-set).
   * Returns the new cookie value, or null when another use of the same token won the race.
   */
  async use(record: RememberedBrowser, userAgent: string, context?: AuditContext): Promise<string | null> {
    const now = this.deps.clock.now();
    const { secret, hash } = this.newSecret();
    const next: RememberedBrowser = { ...record, tokenHash: hash, lastUsedAt: now, label: browserLabel(userAgent) };
    if (!(await this.deps.store.rotate(record.user, record.id, record.tokenHash, next))) return null;
    this.deps.audit.record({ event: 'remembered_browser_used', outcome: 'success', user: record.user, ...fromContext(context, { browser: record.id, label: next.label }) });
    return `${record.id}.${secret}`;
  }

  /** The account's remembered browsers that can still serve (unexpired, made under the current factors), oldest first. */
  async list(user: string): Promise<RememberedBrowser[]> {
    const now = this.deps.clock.now();
    const records = (await this.deps.store.list(user)).filter((r) => r.expiresAt > now);
    if (!this.deps.currentFactors || records.length === 0) return records;
    const factors = await this.deps.currentFactors(user);
    return records.filter((r) => factors !== null && r.factors === factors);
  }

  /** The user (or support, with `actor`) forgets one browser; false when there was none. */
  async revoke(user: string, id: string, context?: AuditContext & { actor?: string; reason?: string }): Promise<boolean> {
    const removed = await this.deps.store.remove(user, id);
    if (removed) {
      this.deps.audit.record({
        event: 'remembered_browser_revoked',
        outcome: 'success',
        user,
        ...(context?.actor !== undefined ? { actor: context.actor } : {}),
        ...(context?.reason !== undefined ? { reason: context.reason } : {}),
        ...fromContext(context, { browser: id }),
      });
    }
    return removed;
  }

  /** Drops every remembered browser of the account, audited with `reason`; how many there were. */
  async forgetAll(user: string, reason: string, context?: AuditContext & { actor?: string }): Promise<number> {
    const n = await this.deps.store.removeAll(user);
    if (n > 0) {
      this.deps.audit.record({
        event: 'remembered_browsers_dropped',
        outcome: 'info',
        user,
        reason,
        ...(context?.actor !== undefined ? { actor: context.actor } : {}),
        ...fromContext(context, { count: n }),
      });
      this.deps.logger.info({ event: 'remembered_browsers_dropped', user, reason, count: n }, 'remembered browsers dropped');
    }
    return n;
  }

  /** Logs a failure to drop records (forgetRememberedBrowsers never throws). */
  reportError(error: unknown, user: string, reason: string): void {
    this.deps.logger.error({ err: error, user, reason }, 'could not drop the remembered browsers');
  }

  /** Drops one record that can no longer serve (`reason`: high_risk, expired, other_device…); audited. */
  async drop(user: string, id: string, reason: string, context?: AuditContext): Promise<boolean> {
    const removed = await this.deps.store.remove(user, id);
    if (removed) this.deps.audit.record({ event: 'remembered_browsers_dropped', outcome: 'info', user, reason, ...fromContext(context, { browser: id, count: 1 }) });
    return removed;
  }

  private fingerprint(key: Buffer, user: string, password: string): string {
    return createHmac('sha256', key).update(`${FINGERPRINT_CONTEXT}\0${user}\0`).update(password, 'utf8').digest('base64url');
  }

  /**
   * After the upstream accepted `password` for `user`: when it is not the password of the last
   * sign-in (its keyed fingerprint differs) every remembered browser is dropped. The fingerprint
   * is then kept under the newest key.
   */
  async passwordAccepted(user: string, password: string, context?: AuditContext): Promise<void> {
    const stored = await this.deps.store.passwordFingerprint(user);
    const current = this.fingerprint(this.fingerprintKeys[0] as Buffer, user, password);
    if (stored !== null && sameHash(stored, current)) return;
    const sameUnderOlderKey = stored !== null && this.fingerprintKeys.slice(1).some((key) => sameHash(stored, this.fingerprint(key, user, password)));
    if (stored !== null && !sameUnderOlderKey) await this.forgetAll(user, 'password_changed', context);
    await this.deps.store.setPasswordFingerprint(user, current);
  }
}

/**
 * THE call for every change of an account's factors (enable, disable, method or destination
 * change, recovery codes regenerated, passkeys added or removed) and for support actions (2FA
 * reset, session revoke, unlock, destination change): every remembered browser of the account is
 * dropped, audited with `reason`. Never throws (the change it follows has happened; records made
 * under other factors are refused anyway by their factor binding) and does nothing without the
 * feature wired.
 */
export async function forgetRememberedBrowsers(
  remembered: RememberedBrowsers | null | undefined,
  user: string,
  reason: string,
  context?: AuditContext & { actor?: string },
): Promise<number> {
  if (!remembered) return 0;
  try {
    return await remembered.forgetAll(user, reason, context);
  } catch (error) {
    remembered.reportError(error, user, reason);
    return 0;
  }
}
