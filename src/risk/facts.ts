/**
 * The facts a risk assessment is made from. Nothing here does I/O: `gather.ts` reads the stores
 * and fills in the facts, the signals of `signals/` score them (`assess.ts` runs them).
 */

/** What the stores could not tell: the signal built on it counts as risky (fail safe). */
export type Unknown = 'unknown';

export interface RiskFacts {
  /** The request's verified device id is one this account signed in with before. */
  readonly deviceKnown: boolean | Unknown;
  /** The client's address (as established by `clientFacts`, never a raw header). */
  readonly network: string;
  /**
   * Addresses (or their `networkPrefix`) of the account's last N logins, newest first. Empty: no
   * login on record yet (nothing to compare with, so the network is not called new).
   */
  readonly recentNetworks: readonly string[] | Unknown;
  /** Failed logins of the account within the configured window. */
  readonly recentLoginFailures: number | Unknown;
  /** Wrong verification codes of the account within the configured window. */
  readonly recentVerificationFailures: number | Unknown;
  /** Sensitive operations of the account within the configured window, the one being assessed included. */
  readonly sensitiveOperationsInWindow: number | Unknown;
  /** The request's User-Agent header ('' when absent). */
  readonly userAgent: string;
  /** The User-Agent of the account's previous login; null when there is none on record. */
  readonly previousUserAgent: string | null | Unknown;
}

/** A count a signal can use: a non-negative safe integer (anything else is not evaluable). */
export function isCount(value: number | Unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
