import { isIP } from 'node:net';
import { fromContext, NO_AUDIT, type AuditContext, type AuditRecorder } from '../audit/audit.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';

/**
 * Failed-login regulation per account and per client address, with bans that grow on repeat.
 * An attempt reserves its slot in the counter *before* the password is checked, so 200 parallel
 * guesses let exactly `max_failures` of them reach the upstream: the counter is the gate, not a
 * tally taken afterwards.
 */

export interface RegulationLimits {
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly banMs: number;
  readonly maxBanMs: number;
}

export type AttemptOutcome = 'success' | 'failure' | 'neutral';

export type Reservation =
  | {
      readonly ok: true;
      /** Failures still allowed after this attempt, should it fail (the smallest over the subjects). */
      readonly remaining: number;
      settle(outcome: AttemptOutcome): Promise<void>;
    }
  | { readonly ok: false; readonly retryAfterMs: number; readonly subject: 'account' | 'address' };

interface Subject {
  readonly kind: 'account' | 'address';
  readonly key: string;
  readonly limits: RegulationLimits;
}

const BAN_LEVEL_TTL_MS = 24 * 3_600_000;

/** IPv6 clients get a whole /64 each, so one is counted per /64. */
export function addressKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const groups = expandIPv6(address);
  return `${groups.slice(0, 4).join(':')}::/64`;
}

function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(missing).fill('0'), ...right].map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''));
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
  ) {}

  private subjects(account: string, address: string): Subject[] {
    return [
      { kind: 'account', key: `${this.namespace}acct:${account}`, limits: this.limits.account },
      { kind: 'address', key: `${this.namespace}addr:${addressKey(address)}`, limits: this.limits.address },
    ];
  }

  /** Remaining ban of the account or the address, if any (no slot is taken). */
  async banned(account: string, address: string): Promise<{ retryAfterMs: number; subject: 'account' | 'address' } | null> {
    for (const subject of this.subjects(account, address)) {
      const left = await this.store.ttl(`ban:${subject.key}`);
      if (left !== null) return { retryAfterMs: left, subject: subject.kind };
    }
    return null;
  }

  private async ban(subject: Subject, account: string, address: string, context: AuditContext | undefined): Promise<number> {
    // The level must outlive the longest ban, or a ban at the cap would be followed by the shortest.
    const levelTtl = Math.max(BAN_LEVEL_TTL_MS, 2 * subject.limits.maxBanMs + subject.limits.windowMs);
    const level = await this.store.increment(`banlevel:${subject.key}`, 1, levelTtl, 'sliding');
    const ms = Math.min(subject.limits.banMs * 2 ** Math.min(level - 1, 20), subject.limits.maxBanMs);
    await this.store.set(`ban:${subject.key}`, '1', ms);
    await this.store.delete(`fail:${subject.key}`);
    this.audit.record({
      event: 'ban',
      outcome: 'info',
      user: account,
      reason: 'too_many_failures',
      ...fromContext({ client: address, ...context }, {
        subject: subject.kind,
        scope: this.namespace === '' ? 'password' : 'second_factor',
        ban_seconds: Math.ceil(ms / 1000),
        level: level,
      }),
    });
    return ms;
  }

  /** `context` only feeds the audit record of a ban this attempt may cause. */
  async reserve(account: string, address: string, context?: AuditContext): Promise<Reservation> {
    const existing = await this.banned(account, address);
    if (existing) return { ok: false, ...existing };
    const subjects = this.subjects(account, address);
    const taken: Array<{ subject: Subject; count: number }> = [];
    for (const subject of subjects) {
      const count = await this.store.increment(`fail:${subject.key}`, 1, subject.limits.windowMs);
      taken.push({ subject, count });
      if (count > subject.limits.maxFailures) {
        // More attempts in flight than failures allowed: this one never reaches the upstream.
        for (const t of taken) await this.store.decrementIfPresent(`fail:${t.subject.key}`);
        const left = (await this.store.ttl(`ban:${subject.key}`)) ?? subject.limits.windowMs;
        return { ok: false, retryAfterMs: left, subject: subject.kind };
      }
    }
    let settled = false;
    return {
      ok: true,
      remaining: Math.min(...taken.map((t) => t.subject.limits.maxFailures - t.count)),
      settle: async (outcome) => {
        if (settled) return;
        settled = true;
        if (outcome === 'neutral') {
          for (const t of taken) await this.store.decrementIfPresent(`fail:${t.subject.key}`);
          return;
        }
        if (outcome === 'success') {
          // Only the account's slate is wiped: one valid account must not launder an address's failures.
          await this.store.delete(`fail:${this.namespace}acct:${account}`);
          const address = taken.find((t) => t.subject.kind === 'address');
          if (address) await this.store.decrementIfPresent(`fail:${address.subject.key}`);
          return;
        }
        for (const t of taken) {
          if (t.count >= t.subject.limits.maxFailures) await this.ban(t.subject, account, address, context);
        }
      },
    };
  }

  /** What support sees of an account: its current ban (ms left) and failures in the window. */
  async accountState(account: string): Promise<{ bannedForMs: number | null; failures: number }> {
    const key = `${this.namespace}acct:${account}`;
    const [banLeft, failures] = await Promise.all([this.store.ttl(`ban:${key}`), this.store.get(`fail:${key}`)]);
    return { bannedForMs: banLeft, failures: Number(failures ?? '0') || 0 };
  }

  /** Support's unlock: clears counters and bans of an account (and optionally an address). */
  async unlock(account: string, address?: string): Promise<void> {
    const keys = [`${this.namespace}acct:${account}`, ...(address ? [`${this.namespace}addr:${addressKey(address)}`] : [])];
    for (const key of keys) {
      await this.store.delete(`ban:${key}`);
      await this.store.delete(`fail:${key}`);
      await this.store.delete(`banlevel:${key}`);
    }
  }
}
