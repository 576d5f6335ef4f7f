import Database from 'better-sqlite3';
import type { Clock } from '../core/clock.ts';
import type { DurableStore, Enrollment } from './durable.ts';
import { BUSY_TIMEOUT_MS, damagedStore, isStoreDamage, missingStore, prepareFile, retryWhileBusy } from './sqlite-file.ts';
import { isEmptyDatabase, migrate } from './sqlite-schema.ts';
import { enrollmentToParams, prepareStatements, rowToEnrollment } from './sqlite-statements.ts';
import { byText, type DurableUserRecords, type RecordPort } from './records.ts';

/**
 * The embedded durable store (DESIGN §4): one SQLite file, shared safely by several processes
 * (WAL + busy timeout), with every multi-row change in one transaction.
 *
 * better-sqlite3 is synchronous; the methods are `async` only to meet the DurableStore interface
 * (and so every error surfaces as a rejected promise). Because each statement runs to completion
 * before the event loop moves on, and SQLite serialises writers across processes, the single-use
 * operations (`consumeRecoveryCode`, `useTotpStep`) are atomic between processes too: each is one
 * statement whose `changes` count decides the outcome — never a read followed by a write.
 */

/** Prune expired used TOTP steps once per this many `useTotpStep` calls (per open store). */
const PRUNE_EVERY = 100;

interface SqliteOpenOptions {
  /** Time source for pruning expired TOTP steps (`keepUntil` is epoch milliseconds). */
  readonly clock: Clock;
  /**
   * A missing or empty file (no schema yet) is created when true (the default, for tools and
   * tests); when false it is refused with SqliteStoreError: a store that existed must never be
   * re-created silently (the service passes false unless told this is a new deployment).
   */
  readonly create?: boolean;
}

interface SqliteSettings {
  readonly journalMode: string;
  readonly synchronous: string;
  readonly foreignKeys: boolean;
  readonly busyTimeoutMs: number;
  readonly schemaVersion: number;
}

const SYNCHRONOUS: readonly string[] = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];

export class SqliteDurableStore implements DurableStore, RecordPort<DurableUserRecords> {
  private readonly statements;
  private readonly enableTx;
  private readonly disableTx;
  private readonly replaceCodesTx;
  private readonly importTx;
  private totpCalls = 0;

  private constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
  ) {
    const s = prepareStatements(db);
    this.statements = s;

    const insertCodes = (user: string, hashes: readonly string[]): void => {
      s.deleteCodes.run(user);
      for (const hash of hashes) s.insertCode.run(user, hash);
    };
    this.enableTx = db.transaction((enrollment: Enrollment, hashes: readonly string[]): void => {
      s.upsertEnrollment.run(enrollmentToParams(enrollment));
      insertCodes(enrollment.user, hashes);
    });
    this.disableTx = db.transaction((user: string): boolean => {
      // ON DELETE CASCADE removes the recovery codes with the enrollment.
      const removed = s.deleteEnrollment.run(user).changes === 1;
      s.deleteSteps.run(user);
      return removed;
    });
    this.replaceCodesTx = db.transaction((user: string, hashes: readonly string[]): void => {
      if (s.enrollmentExists.get(user) === undefined) {
        throw new Error('sqlite: replaceRecoveryCodes for a user without an enrollment');
      }
      insertCodes(user, hashes);
    });
    this.importTx = db.transaction((records: DurableUserRecords): void => {
      const { user, enrollment } = records;
      if (enrollment !== null && enrollment.user !== user) throw new TypeError('import: the enrollment belongs to another user');
      s.deleteEnrollment.run(user); // and its recovery codes (ON DELETE CASCADE)
      s.deleteSteps.run(user);
      if (enrollment !== null) {
        s.upsertEnrollment.run(enrollmentToParams(enrollment));
        for (const code of records.recoveryCodes) s.insertCodeUsed.run(user, code.hash, code.usedAt);
      }
      for (const used of records.usedSteps) s.insertStep.run(user, used.step, used.keepUntil);
    });
  }

  /**
   * Opens (creating when needed) the store at `file`, or an in-memory one for `':memory:'`, and
   * brings its schema up to date. Throws SqliteSchemaError for a file written by a newer build.
   */
  static open(file: string, options: SqliteOpenOptions): SqliteDurableStore {
    const memory = file === ':memory:';
    const create = options.create ?? true;
    if (!memory) prepareFile(file, create);
    let db: Database.Database;
    try {
      db = new Database(file);
    } catch (error) {
      throw isStoreDamage(error) ? damagedStore(file, (error as Error).message) : error;
    }
    try {
      // First, so the pragmas and migrations below wait for other processes instead of failing.
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      if (!memory) {
        // Switching a fresh file to WAL can fail with SQLITE_BUSY at once, without the busy handler,
        // while another process opens the same file (seen in the tests): retry for a while.
        const mode = retryWhileBusy(() => db.pragma('journal_mode = WAL', { simple: true }));
        if (mode !== 'wal') throw new Error(`sqlite: could not switch ${file} to WAL (journal_mode is ${String(mode)})`);
        // A damaged file would start and then fail requests one by one (500s while /readyz said
        // 200): check it before serving. quick_check reads every page once (O(size), no index
        // cross-checks): milliseconds for the sizes this store reaches.
        const problems = db.pragma('quick_check(5)', { simple: false }) as Array<{ quick_check: string }>;
        const first = problems[0]?.quick_check;
        if (first !== 'ok') throw damagedStore(file, problems.map((row) => row.quick_check).join('; ') || 'quick_check gave no answer');
        if (!create && isEmptyDatabase(db)) throw missingStore(file, 'empty');
      }
      // FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss or an OS crash.
      // Here a lost commit is not just lost data: a consumed recovery code or a used TOTP step would
      // become usable again (a replay), and an enrollment the user was told is active (recovery codes
      // shown once) would silently vanish. Writes are rare (enrollments, logins), so one fsync per
      // commit costs nothing noticeable.
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      retryWhileBusy(() => migrate(db, file));
    } catch (error) {
      db.close();
      if (isStoreDamage(error)) throw damagedStore(file, (error as Error).message);
      throw error;
    }
    return new SqliteDurableStore(db, options.clock);
  }

  /** The first error that showed the file damaged; readiness stays failed from then on. */
  #failure: Error | null = null;

  /**
   * Runs one operation on the file; an error that shows damage makes the store not ready. The
   * stores sharing this file (the risk history) run their statements through it too.
   */
  guarded<T>(operation: () => T): T {
    try {
      return operation();
    } catch (error) {
      if (isStoreDamage(error)) this.#failure ??= error as Error;
      throw error;
    }
  }

  async getEnrollment(user: string): Promise<Enrollment | null> {
    const row = this.guarded(() => this.statements.getEnrollment.get(user));
    return row === undefined ? null : rowToEnrollment(row);
  }

  async enable(enrollment: Enrollment, recoveryCodeHashes: readonly string[]): Promise<void> {
    this.guarded(() => this.enableTx(enrollment, recoveryCodeHashes));
  }

  async disable(user: string): Promise<boolean> {
    return this.guarded(() => this.disableTx(user));
  }

  async setDestination(user: string, destination: string, now: number): Promise<boolean> {
    return this.guarded(() => this.statements.setDestination.run(destination, now, user).changes === 1);
  }

  async replaceRecoveryCodes(user: string, hashes: readonly string[]): Promise<void> {
    this.guarded(() => this.replaceCodesTx(user, hashes));
  }

  async consumeRecoveryCode(user: string, hash: string, now: number): Promise<boolean> {
    return this.guarded(() => this.statements.consumeCode.run(now, user, hash).changes === 1);
  }

  async remainingRecoveryCodes(user: string): Promise<number> {
    return this.guarded(() => this.statements.remainingCodes.get(user)?.n ?? 0);
  }

  async useTotpStep(user: string, step: number, keepUntil: number): Promise<boolean> {
    const first = this.guarded(() => this.statements.useStep.run(user, step, keepUntil).changes === 1);
    this.totpCalls += 1;
    if (this.totpCalls % PRUNE_EVERY === 0) this.guarded(() => this.statements.pruneSteps.run(this.clock.now()));
    return first;
  }

  /** Every account with an enrollment or a used step still in its window (src/cli/store-migrate.ts). */
  async *exportRecords(now: number): AsyncGenerator<DurableUserRecords> {
    const s = this.statements;
    for (const user of s.users.all(now).sort(byText)) {
      const enrollment = await this.getEnrollment(user);
      const recoveryCodes =
        enrollment === null
          ? []
          : s.codes
              .all(user)
              .map((row) => ({ hash: row.hash, usedAt: row.used_at }))
              .sort((a, b) => byText(a.hash, b.hash));
      const usedSteps = s.steps.all(user, now).map((row) => ({ step: row.step, keepUntil: row.keep_until }));
      yield { user, enrollment, recoveryCodes, usedSteps };
    }
  }

  /** Replaces the account's enrollment, recovery codes and used steps with `records`, in one transaction. */
  async importRecords(records: DurableUserRecords): Promise<void> {
    this.importTx(records);
  }

  async hasRecords(now: number): Promise<boolean> {
    return this.statements.users.all(now).length > 0;
  }

  /**
   * The underlying connection, for the other stores that share this file and its schema (the risk
   * history). They must not close it: `close()` here does.
   */
  database(): Database.Database {
    return this.db;
  }

  /** The connection's settings, for diagnostics (and the tests that pin them). */
  settings(): SqliteSettings {
    const pragma = (name: string): unknown => this.db.pragma(name, { simple: true });
    return {
      journalMode: String(pragma('journal_mode')),
      synchronous: SYNCHRONOUS[Number(pragma('synchronous'))] ?? String(pragma('synchronous')),
      foreignKeys: pragma('foreign_keys') === 1,
      busyTimeoutMs: Number(pragma('busy_timeout')),
      schemaVersion: Number(pragma('user_version')),
    };
  }

  /**
   * Readiness: fails for good once an operation found the file damaged (a restart checks it again),
   * and reads the enrollments table's first page, so a store that cannot read its records is not ready.
   */
  async ping(): Promise<void> {
    if (this.#failure !== null) throw new Error(`sqlite: the durable store is damaged (${this.#failure.message})`);
    if (this.guarded(() => this.statements.ping.get())?.ok !== 1) throw new Error('sqlite: ping failed');
  }

  /** Key-check records by key id (src/factors/key-check.ts). */
  async keyChecks(): Promise<ReadonlyMap<string, string>> {
    const rows = this.guarded(() => this.statements.keyChecks.all());
    return new Map(rows.map((row) => [row.key_id, row.sealed]));
  }

  /** Adds the key-check record of a key id; an existing record of that id is kept. */
  async addKeyCheck(keyId: string, sealed: string, now: number): Promise<void> {
    this.guarded(() => this.statements.addKeyCheck.run(keyId, sealed, now));
  }

  /** One sealed TOTP secret per key id the stored enrollments use (to prove the keys open real data). */
  async sealedSamples(): Promise<ReadonlyArray<{ keyId: string; user: string; data: string }>> {
    return this.guarded(() => this.statements.sealedSamples.all()).map((row) => ({ keyId: row.key_id, user: row.user, data: row.sealed }));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
