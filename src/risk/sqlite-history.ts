/**
 * The risk history on the embedded SQLite file (DESIGN §4): the same file and connection as the
 * `SqliteDurableStore`, tables `known_devices` and `login_history` (schema step 2 in
 * `src/store/sqlite.ts`). Bounded per account like `MemoryRiskHistory`; unlike it, not bounded in
 * accounts: forgetting whole accounts would make them look new, and the rows per account are capped.
 *
 * better-sqlite3 is synchronous; the methods are `async` to meet `RiskHistoryStore`, so every error
 * (a closed store, a locked file past the busy timeout) surfaces as a rejected promise, which
 * `gatherFacts` turns into `'unknown'` (fail safe). Each write and the trimming it calls for run in
 * one transaction, so another process never sees an account above its bounds.
 *
 * Order: "newest" is by `at` (the injected clock), ties by insertion order; "least recently seen"
 * is by `last_seen`, ties by first insertion. The device just remembered is never the one forgotten,
 * even when its `now` is older than the others' (clocks of several processes may disagree).
 */
import type Database from 'better-sqlite3';
import { byText, type LoginRecord, type RecordPort, type RiskUserRecords } from '../store/records.ts';
import type { SqliteDurableStore } from '../store/sqlite.ts';
import type { RiskHistoryStore } from './history.ts';

interface SqliteRiskHistoryOptions {
  /** Devices kept per account; the least recently seen is forgotten first. Default 20. */
  readonly maxDevicesPerUser?: number;
  /** Logins kept per account; the oldest is forgotten first. Default 100. */
  readonly maxLoginsPerUser?: number;
}

interface LoginRow {
  network: string;
  user_agent: string;
  at: number;
}

/**
 * The newest `limit` sign-ins of a user. The limit is written into the statement, not bound: SQLite
 * prepares a statement with a bound LIMIT again every time the value is bound (the value may change
 * its plan), which made each read cost twice what it does with the number in the text.
 */
export function recentLoginsSql(limit: number): string {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`recent sign-ins: ${limit} is not a row count`);
  return `SELECT network, user_agent, at FROM login_history WHERE user = ? ORDER BY at DESC, rowid DESC LIMIT ${limit}`;
}

/** Limits a history keeps a prepared read for (the configured count and 1 are all a sidecar asks). */
const REMEMBERED_LIMITS = 8;

/** The history's statements (exported for the test that checks their query plans). */
export function prepareStatements(db: Database.Database) {
  return {
    knownDevice: db.prepare<[string, string], { one: number }>(
      'SELECT 1 AS one FROM known_devices WHERE user = ? AND device_id = ?',
    ),
    upsertDevice: db.prepare<[{ user: string; device: string; now: number }]>(
      `INSERT INTO known_devices (user, device_id, first_seen, last_seen) VALUES (@user, @device, @now, @now)
       ON CONFLICT (user, device_id) DO UPDATE SET last_seen = excluded.last_seen`,
    ),
    // Keeps the device just remembered and the `keep` most recently seen others.
    evictDevices: db.prepare<[{ user: string; device: string; keep: number }]>(
      `DELETE FROM known_devices WHERE user = @user AND device_id IN (
         SELECT device_id FROM known_devices WHERE user = @user AND device_id <> @device
         ORDER BY last_seen DESC, rowid DESC LIMIT -1 OFFSET @keep)`,
    ),
    insertLogin: db.prepare<[{ user: string; at: number; network: string; userAgent: string }]>(
      'INSERT INTO login_history (user, at, network, user_agent) VALUES (@user, @at, @network, @userAgent)',
    ),
    trimLogins: db.prepare<[{ user: string; keep: number }]>(
      `DELETE FROM login_history WHERE rowid IN (
         SELECT rowid FROM login_history WHERE user = @user
         ORDER BY at DESC, rowid DESC LIMIT -1 OFFSET @keep)`,
    ),
    // Migration (src/cli/store-migrate.ts).
    users: db.prepare<[], string>('SELECT user FROM known_devices UNION SELECT user FROM login_history').pluck(),
    devices: db.prepare<[string], { device_id: string; first_seen: number; last_seen: number }>(
      'SELECT device_id, first_seen, last_seen FROM known_devices WHERE user = ?',
    ),
    allLogins: db.prepare<[string], LoginRow>('SELECT network, user_agent, at FROM login_history WHERE user = ? ORDER BY at DESC, rowid DESC'),
    insertDevice: db.prepare<[string, string, number, number]>(
      'INSERT INTO known_devices (user, device_id, first_seen, last_seen) VALUES (?, ?, ?, ?)',
    ),
    deleteDevices: db.prepare<[string]>('DELETE FROM known_devices WHERE user = ?'),
    deleteLogins: db.prepare<[string]>('DELETE FROM login_history WHERE user = ?'),
    anyRecord: db.prepare<[], number>('SELECT EXISTS (SELECT 1 FROM known_devices) OR EXISTS (SELECT 1 FROM login_history)').pluck(),
  };
}

/** Durable risk history in the SQLite file of `store`; closing the store closes it too. */
export class SqliteRiskHistory implements RiskHistoryStore, RecordPort<RiskUserRecords> {
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly rememberTx: (user: string, deviceId: string, now: number) => void;
  private readonly recordTx: (user: string, entry: LoginRecord) => void;
  private readonly signInTx: (user: string, deviceId: string, entry: LoginRecord) => void;
  private readonly importTx: (records: RiskUserRecords) => void;
  private readonly maxDevices: number;
  private readonly maxLogins: number;
  private readonly store: SqliteDurableStore;
  /** The newest-sign-ins read, prepared once per limit asked for. */
  private readonly recent = new Map<number, Database.Statement<[string], LoginRow>>();

  /** `store` must be open (its schema is then at step 2 or later). */
  constructor(store: SqliteDurableStore, options: SqliteRiskHistoryOptions = {}) {
    this.maxDevices = positive(options.maxDevicesPerUser ?? 20, 'maxDevicesPerUser');
    this.maxLogins = positive(options.maxLoginsPerUser ?? 100, 'maxLoginsPerUser');
    this.store = store;
    const db = store.database();
    const s = prepareStatements(db);
    this.statements = s;
    const remember = (user: string, deviceId: string, now: number): void => {
      s.upsertDevice.run({ user, device: deviceId, now });
      s.evictDevices.run({ user, device: deviceId, keep: this.maxDevices - 1 });
    };
    const record = (user: string, entry: LoginRecord): void => {
      s.insertLogin.run({ user, at: entry.at, network: entry.network, userAgent: entry.userAgent });
      s.trimLogins.run({ user, keep: this.maxLogins });
    };
    this.rememberTx = db.transaction(remember);
    this.recordTx = db.transaction(record);
    // Both writes of a sign-in in one transaction: with `synchronous = FULL` each commit is an fsync.
    this.signInTx = db.transaction((user: string, deviceId: string, entry: LoginRecord): void => {
      remember(user, deviceId, entry.at);
      record(user, entry);
    });
    this.importTx = db.transaction((records: RiskUserRecords): void => {
      const { user } = records;
      s.deleteDevices.run(user);
      s.deleteLogins.run(user);
      // Inserted in the order the reads break ties by (rowid): least recently seen and oldest first.
      for (const d of [...records.devices].sort((a, b) => a.lastSeen - b.lastSeen)) s.insertDevice.run(user, d.deviceId, d.firstSeen, d.lastSeen);
      for (const entry of [...records.logins].reverse()) {
        s.insertLogin.run({ user, at: entry.at, network: entry.network, userAgent: entry.userAgent });
      }
    });
  }

  async knownDevice(user: string, deviceId: string): Promise<boolean> {
    return this.store.guarded(() => this.statements.knownDevice.get(user, deviceId)) !== undefined;
  }

  async rememberDevice(user: string, deviceId: string, now: number): Promise<void> {
    this.store.guarded(() => this.rememberTx(user, deviceId, now));
  }

  private recentStatement(limit: number): Database.Statement<[string], LoginRow> {
    let statement = this.recent.get(limit);
    if (statement === undefined) {
      statement = this.store.database().prepare<[string], LoginRow>(recentLoginsSql(limit));
      if (this.recent.size < REMEMBERED_LIMITS) this.recent.set(limit, statement);
    }
    return statement;
  }

  async recentLogins(user: string, n: number): Promise<LoginRecord[]> {
    // As `slice(0, floor(n))`: NaN and negatives are 0, Infinity is everything. SQLite's LIMIT
    // takes integers only, and huge doubles are not bound as integers.
    const limit = Number.isNaN(n) ? 0 : Math.min(Math.max(0, Math.floor(n)), Number.MAX_SAFE_INTEGER);
    if (limit === 0) return [];
    return this.store
      .guarded(() => this.recentStatement(limit).all(user))
      .map((row) => ({ network: row.network, userAgent: row.user_agent, at: row.at }));
  }

  async recordLogin(user: string, entry: LoginRecord): Promise<void> {
    this.store.guarded(() => this.recordTx(user, entry));
  }

  /** The device (seen at the sign-in's time) and the sign-in, in one transaction. */
  async recordSignIn(user: string, deviceId: string, entry: LoginRecord): Promise<void> {
    this.store.guarded(() => this.signInTx(user, deviceId, entry));
  }

  /** Every account with devices or logins (src/cli/store-migrate.ts). */
  async *exportRecords(): AsyncGenerator<RiskUserRecords> {
    const s = this.statements;
    for (const user of s.users.all().sort(byText)) {
      const devices = s.devices
        .all(user)
        .map((row) => ({ deviceId: row.device_id, firstSeen: row.first_seen, lastSeen: row.last_seen }))
        .sort((a, b) => byText(a.deviceId, b.deviceId));
      const logins = s.allLogins.all(user).map((row) => ({ network: row.network, userAgent: row.user_agent, at: row.at }));
      yield { user, devices, logins };
    }
  }

  /** Replaces the account's devices and logins with `records`, in one transaction. */
  async importRecords(records: RiskUserRecords): Promise<void> {
    this.importTx(records);
  }

  async hasRecords(): Promise<boolean> {
    return this.statements.anyRecord.get() === 1;
  }
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}
