/**
 * Passkeys in the embedded SQLite file (table `passkeys`, schema step 5 in src/store/sqlite.ts),
 * on the connection of the `SqliteDurableStore`. `use` is one conditional UPDATE whose `changes`
 * count decides, so two processes racing with the same counter cannot both be accepted.
 */
import type Database from 'better-sqlite3';
import type { SqliteDurableStore } from '../../store/sqlite.ts';
import { byText, type RecordPort } from '../../store/records.ts';
import type { PasskeyCredential, PasskeyStore, PasskeyTransport, PasskeyUse, PasskeyUserRecords } from './store.ts';

interface Row {
  user: string;
  id: string;
  public_key: string;
  counter: number;
  transports: string;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

function prepare(db: Database.Database) {
  return {
    list: db.prepare<[string], Row>('SELECT * FROM passkeys WHERE user = ? ORDER BY created_at, id'),
    get: db.prepare<[string, string], Row>('SELECT * FROM passkeys WHERE user = ? AND id = ?'),
    add: db.prepare<[Row]>(
      `INSERT OR IGNORE INTO passkeys (user, id, public_key, counter, transports, name, created_at, last_used_at)
       VALUES (@user, @id, @public_key, @counter, @transports, @name, @created_at, @last_used_at)`,
    ),
    remove: db.prepare<[string, string]>('DELETE FROM passkeys WHERE user = ? AND id = ?'),
    removeAll: db.prepare<[string]>('DELETE FROM passkeys WHERE user = ?'),
    users: db.prepare<[], string>('SELECT DISTINCT user FROM passkeys ORDER BY user').pluck(),
    any: db.prepare<[], number>('SELECT EXISTS (SELECT 1 FROM passkeys)').pluck(),
    use: db.prepare<[{ user: string; id: string; counter: number; now: number }]>(
      `UPDATE passkeys SET counter = @counter, last_used_at = @now
       WHERE user = @user AND id = @id AND (@counter > counter OR (@counter = 0 AND counter = 0))`,
    ),
  };
}

function toRow(c: PasskeyCredential): Row {
  return {
    user: c.user,
    id: c.id,
    public_key: c.publicKey,
    counter: c.counter,
    transports: JSON.stringify(c.transports),
    name: c.name,
    created_at: c.createdAt,
    last_used_at: c.lastUsedAt,
  };
}

function fromRow(row: Row): PasskeyCredential {
  return {
    user: row.user,
    id: row.id,
    publicKey: row.public_key,
    counter: row.counter,
    transports: JSON.parse(row.transports) as PasskeyTransport[],
    name: row.name,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}

export class SqlitePasskeyStore implements PasskeyStore, RecordPort<PasskeyUserRecords> {
  private readonly s: ReturnType<typeof prepare>;
  private readonly importTx: (records: PasskeyUserRecords) => void;

  /** `store` must be open (its schema is then at step 5 or later); closing it closes this too. */
  constructor(private readonly store: SqliteDurableStore) {
    const db = store.database();
    const s = prepare(db);
    this.s = s;
    this.importTx = db.transaction((records: PasskeyUserRecords): void => {
      s.removeAll.run(records.user);
      for (const c of records.passkeys) s.add.run(toRow(c));
    });
  }

  // ---- migration (src/cli/store-migrate.ts) ----

  async *exportRecords(): AsyncGenerator<PasskeyUserRecords> {
    for (const user of [...this.store.guarded(() => this.s.users.all())].sort(byText)) {
      yield { user, passkeys: await this.list(user) };
    }
  }

  async importRecords(records: PasskeyUserRecords): Promise<void> {
    this.store.guarded(() => this.importTx(records));
  }

  async hasRecords(): Promise<boolean> {
    return this.store.guarded(() => this.s.any.get()) === 1;
  }

  async list(user: string): Promise<PasskeyCredential[]> {
    return this.store.guarded(() => this.s.list.all(user)).map(fromRow);
  }

  async get(user: string, id: string): Promise<PasskeyCredential | null> {
    const row = this.store.guarded(() => this.s.get.get(user, id));
    return row ? fromRow(row) : null;
  }

  async add(c: PasskeyCredential): Promise<boolean> {
    return this.store.guarded(() => this.s.add.run(toRow(c)).changes === 1);
  }

  async remove(user: string, id: string): Promise<boolean> {
    return this.store.guarded(() => this.s.remove.run(user, id).changes === 1);
  }

  async removeAll(user: string): Promise<number> {
    return this.store.guarded(() => this.s.removeAll.run(user).changes);
  }

  async use(user: string, id: string, counter: number, now: number): Promise<PasskeyUse> {
    if (this.store.guarded(() => this.s.use.run({ user, id, counter, now }).changes) === 1) return 'ok';
    return (await this.get(user, id)) ? 'counter_not_increased' : 'missing';
  }
}
