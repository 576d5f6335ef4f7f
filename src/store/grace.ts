/**
 * The durable grace-period state of `require_2fa` (src/policy/require-two-factor.ts): per account,
 * when it was first shown the "Your organisation requires two-step verification" page, how many
 * times it chose "Not now", and whether its grace period was ended for good (the account enrolled
 * once while the mandate stood: a later support reset gives no new grace period).
 *
 * Durable, because a restart must not hand everyone a fresh grace period: SQLite beside the
 * enrollments (src/store/sqlite-grace.ts), Redis for several replicas (src/store/redis-grace.ts),
 * memory for tests. Same contract for all (test/helpers/grace-contract.ts); copied by
 * `store migrate` and `store backup`.
 */
import type { GraceRecord } from '../policy/require-two-factor.ts';
import { byText, type RecordPort } from './records.ts';


/** One account's grace state as stored (and as moved by `store migrate`). */
export interface GraceUserRecord extends GraceRecord {
  /** When the grace period was ended for good; null while it runs. */
  readonly endedAt: number | null;
}

export type SkipResult =
  /** Counted: the record after the skip. */
  | { readonly ok: true; readonly record: GraceUserRecord }
  /** Not counted: the skips were used up (or the grace period ended); the record as it is. */
  | { readonly ok: false; readonly record: GraceUserRecord };

export interface GraceStore extends RecordPort<GraceUserRecord> {
  get(user: string): Promise<GraceUserRecord | null>;
  /** Records the first prompt (only the first call per account sets the time); returns the record. */
  prompted(user: string, now: number): Promise<GraceUserRecord>;
  /**
   * Counts one "Not now", atomically: never more than `maxSkips` (null: no limit), never after the
   * grace period was ended. Creates the record (first prompt `now`) when there is none.
   */
  skip(user: string, now: number, maxSkips: number | null): Promise<SkipResult>;
  /** Ends the account's grace period for good (kept when already ended). */
  end(user: string, now: number): Promise<void>;
}

/** Validates a record read back from a store (a damaged one is an error, never a fresh grace). */
export function checkGraceRecord(value: unknown, where: string): GraceUserRecord {
  const v = value as Partial<GraceUserRecord> | null;
  if (
    v === null ||
    typeof v !== 'object' ||
    typeof v.user !== 'string' ||
    typeof v.firstPromptAt !== 'number' ||
    !Number.isFinite(v.firstPromptAt) ||
    typeof v.skips !== 'number' ||
    !Number.isInteger(v.skips) ||
    v.skips < 0 ||
    !(v.endedAt === null || (typeof v.endedAt === 'number' && Number.isFinite(v.endedAt)))
  ) {
    throw new Error(`${where}: a grace record is damaged`);
  }
  return { user: v.user, firstPromptAt: v.firstPromptAt, skips: v.skips, endedAt: v.endedAt };
}

export class MemoryGraceStore implements GraceStore {
  private readonly records = new Map<string, GraceUserRecord>();

  async get(user: string): Promise<GraceUserRecord | null> {
    return this.records.get(user) ?? null;
  }

  /** Synchronous, so each change reads and writes without another one in between (atomic). */
  private promptedNow(user: string, now: number): GraceUserRecord {
    let record = this.records.get(user);
    if (!record) this.records.set(user, (record = { user, firstPromptAt: now, skips: 0, endedAt: null }));
    return record;
  }

  async prompted(user: string, now: number): Promise<GraceUserRecord> {
    return this.promptedNow(user, now);
  }

  async skip(user: string, now: number, maxSkips: number | null): Promise<SkipResult> {
    const record = this.promptedNow(user, now);
    if (record.endedAt !== null || (maxSkips !== null && record.skips >= maxSkips)) return { ok: false, record };
    const next = { ...record, skips: record.skips + 1 };
    this.records.set(user, next);
    return { ok: true, record: next };
  }

  async end(user: string, now: number): Promise<void> {
    const record = this.promptedNow(user, now);
    if (record.endedAt === null) this.records.set(user, { ...record, endedAt: now });
  }

  async *exportRecords(): AsyncGenerator<GraceUserRecord> {
    for (const user of [...this.records.keys()].sort(byText)) yield this.records.get(user)!;
  }

  async importRecords(record: GraceUserRecord): Promise<void> {
    const checked = checkGraceRecord(record, 'import');
    this.records.set(checked.user, checked);
  }

  async hasRecords(): Promise<boolean> {
    return this.records.size > 0;
  }
}
