/**
 * The consecutive-failure count of an account's second factor, across every method (THREATS T8):
 * written by flows/second-factor.ts, read by the risk signals (src/risk/service.ts). One key for
 * both, so they count the same thing.
 */
export const consecutiveFailuresKey = (account: string): string => `factor:consecutive:${account}`;

/** A locked second factor opens again this long after its last failure (support can unlock sooner). */
export const LOCKOUT_MS = 30 * 24 * 3_600_000;

/** NIST SP 800-63B §5.2.2: no more than 100 consecutive failed attempts on one account, from anywhere. */
export const NIST_MAX_CONSECUTIVE = 100;
