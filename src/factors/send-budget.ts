/**
 * Send budgets against SMS pumping and resend abuse (THREATS T9): every code sent by SMS or email
 * first takes one slot in four fixed-window counters — per account, per destination (phone number or
 * address), per client address and global. A refusal in any scope gives back the slots already
 * taken, so a refused send costs nothing in the other scopes.
 *
 * Decision (issue 13): the budgets stop pumping, not people. A code that was entered correctly
 * gives its slot back in the per-account and per-destination scopes (`giveBack`), so a merchant
 * who signs in, enables 2FA, exports and disables it in one sitting never meets a limit, while a
 * resend loop (codes nobody enters) still does. The per-address and global scopes keep counting
 * every send: they bound volume across accounts, and a pumper who can read the codes (owning the
 * numbers) still pays there. Give-backs are themselves capped per account at `perAccount.max` per
 * `perAccount.windowMs`, so one account that verifies every code sends at most twice its budget.
 *
 * Keys: `send:account:<account>`, `send:destination:<destination>`, `send:address:<client address>`,
 * `send:global`. Account and destination are compared case-insensitively (lower-cased here); the
 * caller passes destinations in canonical form (E.164 phone numbers, addresses as stored).
 */
import type { EphemeralStore } from '../store/ephemeral.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export interface BudgetLimit {
  /** Sends allowed per window. */
  readonly max: number;
  /** Window length in milliseconds (fixed windows, starting at the first send). */
  readonly windowMs: number;
}

export type SendScope = 'account' | 'destination' | 'address' | 'global';

export interface SendBudgetLimits {
  readonly perAccount: BudgetLimit;
  readonly perDestination: BudgetLimit;
  readonly perAddress: BudgetLimit;
  readonly global: BudgetLimit;
}

export const DEFAULT_SEND_LIMITS: SendBudgetLimits = Object.freeze({
  perAccount: { max: 10, windowMs: HOUR },
  // SMS providers cap around 3 sends per number per 10 minutes; stay within that.
  perDestination: { max: 3, windowMs: 10 * MINUTE },
  perAddress: { max: 20, windowMs: HOUR },
  global: { max: 1000, windowMs: HOUR },
});

/** Which limit governs each scope. */
const LIMIT_OF: Readonly<Record<SendScope, keyof SendBudgetLimits>> = {
  account: 'perAccount',
  destination: 'perDestination',
  address: 'perAddress',
  global: 'global',
};

export type SendReservation = { ok: true } | { ok: false; scope: SendScope; retryAfterMs: number };

const ORDER: readonly SendScope[] = ['account', 'destination', 'address', 'global'];

export class SendBudget {
  readonly limits: SendBudgetLimits;

  constructor(private readonly store: EphemeralStore, limits: Partial<SendBudgetLimits> = {}) {
    const merged = { ...DEFAULT_SEND_LIMITS, ...limits };
    for (const scope of ORDER) {
      const name = LIMIT_OF[scope];
      const limit = merged[name];
      if (!Number.isSafeInteger(limit.max) || limit.max < 1) throw new RangeError(`${name}.max must be a positive integer`);
      if (!Number.isSafeInteger(limit.windowMs) || limit.windowMs < 1) {
        throw new RangeError(`${name}.windowMs must be a positive integer`);
      }
    }
    this.limits = Object.freeze(merged);
  }

  /**
   * Takes one send slot in every scope, or none: the first scope over its limit refuses with the time
   * until its window ends, and the slots taken before it (and its own overshoot) are given back.
   */
  async reserve(account: string, destination: string, clientAddress: string): Promise<SendReservation> {
    const keys: Record<SendScope, string> = {
      account: accountKey(account),
      destination: destinationKey(destination),
      address: `send:address:${checked('clientAddress', clientAddress)}`,
      global: 'send:global',
    };
    const taken: string[] = [];
    for (const scope of ORDER) {
      const { max, windowMs } = this.limits[LIMIT_OF[scope]];
      const key = keys[scope];
      const count = await this.store.increment(key, 1, windowMs, 'fixed');
      taken.push(key);
      if (count > max) {
        const remaining = await this.store.ttl(key);
        await Promise.all(taken.map((k) => this.store.decrementIfPresent(k)));
        return { ok: false, scope, retryAfterMs: Math.max(1, remaining ?? 1) };
      }
    }
    return { ok: true };
  }

  /**
   * What a send must remember to give its slots back later: when it happened (`now`, the caller's
   * clock) and the time then left in the account and destination windows it counted in.
   */
  async receipt(account: string, destination: string, now: number): Promise<SendReceipt> {
    const [accountLeft, destinationLeft] = await Promise.all([this.store.ttl(accountKey(account)), this.store.ttl(destinationKey(destination))]);
    return { at: now, account: accountLeft ?? 0, destination: destinationLeft ?? 0 };
  }

  /**
   * A code was entered correctly: its send's slot in the account and destination scopes is given
   * back, in each window that is still the one the send counted in (a window that ended took the
   * slot with it: a later one ends at least a whole window later than the send's would), while the
   * account has give-backs left in this window. Returns whether it was.
   */
  async giveBack(account: string, destination: string, receipt: SendReceipt, now: number): Promise<boolean> {
    const returnedKey = `send:returned:${checked('account', account).toLowerCase()}`;
    const { max, windowMs } = this.limits.perAccount;
    if ((await this.store.increment(returnedKey, 1, windowMs, 'fixed')) > max) {
      await this.store.decrementIfPresent(returnedKey);
      return false;
    }
    const scopes: Array<[string, number, number]> = [
      [accountKey(account), receipt.account, windowMs],
      [destinationKey(destination), receipt.destination, this.limits.perDestination.windowMs],
    ];
    for (const [key, leftAtSend, window] of scopes) {
      const left = await this.store.ttl(key);
      const expected = leftAtSend - (now - receipt.at);
      // Slack for clocks of replicas and the store; far below a window, which tells windows apart.
      if (left !== null && Math.abs(left - expected) < Math.min(WINDOW_SLACK_MS, window / 2)) await this.store.decrementIfPresent(key);
    }
    return true;
  }
}

const WINDOW_SLACK_MS = 2_000;

/** When a send happened and the time then left in its account and destination windows (milliseconds). */
export interface SendReceipt {
  readonly at: number;
  readonly account: number;
  readonly destination: number;
}

const accountKey = (account: string): string => `send:account:${checked('account', account).toLowerCase()}`;
const destinationKey = (destination: string): string => `send:destination:${checked('destination', destination).toLowerCase()}`;

function checked(name: string, value: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 320) {
    throw new RangeError(`${name} must be a non-empty string of at most 320 characters`);
  }
  return value;
}
