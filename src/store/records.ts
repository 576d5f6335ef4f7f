import type { Enrollment } from './durable.ts';

/**
 * The durable records of one account as plain data, the same for every backend, so they can be
 * moved between SQLite and Redis (`smartpush-guard store migrate`, src/cli/store-migrate.ts). Sealed
 * TOTP secrets travel as they are stored (never decrypted); recovery codes are hashes with their
 * used state. Each backend exports one account at a time and imports one account in one atomic
 * step that replaces what the target held for that account, so an import can be repeated.
 */

export interface RecoveryCodeRecord {
  readonly hash: string;
  /** When it was consumed; null while unused. */
  readonly usedAt: number | null;
}

export interface UsedStepRecord {
  readonly step: number;
  readonly keepUntil: number;
}

/** What the DurableStore holds for one account. */
export interface DurableUserRecords {
  readonly user: string;
  readonly enrollment: Enrollment | null;
  /** Only with an enrollment: recovery codes belong to one. Sorted by hash. */
  readonly recoveryCodes: readonly RecoveryCodeRecord[];
  /** Used TOTP steps still in their keep window (replay guard), sorted by step. */
  readonly usedSteps: readonly UsedStepRecord[];
}

/** One login the risk history keeps (src/risk/history.ts). */
export interface LoginRecord {
  /** The client's network: `networkPrefix` of its address (or the address itself). */
  readonly network: string;
  readonly userAgent: string;
  /** Milliseconds since the epoch, from the injected clock. */
  readonly at: number;
}

export interface DeviceRecord {
  readonly deviceId: string;
  readonly firstSeen: number;
  readonly lastSeen: number;
}

/** What the RiskHistoryStore holds for one account. */
export interface RiskUserRecords {
  readonly user: string;
  /** Sorted by device id. */
  readonly devices: readonly DeviceRecord[];
  /** Newest first, as `recentLogins` returns them. */
  readonly logins: readonly LoginRecord[];
}

/** A backend's side of a migration, for one kind of records. */
export interface RecordPort<T> {
  /** Every account with records, one at a time (ordered by user). `now` drops expired used steps. */
  exportRecords(now: number): AsyncIterable<T>;
  /** Replaces everything this backend holds for the account with `records`, atomically. */
  importRecords(records: T): Promise<void>;
  /** Whether the backend holds any record of this kind (expired used steps do not count). */
  hasRecords(now: number): Promise<boolean>;
}

/** One order for account names, hashes and device ids in every backend (UTF-16 code units). */
export function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
