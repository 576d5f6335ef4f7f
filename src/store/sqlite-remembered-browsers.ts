/**
 * Remembered browsers in the embedded SQLite file (schema step 5 in src/store/sqlite.ts), on the
 * same connection as the `SqliteDurableStore`. Same contract as memory and Redis
 * (test/helpers/remembered-browsers-contract.ts). Rotation is one UPDATE guarded by the expected
 * hash, so of two concurrent uses of one token only one changes a row.
 */
import type Database from 'better-sqlite3';
import { byText, type RecordPort } from './records.ts';
import { byCreation, evictions, type RememberedBrowser, type RememberedBrowserStore, type RememberedUserRecords } from './remembered-browsers.ts';
import type { SqliteDurableStore } from './sqlite.ts';

interface Row {
  user: string;
  id: string;
  token_hash: string;
  device_id: string;
  label: string;
  factors: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  verified_at: number;
}

const toRecord = (row: Row): RememberedBrowser => ({
  id: row.id,
  user: row.user,
  tokenHash: row.token_hash,
  deviceId: row.device_id,
  label: row.label,
  factors: row.factors,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
  expiresAt: row.expires_at,
  verifiedAt: row.verified_at,
});

const toRow = (r: RememberedBrowser): Row => ({
  user: r.user,
  id: r.id,
  token_hash: r.tokenHash,
  device_id: r.deviceId,
  label: r.label,
  factors: r.factors,
  created_at: r.createdAt,
  last_used_at: r.lastUsedAt,
  expires_at: r.expiresAt,
  verified_at: r.verifiedAt,
});

function prepare(db: Database.Database) {
  return {
    list: db.prepare<[string], Row>('SELECT * FROM remembered_browsers WHERE user = ?'),
    get: db.prepare<[string, string], Row>('SELECT * FROM remembered_browsers WHERE user = ? AND id = ?'),
    insert: db.prepare<[Row]>(
      `INSERT OR REPLACE INTO remembered_browsers (user, id, token_hash, device_id, label, factors, created_at, last_used_at, expires_at, verified_at)
       VALUES (@user, @id, @token_hash, @device_id, @label, @factors, @created_at, @last_used_at, @expires_at, @verified_at)`,
    ),
    rotate: db.prepare<[Row & { expected: string }]>(
      `UPDATE remembered_browsers SET token_hash = @token_hash, device_id = @device_id, label = @label, factors = @factors,
         created_at = @created_at, last_used_at = @last_used_at, expires_at = @expires_at, verified_at = @verified_at
       WHERE user = @user AND id = @id AND token_hash = @expected`,
    ),
    remove: db.prepare<[string, string]>('DELETE FROM remembered_browsers WHERE user = ? AND id = ?'),
    removeAll: db.prepare<[string]>('DELETE FROM remembered_browsers WHERE user = ?'),
    fingerprint: db.prepare<[string], string>('SELECT fingerprint FROM password_fingerprints WHERE user = ?').pluck(),
    setFingerprint: db.prepare<[string, string]>(
      'INSERT INTO password_fingerprints (user, fingerprint) VALUES (?, ?) ON CONFLICT (user) DO UPDATE SET fingerprint = excluded.fingerprint',
    ),
    deleteFingerprint: db.prepare<[string]>('DELETE FROM password_fingerprints WHERE user = ?'),
    users: db.prepare<[], string>('SELECT user FROM remembered_browsers UNION SELECT user FROM password_fingerprints').pluck(),
    any: db.prepare<[], number>('SELECT EXISTS (SELECT 1 FROM remembered_browsers) OR EXISTS (SELECT 1 FROM password_fingerprints)').pluck(),
  };
}

export class SqliteRememberedBrowsers implements RememberedBrowserStore, RecordPort<RememberedUserRecords> {
  private readonly s: ReturnType<typeof prepare>;
  private readonly addTx: (record: RememberedBrowser, max: number) => void;
  private readonly importTx: (records: RememberedUserRecords) => void;

  /** `store` must be open (its schema is then at step 5 or later). */
  constructor(private readonly store: SqliteDurableStore) {
    const db = store.database();
    const s = prepare(db);
    this.s = s;
    this.addTx = db.transaction((record: RememberedBrowser, max: number) => {
      s.insert.run(toRow(record));
      for (const id of evictions(s.list.all(record.user).map(toRecord), record.id, max)) s.remove.run(record.user, id);
    });
    this.importTx = db.transaction((records: RememberedUserRecords) => {
      s.removeAll.run(records.user);
      s.deleteFingerprint.run(records.user);
      for (const b of records.browsers) s.insert.run(toRow(b));
      if (records.passwordFingerprint !== null) s.setFingerprint.run(records.user, records.passwordFingerprint);
    });
  }

  async list(user: string): Promise<RememberedBrowser[]> {
    return this.store.guarded(() => this.s.list.all(user)).map(toRecord).sort(byCreation);
  }

  async get(user: string, id: string): Promise<RememberedBrowser | null> {
    const row = this.store.guarded(() => this.s.get.get(user, id));
    return row === undefined ? null : toRecord(row);
  }

  async add(record: RememberedBrowser, max: number): Promise<void> {
    this.store.guarded(() => this.addTx(record, max));
  }

  async rotate(user: string, id: string, expectedHash: string, next: RememberedBrowser): Promise<boolean> {
    return this.store.guarded(() => this.s.rotate.run({ ...toRow({ ...next, user, id }), expected: expectedHash }).changes === 1);
  }

  async remove(user: string, id: string): Promise<boolean> {
    return this.store.guarded(() => this.s.remove.run(user, id).changes === 1);
  }

  async removeAll(user: string): Promise<number> {
    return this.store.guarded(() => this.s.removeAll.run(user).changes);
  }

  async passwordFingerprint(user: string): Promise<string | null> {
    return this.store.guarded(() => this.s.fingerprint.get(user)) ?? null;
  }

  async setPasswordFingerprint(user: string, fingerprint: string): Promise<void> {
    this.store.guarded(() => this.s.setFingerprint.run(user, fingerprint));
  }

  // ---- migration and backup (src/cli/store-migrate.ts) ----

  async *exportRecords(): AsyncGenerator<RememberedUserRecords> {
    for (const user of this.s.users.all().sort(byText)) {
      const browsers = this.s.list.all(user).map(toRecord).sort((a, b) => byText(a.id, b.id));
      yield { user, browsers, passwordFingerprint: this.s.fingerprint.get(user) ?? null };
    }
  }

  async importRecords(records: RememberedUserRecords): Promise<void> {
    this.importTx(records);
  }

  async hasRecords(): Promise<boolean> {
    return this.s.any.get() === 1;
  }
}
