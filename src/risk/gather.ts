/**
 * Reads what an assessment needs from the stores. Every read that fails (throws, rejects, or
 * answers something that is not a count) becomes `'unknown'` for its fact, which the engine scores
 * as risky: an unreachable store never makes a request look safer (fail safe).
 */
import type { Clock } from '../core/clock.ts';
import type { RiskHistoryStore } from './history.ts';
import type { RiskConfig } from '../config/schema/risk.ts';
import type { RiskFacts, Unknown } from './facts.ts';
import { networkPrefix } from './network.ts';

/** The ephemeral counters the signals read. `windowMs` is the configured window of the signal. */
export interface RiskCounters {
  loginFailures(user: string, windowMs: number): Promise<number>;
  verificationFailures(user: string, windowMs: number): Promise<number>;
  sensitiveOperations(user: string, windowMs: number): Promise<number>;
}

interface GatherInput {
  readonly config: RiskConfig;
  readonly history: RiskHistoryStore;
  readonly counters: RiskCounters;
  /** The account's canonical key (lower-cased login email). */
  readonly user: string;
  /** The id of a device cookie that verified (`verifyDeviceId`); null without one. */
  readonly deviceId: string | null;
  /** The client's address as `clientFacts` established it. */
  readonly clientAddress: string;
  /** The User-Agent header; '' when absent. */
  readonly userAgent: string;
}

async function attempt<T>(read: () => Promise<T>, valid: (value: T) => boolean = () => true): Promise<T | Unknown> {
  try {
    const value = await read();
    return valid(value) ? value : 'unknown';
  } catch {
    return 'unknown';
  }
}

const isCount = (value: unknown): boolean => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** The facts of one request, read concurrently; a failed read is `'unknown'` for its fact only. */
export async function gatherFacts(input: GatherInput): Promise<RiskFacts> {
  const { config, history, counters, user, deviceId } = input;
  const windows = config.signals;
  const [deviceKnown, logins, loginFailures, verificationFailures, sensitiveOperations] = await Promise.all([
    // Without a valid device cookie the device is unknown: no store to ask.
    deviceId === null ? Promise.resolve(false) : attempt(() => history.knownDevice(user, deviceId), (v) => typeof v === 'boolean'),
    attempt(
      () => history.recentLogins(user, config.history.logins),
      (v) => Array.isArray(v) && v.every((entry) => typeof entry?.network === 'string' && typeof entry.userAgent === 'string'),
    ),
    attempt(() => counters.loginFailures(user, windows.recent_login_failures.window), isCount),
    attempt(() => counters.verificationFailures(user, windows.recent_verification_failures.window), isCount),
    attempt(() => counters.sensitiveOperations(user, windows.sensitive_burst.window), isCount),
  ]);
  const recent = logins === 'unknown' ? 'unknown' : logins.slice(0, config.history.logins);
  return {
    deviceKnown,
    network: input.clientAddress,
    recentNetworks: recent === 'unknown' ? 'unknown' : recent.map((entry) => entry.network),
    recentLoginFailures: loginFailures,
    recentVerificationFailures: verificationFailures,
    sensitiveOperationsInWindow: sensitiveOperations,
    userAgent: input.userAgent,
    previousUserAgent: recent === 'unknown' ? 'unknown' : (recent[0]?.userAgent ?? null),
  };
}

/** User agents longer than this are cut before they are stored. */
export const MAX_STORED_USER_AGENT = 512;

interface RecordLoginInput {
  readonly history: RiskHistoryStore;
  readonly clock: Clock;
  readonly user: string;
  readonly deviceId: string;
  readonly clientAddress: string;
  readonly userAgent: string;
}

/**
 * After a fully verified login: the device becomes known and the login joins the history. Only the
 * network prefix is kept, not the full address (the audit log has that); store errors propagate,
 * the caller decides whether a login may complete without its history being written.
 */
export async function recordVerifiedLogin(input: RecordLoginInput): Promise<void> {
  const at = input.clock.now();
  const entry = {
    network: networkPrefix(input.clientAddress) ?? input.clientAddress,
    userAgent: input.userAgent.slice(0, MAX_STORED_USER_AGENT),
    at,
  };
  if (input.history.recordSignIn) {
    await input.history.recordSignIn(input.user, input.deviceId, entry);
    return;
  }
  await input.history.rememberDevice(input.user, input.deviceId, at);
  await input.history.recordLogin(input.user, entry);
}
