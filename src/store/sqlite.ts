import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Clock } from '../core/clock.ts';
import type { DurableStore, Enrollment, FactorMethod, TotpParameters } from './durable.ts';
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

/**
 * Ordered schema steps. Step i brings the file from `user_version` i to i + 1, in its own
 * transaction. Never edit a released step; append a new one.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE enrollments (
    user TEXT PRIMARY KEY,
    method TEXT NOT NULL CHECK (method IN ('totp', 'sms', 'email')),
    destination TEXT,
    totp_key_id TEXT,
    totp_secret TEXT,
    totp_algorithm TEXT,
    totp_digits INTEGER,
    totp_period INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- TOTP columns are all set for a totp enrollment and all NULL otherwise.
    CHECK (
      (method = 'totp' AND totp_key_id IS NOT NULL AND totp_secret IS NOT NULL AND totp_algorithm IS NOT NULL
        AND totp_digits IS NOT NULL AND totp_period IS NOT NULL)
      OR
      (method <> 'totp' AND totp_key_id IS NULL AND totp_secret IS NULL AND totp_algorithm IS NULL
        AND totp_digits IS NULL AND totp_period IS NULL)
    )
  );
  CREATE TABLE recovery_codes (
    user TEXT NOT NULL REFERENCES enrollments(user) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (user, hash)
  );
  -- No foreign key: a step is also recorded while a TOTP enrollment is being confirmed.
  CREATE TABLE used_totp_steps (
    user TEXT NOT NULL,
    step INTEGER NOT NULL,
    keep_until INTEGER NOT NULL,
    PRIMARY KEY (user, step)
  );
  CREATE INDEX used_totp_steps_keep_until ON used_totp_steps (keep_until);
  `,
  // 2: the risk history (src/risk/sqlite-history.ts). No foreign keys: devices and logins are kept
  // for accounts without a second factor too.
  `
  CREATE TABLE known_devices (
    user TEXT NOT NULL,
    device_id TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (user, device_id)
  );
  CREATE TABLE login_history (
    user TEXT NOT NULL,
    at INTEGER NOT NULL,
    network TEXT NOT NULL,
    user_agent TEXT NOT NULL
  );
  CREATE INDEX login_history_user_at ON login_history (user, at DESC);
  `,
  // 3: the audit trail's query side (src/audit/sqlite-audit.ts): "recent events of a user" and
  // pruning by retention. The record is the JSON line as written to the audit file.
  `
  CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    user TEXT,
    event TEXT NOT NULL,
    record TEXT NOT NULL
  );
  CREATE INDEX audit_events_user_time ON audit_events (user, time);
  CREATE INDEX audit_events_time ON audit_events (time);
  `,
  // 4: one sealed constant per encryption key id (src/factors/key-check.ts), so a start with a
  // changed or lost key is refused instead of locking every TOTP user out with errors.
  `
  CREATE TABLE key_checks (
    key_id TEXT PRIMARY KEY,
    sealed TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  `,
  // 5: remembered browsers (src/store/sqlite-remembered-browsers.ts): token hashes bound to a
  // device id, and one keyed password fingerprint per account.
  `
  CREATE TABLE remembered_browsers (
    user TEXT NOT NULL,
    id TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    device_id TEXT NOT NULL,
    label TEXT NOT NULL,
    factors TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    verified_at INTEGER NOT NULL,
    PRIMARY KEY (user, id)
  );
  CREATE TABLE password_fingerprints (
    user TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL
  );
  `,
  // 6: passkeys (src/factors/passkey/sqlite-store.ts), several per account. No foreign key: they are
  // removed with the enrollment by the flows (disable, support reset), not by a cascade.
  `
  CREATE TABLE passkeys (
    user TEXT NOT NULL,
    id TEXT NOT NULL,
    public_key TEXT NOT NULL,
    counter INTEGER NOT NULL CHECK (counter >= 0),
    transports TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    PRIMARY KEY (user, id)
  );
  `,
];

/** The steps, in order, for tests that build a file at an older schema version. */
export const SQLITE_MIGRATIONS: readonly string[] = Object.freeze([...MIGRATIONS]);

/** The schema version this build writes (`PRAGMA user_version`). */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/** Prune expired used TOTP steps once per this many `useTotpStep` calls (per open store). */
const PRUNE_EVERY = 100;

export class SqliteSchemaError extends Error {
  override readonly name = 'SqliteSchemaError';
}

/**
 * The store cannot be used as it is: missing when it must exist, damaged, or not a file. The
 * message names the file and what to do; it is meant to be printed as it is (one line).
 */
export class SqliteStoreError extends Error {
  override readonly name = 'SqliteStoreError';
  constructor(
    readonly file: string,
    readonly problem: 'missing' | 'damaged' | 'not_a_file',
    message: string,
  ) {
    super(message);
  }
}

/** Where the README explains backups and restores; every refusal points there. */
export const RESTORE_HINT = 'see the README, "Operations: what survives a crash, backup and restore"';

export interface SqliteOpenOptions {
  /** Time source for pruning expired TOTP steps (`keepUntil` is epoch milliseconds). */
  readonly clock: Clock;
  /**
   * A missing or empty file (no schema yet) is created when true (the default, for tools and
   * tests); when false it is refused with SqliteStoreError: a store that existed must never be
   * re-created silently (the service passes false unless told this is a new deployment).
   */
  readonly create?: boolean;
}

export interface SqliteSettings {
  readonly journalMode: string;
  readonly synchronous: string;
  readonly foreignKeys: boolean;
  readonly busyTimeoutMs: number;
  readonly schemaVersion: number;
}

const SYNCHRONOUS: readonly string[] = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];

interface EnrollmentRow {
  user: string;
  method: string;
  destination: string | null;
  totp_key_id: string | null;
  totp_secret: string | null;
  totp_algorithm: string | null;
  totp_digits: number | null;
  totp_period: number | null;
  created_at: number;
  updated_at: number;
}

const METHODS: ReadonlySet<string> = new Set<FactorMethod>(['totp', 'sms', 'email']);
const ALGORITHMS: ReadonlySet<string> = new Set<TotpParameters['algorithm']>(['SHA1', 'SHA256', 'SHA512']);

function rowToEnrollment(row: EnrollmentRow): Enrollment {
  if (!METHODS.has(row.method)) throw new SqliteSchemaError(`sqlite: enrollment row has unknown method ${JSON.stringify(row.method)}`);
  const method = row.method as FactorMethod;
  let totp: Enrollment['totp'] = null;
  if (method === 'totp') {
    const { totp_key_id: keyId, totp_secret: data, totp_algorithm: algorithm, totp_digits: digits, totp_period: period } = row;
    if (
      keyId === null ||
      data === null ||
      algorithm === null ||
      !ALGORITHMS.has(algorithm) ||
      (digits !== 6 && digits !== 8) ||
      period === null ||
      !Number.isInteger(period) ||
      period <= 0
    ) {
      throw new SqliteSchemaError('sqlite: totp enrollment row has missing or invalid TOTP columns');
    }
    totp = {
      secret: { keyId, data },
      parameters: { algorithm: algorithm as TotpParameters['algorithm'], digits, period },
    };
  }
  return {
    user: row.user,
    method,
    destination: row.destination,
    totp,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function enrollmentToParams(e: Enrollment): Record<string, string | number | null> {
  if ((e.method === 'totp') !== (e.totp !== null)) {
    throw new TypeError(`sqlite: a ${e.method} enrollment must ${e.method === 'totp' ? 'have' : 'not have'} TOTP parameters`);
  }
  return {
    user: e.user,
    method: e.method,
    destination: e.destination,
    totp_key_id: e.totp?.secret.keyId ?? null,
    totp_secret: e.totp?.secret.data ?? null,
    totp_algorithm: e.totp?.parameters.algorithm ?? null,
    totp_digits: e.totp?.parameters.digits ?? null,
    totp_period: e.totp?.parameters.period ?? null,
    created_at: e.createdAt,
    updated_at: e.updatedAt,
  };
}

/** Creates the parent directory (0700) and the file (0600) before SQLite opens it. */
function prepareFile(file: string, create: boolean): void {
  let exists = true;
  try {
    const info = statSync(file);
    if (!info.isFile()) {
      throw new SqliteStoreError(file, 'not_a_file', `${file}: store.sqlite must be a SQLite file, but this is ${info.isDirectory() ? 'a directory' : 'not a regular file'}`);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    exists = false;
  }
  if (!exists && !create) throw missingStore(file, 'missing');
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // 'a' creates the file when missing and never truncates an existing one.
  closeSync(openSync(file, 'a', 0o600));
  // The mode passed to open() is filtered by the umask, and an existing file may be looser: make
  // sure it is owner-only. SQLite gives the -wal and -shm files the main file's permissions.
  chmodSync(file, 0o600);
}

function missingStore(file: string, how: 'missing' | 'empty'): SqliteStoreError {
  return new SqliteStoreError(
    file,
    'missing',
    `${file}: the durable store is ${how === 'missing' ? 'missing' : 'empty (no schema, no records)'}; it holds every 2FA enrollment, ` +
      `so it is never re-created silently: restore it from a backup (${RESTORE_HINT}), ` +
      'or, only for a new deployment, start once with --init-store',
  );
}

function damagedStore(file: string, detail: string): SqliteStoreError {
  return new SqliteStoreError(
    file,
    'damaged',
    `${file}: the durable store is damaged (${detail.replace(/\s+/g, ' ').slice(0, 200)}); stop every process using it, ` +
      `keep the damaged file aside, restore the last backup with its encryption keys (${RESTORE_HINT}), then start again`,
  );
}

/** SQLite result codes that mean the file (or the disk under it) cannot be trusted any more. */
export function isStoreDamage(error: unknown): boolean {
  if (!(error instanceof Database.SqliteError)) return false;
  return /^SQLITE_(CORRUPT|NOTADB|IOERR|CANTOPEN|FULL|READONLY_DBMOVED)/.test(error.code);
}

const BUSY_TIMEOUT_MS = 5000;

/**
 * Runs `fn` again while SQLite reports SQLITE_BUSY, for up to the busy timeout. Only for opening:
 * it blocks the thread (the store is opened once, at start-up, before serving).
 */
function retryWhileBusy<T>(fn: () => T): T {
  // Real time on purpose, like the thread it blocks: a timeout of the machine, not a fact of the
  // domain (an injected test clock would never reach the deadline).
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let delayMs = 5; ; delayMs = Math.min(delayMs * 2, 100)) {
    try {
      return fn();
    } catch (error) {
      const busy = error instanceof Database.SqliteError && (error.code === 'SQLITE_BUSY' || error.code.startsWith('SQLITE_BUSY_'));
      if (!busy || Date.now() >= deadline) throw error;
      Atomics.wait(pause, 0, 0, delayMs);
    }
  }
}

function migrate(db: Database.Database, file: string): void {
  const readVersion = (): number => db.pragma('user_version', { simple: true }) as number;
  const check = (version: number): void => {
    if (version > SQLITE_SCHEMA_VERSION) {
      throw new SqliteSchemaError(
        `sqlite: ${file} has schema version ${version}, but this build only knows up to ${SQLITE_SCHEMA_VERSION}; ` +
          'it was written by a newer smartpush-guard — upgrade instead of downgrading',
      );
    }
  };
  const initial = readVersion();
  check(initial);
  if (initial === SQLITE_SCHEMA_VERSION) return; // up to date: no write lock needed
  for (;;) {
    // IMMEDIATE takes the write lock before reading the version, so two processes opening a fresh
    // file at once do not both apply the same step: the second waits, then sees the new version.
    const applied = db
      .transaction((): boolean => {
        const version = readVersion();
        check(version);
        const step = MIGRATIONS[version];
        if (step === undefined) return false;
        db.exec(step);
        db.pragma(`user_version = ${version + 1}`);
        return true;
      })
      .immediate();
    if (!applied) return;
  }
}

/** No schema and nothing in it: what a truncated or freshly created file looks like. */
function isEmptyDatabase(db: Database.Database): boolean {
  const version = db.pragma('user_version', { simple: true }) as number;
  const objects = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM sqlite_master').get()?.n ?? 0;
  return version === 0 && objects === 0;
}

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
    const s = {
      getEnrollment: db.prepare<[string], EnrollmentRow>('SELECT * FROM enrollments WHERE user = ?'),
      upsertEnrollment: db.prepare<[Record<string, string | number | null>]>(
        `INSERT INTO enrollments (user, method, destination, totp_key_id, totp_secret, totp_algorithm, totp_digits,
           totp_period, created_at, updated_at)
         VALUES (@user, @method, @destination, @totp_key_id, @totp_secret, @totp_algorithm, @totp_digits,
           @totp_period, @created_at, @updated_at)
         ON CONFLICT (user) DO UPDATE SET
           method = excluded.method, destination = excluded.destination, totp_key_id = excluded.totp_key_id,
           totp_secret = excluded.totp_secret, totp_algorithm = excluded.totp_algorithm,
           totp_digits = excluded.totp_digits, totp_period = excluded.totp_period,
           created_at = excluded.created_at, updated_at = excluded.updated_at`,
      ),
      enrollmentExists: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM enrollments WHERE user = ?'),
      deleteEnrollment: db.prepare<[string]>('DELETE FROM enrollments WHERE user = ?'),
      deleteCodes: db.prepare<[string]>('DELETE FROM recovery_codes WHERE user = ?'),
      insertCode: db.prepare<[string, string]>('INSERT INTO recovery_codes (user, hash, used_at) VALUES (?, ?, NULL)'),
      consumeCode: db.prepare<[number, string, string]>(
        'UPDATE recovery_codes SET used_at = ? WHERE user = ? AND hash = ? AND used_at IS NULL',
      ),
      remainingCodes: db.prepare<[string], { n: number }>(
        'SELECT count(*) AS n FROM recovery_codes WHERE user = ? AND used_at IS NULL',
      ),
      setDestination: db.prepare<[string, number, string]>(
        "UPDATE enrollments SET destination = ?, updated_at = ? WHERE user = ? AND method IN ('sms', 'email')",
      ),
      useStep: db.prepare<[string, number, number]>(
        'INSERT OR IGNORE INTO used_totp_steps (user, step, keep_until) VALUES (?, ?, ?)',
      ),
      deleteSteps: db.prepare<[string]>('DELETE FROM used_totp_steps WHERE user = ?'),
      pruneSteps: db.prepare<[number]>('DELETE FROM used_totp_steps WHERE keep_until < ?'),
      // Touches the enrollments table's root page, not only the connection.
      ping: db.prepare<[], { ok: number }>('SELECT 1 AS ok FROM (SELECT user FROM enrollments LIMIT 1) UNION ALL SELECT 1 LIMIT 1'),
      keyChecks: db.prepare<[], { key_id: string; sealed: string }>('SELECT key_id, sealed FROM key_checks'),
      addKeyCheck: db.prepare<[string, string, number]>('INSERT OR IGNORE INTO key_checks (key_id, sealed, created_at) VALUES (?, ?, ?)'),
      sealedSamples: db.prepare<[], { key_id: string; user: string; sealed: string }>(
        `SELECT totp_key_id AS key_id, min(user) AS user, totp_secret AS sealed FROM enrollments
         WHERE totp_key_id IS NOT NULL GROUP BY totp_key_id`,
      ),
      // Migration (src/cli/store-migrate.ts).
      users: db
        .prepare<[number], string>('SELECT user FROM enrollments UNION SELECT user FROM used_totp_steps WHERE keep_until >= ?')
        .pluck(),
      codes: db.prepare<[string], { hash: string; used_at: number | null }>('SELECT hash, used_at FROM recovery_codes WHERE user = ?'),
      steps: db.prepare<[string, number], { step: number; keep_until: number }>(
        'SELECT step, keep_until FROM used_totp_steps WHERE user = ? AND keep_until >= ? ORDER BY step',
      ),
      insertCodeUsed: db.prepare<[string, string, number | null]>('INSERT INTO recovery_codes (user, hash, used_at) VALUES (?, ?, ?)'),
      insertStep: db.prepare<[string, number, number]>('INSERT INTO used_totp_steps (user, step, keep_until) VALUES (?, ?, ?)'),
    };
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
