/**
 * The durable records risk signals compare with: the devices an account signed in with, and its
 * latest logins (network and user agent). They are durable (SQLite embedded, Redis for several
 * replicas) because forgetting them on a restart would make every user look new. This file holds
 * the interface and the in-memory implementation used by tests; the other backends come later.
 *
 * `user` is opaque here: callers pass the account's canonical key (the lower-cased login email).
 */
import type { LoginRecord } from '../store/records.ts';

export interface RiskHistoryStore {
  /** Whether this account has signed in with this device id before. */
  knownDevice(user: string, deviceId: string): Promise<boolean>;
  /** Records (or refreshes) a device of the account, after a fully verified login. */
  rememberDevice(user: string, deviceId: string, now: number): Promise<void>;
  /** The account's latest logins, newest first, at most `n`. */
  recentLogins(user: string, n: number): Promise<LoginRecord[]>;
  /** Records a fully verified login of the account. */
  recordLogin(user: string, entry: LoginRecord): Promise<void>;
  /**
   * rememberDevice and recordLogin of one sign-in as one write, where the store can make it one
   * (SQLite: one transaction, so one fsync instead of two). Optional: without it, both are called.
   */
  recordSignIn?(user: string, deviceId: string, entry: LoginRecord): Promise<void>;
}

interface MemoryRiskHistoryOptions {
  /** Devices kept per account; the least recently used is forgotten first. */
  readonly maxDevicesPerUser?: number;
  /** Logins kept per account; the oldest is forgotten first. */
  readonly maxLoginsPerUser?: number;
  /** Accounts kept; the least recently touched is forgotten first. */
  readonly maxUsers?: number;
}

interface UserHistory {
  /** device id → last seen; Map order is least recently seen first. */
  readonly devices: Map<string, number>;
  /** Newest first. */
  logins: LoginRecord[];
}

/** In-memory risk history, bounded per account and in accounts. For tests and single-process use. */
export class MemoryRiskHistory implements RiskHistoryStore {
  private readonly users = new Map<string, UserHistory>();
  private readonly maxDevices: number;
  private readonly maxLogins: number;
  private readonly maxUsers: number;

  constructor(options: MemoryRiskHistoryOptions = {}) {
    this.maxDevices = positive(options.maxDevicesPerUser ?? 20, 'maxDevicesPerUser');
    this.maxLogins = positive(options.maxLoginsPerUser ?? 100, 'maxLoginsPerUser');
    this.maxUsers = positive(options.maxUsers ?? 100_000, 'maxUsers');
  }

  async knownDevice(user: string, deviceId: string): Promise<boolean> {
    return this.users.get(user)?.devices.has(deviceId) ?? false;
  }

  async rememberDevice(user: string, deviceId: string, now: number): Promise<void> {
    const history = this.touch(user);
    history.devices.delete(deviceId);
    history.devices.set(deviceId, now);
    while (history.devices.size > this.maxDevices) {
      const oldest = history.devices.keys().next().value as string;
      history.devices.delete(oldest);
    }
  }

  async recentLogins(user: string, n: number): Promise<LoginRecord[]> {
    const logins = this.users.get(user)?.logins ?? [];
    return logins.slice(0, Math.max(0, Math.floor(n))).map((entry) => ({ ...entry }));
  }

  async recordLogin(user: string, entry: LoginRecord): Promise<void> {
    const history = this.touch(user);
    history.logins = [{ network: entry.network, userAgent: entry.userAgent, at: entry.at }, ...history.logins].slice(0, this.maxLogins);
  }

  /** The account's record, created if needed and moved to the most recently used end. */
  private touch(user: string): UserHistory {
    const history = this.users.get(user) ?? { devices: new Map<string, number>(), logins: [] };
    this.users.delete(user);
    this.users.set(user, history);
    while (this.users.size > this.maxUsers) {
      const oldest = this.users.keys().next().value as string;
      this.users.delete(oldest);
    }
    return history;
  }
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}
