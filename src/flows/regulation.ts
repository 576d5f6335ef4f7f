import { fromContext, NO_AUDIT, type AuditContext, type AuditRecorder } from '../audit/audit.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import { addressKey } from './address-key.ts';

export { addressKey } from './address-key.ts';

/**
 * Failed-attempt regulation that stops the attacker, not the owner (THREATS T8, T21).
 *
 * Failures are counted per *origin* of an account: the account from one client address (IPv6 per
 * /64), or the account from one of its known devices (the signed `spg_device` cookie of an earlier
 * fully verified sign-in). Bans grow on repeat, but they close only that origin: an attacker's
 * failures from elsewhere never stop the owner at a known device or at another address. Failures
 * are also counted per address across accounts (spraying). Account-wide, failures from unknown
 * origins only *slow* sign-in (a short, bounded delay between attempts), never ban it.
 *
 * An attempt takes its slot in each counter *before* the password or code is checked, in one
 * atomic store call per counter (`takeSlot`), so 200 parallel guesses on any number of replicas let
 * exactly `max_failures` of them be judged. A ban is written over the counter itself, so no attempt
 * can slip in between "is it banned?" and "count it".
 */

export interface RegulationLimits {
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly banMs: number;
  readonly maxBanMs: number;
}

/** Account-wide slowing: after `after` failures in `windowMs`, one attempt per delay (doubling, capped). */
export interface ThrottleLimits {
  readonly after: number;
  readonly windowMs: number;
  readonly delayMs: number;
  readonly maxDelayMs: number;
}

export type AttemptOutcome = 'success' | 'failure' | 'neutral';

/**
 * What refused or banned: 'account' — this account from this address; 'device' — this account from
 * this known device; 'address' — this address for every account; 'throttle' — the account-wide delay.
 */
export type Subject = 'account' | 'device' | 'address' | 'throttle';

/** What the owner is told about (rate-limited by the notifier). */
export type AttackEvent = 'origin_locked' | 'throttled';

export interface SettleResult {
  /** Set when this failure closed the origin (account+address or account+device): how long. */
  readonly lockedForMs: number | null;
}

export type Reservation =
  | {
      readonly ok: true;
      /** Failures still allowed from here after this attempt, should it fail (the smallest over the counters). */
      readonly remaining: number;
      settle(outcome: AttemptOutcome): Promise<SettleResult>;
    }
  | { readonly ok: false; readonly retryAfterMs: number; readonly subject: Subject };

/** Where an attempt comes from, beyond its address. */
export interface Origin {
  /** The id of a device cookie that is known for this account (verified by the risk service), or null. */
  readonly knownDevice?: string | null | undefined;
}

interface Counter {
  readonly kind: Exclude<Subject, 'throttle'>;
  readonly key: string;
  readonly limits: RegulationLimits;
}

const BAN_LEVEL_TTL_MS = 24 * 3_600_000;
/** The value that closes a counter (`takeSlot` refuses any non-number). */
const BAN = 'ban';
/** Support's unlock moves the account to a new epoch: every per-origin counter and ban of the old one is left behind. */
const EPOCH_TTL_MS = 40 * 24 * 3_600_000;

export interface RegulationOptions {
  /** Account-wide slowing of unknown origins; none: no account-wide limit (the second factor has its own cap). */
  readonly throttle?: ThrottleLimits | null;
  /** Told when an origin of an account is closed or the account starts being slowed (the owner's notice). */
  readonly onAttack?: (account: string, event: AttackEvent) => Promise<void>;
}

export class Regulation {
  /**
   * `namespace` keeps separate counters for separate things counted the same way: password
   * failures ('') and second-factor failures ('factor:').
   */
  constructor(
    private readonly store: EphemeralStore,
    private readonly limits: { readonly account: RegulationLimits; readonly address: RegulationLimits },
    private readonly namespace = '',
    /** Records each ban (who, which subject, how long) in the audit trail. */
    private readonly audit: AuditRecorder = NO_AUDIT,
    private readonly options: RegulationOptions = {},
  ) {}

  private epochKey(account: string): string {
    return `${this.namespace}epoch:${account}`;
  }

  /** The account-wide failure count (what support sees as recent failures, and what the throttle reads). */
  private accountKey(account: string): string {
    return `fail:${this.namespace}acct:${account}`;
  }

  private throttleSlotKey(account: string): string {
    return `${this.namespace}throttle:${account}`;
  }

  /** Lives as long as the longest pause of any origin of the account: what support sees as "paused somewhere". */
  private pausedKey(account: string): string {
    return `${this.namespace}paused:${account}`;
  }

  private async counters(account: string, address: string, origin: Origin): Promise<Counter[]> {
    const epoch = (await this.store.get(this.epochKey(account))) ?? '0';
    // The account comes last: addresses, device ids and epochs hold no '|', so no two pairs share a key.
    if (origin.knownDevice) {
      return [{ kind: 'device', key: `${this.namespace}from|dev|${origin.knownDevice}|${epoch}|${account}`, limits: this.limits.account }];
    }
    const where = addressKey(address);
    return [
      { kind: 'account', key: `${this.namespace}from|addr|${where}|${epoch}|${account}`, limits: this.limits.account },
      { kind: 'address', key: `${this.namespace}addr:${where}`, limits: this.limits.address },
    ];
  }

  /** The ban that closes this origin of the account, if any (no slot is taken). */
  async banned(account: string, address: string, origin: Origin = {}): Promise<{ retryAfterMs: number; subject: Subject } | null> {
    for (const counter of await this.counters(account, address, origin)) {
      const key = `fail:${counter.key}`;
      const [value, left] = await Promise.all([this.store.get(key), this.store.ttl(key)]);
      if (value === BAN && left !== null) return { retryAfterMs: left, subject: counter.kind };
    }
    return null;
  }

  private async ban(counter: Counter, account: string, address: string, context: AuditContext | undefined): Promise<number> {
    // The level must outlive the longest ban, or a ban at the cap would be followed by the shortest.
    const levelTtl = Math.max(BAN_LEVEL_TTL_MS, 2 * counter.limits.maxBanMs + counter.limits.windowMs);
    const level = await this.store.increment(`banlevel:${counter.key}`, 1, levelTtl, 'sliding');
    const ms = Math.min(counter.limits.banMs * 2 ** Math.min(level - 1, 20), counter.limits.maxBanMs);
    await this.store.set(`fail:${counter.key}`, BAN, ms);
    this.audit.record({
      event: 'ban',
      outcome: 'info',
      user: account,
      reason: 'too_many_failures',
      ...fromContext({ client: address, ...context }, {
        subject: counter.kind,
        scope: this.scope(),
        ban_seconds: Math.ceil(ms / 1000),
        level: level,
      }),
    });
    if (counter.kind !== 'address') {
      const longest = (await this.store.ttl(this.pausedKey(account))) ?? 0;
      if (ms > longest) await this.store.set(this.pausedKey(account), counter.kind, ms);
      await this.options.onAttack?.(account, 'origin_locked');
    }
    return ms;
  }

  private scope(): 'password' | 'second_factor' {
    return this.namespace === '' ? 'password' : 'second_factor';
  }

  /** Gives back slots taken by an attempt that was never judged. */
  private async giveBack(counters: readonly Counter[]): Promise<void> {
    for (const counter of counters) await this.store.decrementIfPresent(`fail:${counter.key}`);
  }

  /**
   * The account-wide count of attempts from unknown places (taken now, like a slot, so attempts in
   * flight count too: 200 parallel guesses from 200 addresses are slowed like 200 in a row). Beyond
   * `after`, each attempt must also win the account's delay slot. Returns the count taken, or the
   * wait when refused (the count is given back then).
   */
  private async takeAccountSlot(account: string): Promise<{ ok: true; count: number } | { ok: false; retryAfterMs: number }> {
    const throttle = this.options.throttle;
    const count = await this.store.increment(this.accountKey(account), 1, throttle?.windowMs ?? this.limits.account.windowMs);
    if (!throttle || count <= throttle.after) return { ok: true, count };
    const delay = Math.min(throttle.delayMs * 2 ** Math.min(count - 1 - throttle.after, 20), throttle.maxDelayMs);
    if (await this.store.setIfAbsent(this.throttleSlotKey(account), '1', delay)) return { ok: true, count };
    await this.store.decrementIfPresent(this.accountKey(account));
    return { ok: false, retryAfterMs: (await this.store.ttl(this.throttleSlotKey(account))) ?? delay };
  }

  /**
   * `context` only feeds the audit record of a ban this attempt may cause; `origin.knownDevice`
   * counts the attempt against that device of the account instead of its address.
   */
  async reserve(account: string, address: string, context?: AuditContext, origin: Origin = {}): Promise<Reservation> {
    const counters = await this.counters(account, address, origin);
    const taken: Array<{ counter: Counter; count: number }> = [];
    for (const counter of counters) {
      const slot = await this.store.takeSlot(`fail:${counter.key}`, counter.limits.maxFailures, counter.limits.windowMs);
      if (!slot.ok) {
        // Banned, or more attempts in flight than failures allowed: this one is never judged.
        await this.giveBack(taken.map((t) => t.counter));
        return { ok: false, retryAfterMs: slot.retryAfterMs, subject: counter.kind };
      }
      taken.push({ counter, count: slot.count });
    }
    // A known device is the owner's own browser: it is neither counted account-wide nor slowed.
    let accountCount: number | null = null;
    if (!origin.knownDevice) {
      const slot = await this.takeAccountSlot(account);
      if (!slot.ok) {
        await this.giveBack(counters);
        return { ok: false, retryAfterMs: slot.retryAfterMs, subject: 'throttle' };
      }
      accountCount = slot.count;
    }
    let settled = false;
    return {
      ok: true,
      remaining: Math.min(...taken.map((t) => t.counter.limits.maxFailures - t.count)),
      settle: async (outcome) => {
        if (settled) return { lockedForMs: null };
        settled = true;
        if (outcome === 'neutral') {
          await this.giveBack(counters);
          if (accountCount !== null) await this.store.decrementIfPresent(this.accountKey(account));
          return { lockedForMs: null };
        }
        if (outcome === 'success') {
          // This origin proved the secret: its slate and the account-wide count are wiped. The
          // address's count is only given back: one valid account must not launder an address's failures.
          for (const { counter } of taken) {
            if (counter.kind === 'address') await this.store.decrementIfPresent(`fail:${counter.key}`);
            else await this.store.delete(`fail:${counter.key}`);
          }
          await this.store.delete(this.accountKey(account));
          return { lockedForMs: null };
        }
        let lockedForMs: number | null = null;
        for (const t of taken) {
          if (t.count < t.counter.limits.maxFailures) continue;
          const ms = await this.ban(t.counter, account, address, context);
          if (t.counter.kind !== 'address') lockedForMs = ms;
        }
        const throttle = this.options.throttle;
        if (throttle && accountCount === throttle.after) {
          // Recorded as a ban of the 'throttle' subject: the account is slowed, not closed.
          this.audit.record({ event: 'ban', outcome: 'info', user: account, reason: 'throttled', ...fromContext({ client: address, ...context }, { subject: 'throttle', scope: this.scope(), failures: accountCount }) });
          await this.options.onAttack?.(account, 'throttled');
        }
        return { lockedForMs };
      },
    };
  }

  /**
   * What support sees of an account: how long the longest pause of one of its origins, or the
   * account-wide delay, still lasts (null: none), and its recent failures.
   */
  async accountState(account: string): Promise<{ bannedForMs: number | null; failures: number }> {
    const [paused, slowed, failures] = await Promise.all([
      this.store.ttl(this.pausedKey(account)),
      this.store.ttl(this.throttleSlotKey(account)),
      this.store.get(this.accountKey(account)),
    ]);
    const left = Math.max(paused ?? -1, slowed ?? -1);
    return { bannedForMs: left < 0 ? null : left, failures: Number(failures ?? '0') || 0 };
  }

  /**
   * Support's unlock: every origin of the account starts afresh (counters, bans and ban levels are
   * left behind in the old epoch), the account-wide delay ends, and optionally an address's ban too.
   */
  async unlock(account: string, address?: string): Promise<void> {
    await this.store.increment(this.epochKey(account), 1, EPOCH_TTL_MS, 'sliding');
    await this.store.delete(this.accountKey(account));
    await this.store.delete(this.throttleSlotKey(account));
    await this.store.delete(this.pausedKey(account));
    if (address) {
      const key = `${this.namespace}addr:${addressKey(address)}`;
      await this.store.delete(`fail:${key}`);
      await this.store.delete(`banlevel:${key}`);
    }
  }
}
