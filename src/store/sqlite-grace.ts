/**
 * The `require_2fa` grace state on the embedded SQLite file (src/store/grace.ts): the same file and
 * connection as the SqliteDurableStore, table `two_factor_grace`. The table is created here when
 * missing (`CREATE TABLE IF NOT EXISTS`, idempotent) rather than as a numbered schema step, so this
 * feature does not take a schema version other features may need; it can become a step later
 * without changing a byte of the table.
 *
 * Each change is one statement (an upsert with its condition), so two "Not now" clicks at once
 * (two tabs, two processes on one file) never count past the limit.
 */
import type Database from 'better-sqlite3';
import { byText } from './records.ts';
import type { SqliteDurableStore } from './sqlite.ts';
import { checkGraceRecord, type GraceStore, type GraceUserRecord, type SkipResult } from './grace.ts';

const TABLE = `
CREATE TABLE IF NOT EXISTS two_factor_grace (
  user TEXT PRIMARY KEY,
  first_prompt_at INTEGER NOT NULL,
  skips INTEGER NOT NULL DEFAULT 0 CHECK (skips >= 0),
  ended_at INTEGER
) WITHOUT ROWID;
`;

interface Row {
  user: string;
  first_prompt_at: number;
  skips: number;
  ended_at: number | null;
}

function prepare(db: Database.Database) {
  db.exec(TABLE);
  return {
    get: db.prepare<[string], Row>('SELECT user, first_prompt_at, skips, ended_at FROM two_factor_grace WHERE user = ?'),
    insert: db.prepare<[string, number]>('INSERT INTO two_factor_grace (user, first_prompt_at, skips, ended_at) VALUES (?, ?, 0, NULL) ON CONFLICT (user) DO NOTHING'),
    skip: db.prepare<[string, number | null, number | null]>(
      'UPDATE two_factor_grace SET skips = skips + 1 WHERE user = ? AND ended_at IS NULL AND (? IS NULL OR skips < ?)',
    ),
    end: db.prepare<[number, string]>('UPDATE two_factor_grace SET ended_at = ? WHERE user = ? AND ended_at IS NULL'),
    users: db.prepare<[], string>('SELECT user FROM two_factor_grace').pluck(),
    replace: db.prepare<[string, number, number, number | null]>(
      `INSERT INTO two_factor_grace (user, first_prompt_at, skips, ended_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (user) DO UPDATE SET first_prompt_at = excluded.first_prompt_at, skips = excluded.skips, ended_at = excluded.ended_at`,
    ),
    any: db.prepare<[], number>('SELECT EXISTS (SELECT 1 FROM two_factor_grace)').pluck(),
  };
}

const fromRow = (row: Row): GraceUserRecord =>
  checkGraceRecord({ user: row.user, firstPromptAt: row.first_prompt_at, skips: row.skips, endedAt: row.ended_at }, 'sqlite');

export class SqliteGraceStore implements GraceStore {
  private readonly s: ReturnType<typeof prepare>;
  private readonly skipTx: (user: string, now: number, max: number | null) => SkipResult;
  private readonly endTx: (user: string, now: number) => void;

  /** `store` must be open; closing it closes this too. */
  constructor(private readonly store: SqliteDurableStore) {
    const db = store.database();
    const s = (this.s = prepare(db));
    const read = (user: string): GraceUserRecord => fromRow(s.get.get(user) as Row);
    this.skipTx = db.transaction((user: string, now: number, max: number | null): SkipResult => {
      s.insert.run(user, now);
      const counted = s.skip.run(user, max, max).changes === 1;
      return { ok: counted, record: read(user) };
    });
    this.endTx = db.transaction((user: string, now: number): void => {
      s.insert.run(user, now);
      s.end.run(now, user);
    });
  }

  async get(user: string): Promise<GraceUserRecord | null> {
    const row = this.store.guarded(() => this.s.get.get(user));
    return row === undefined ? null : fromRow(row);
  }

  async prompted(user: string, now: number): Promise<GraceUserRecord> {
    return this.store.guarded(() => {
      this.s.insert.run(user, now);
      return fromRow(this.s.get.get(user) as Row);
    });
  }

  async skip(user: string, now: number, maxSkips: number | null): Promise<SkipResult> {
    return this.store.guarded(() => this.skipTx(user, now, maxSkips));
  }

  async end(user: string, now: number): Promise<void> {
    this.store.guarded(() => this.endTx(user, now));
  }

  async *exportRecords(): AsyncGenerator<GraceUserRecord> {
    for (const user of this.s.users.all().sort(byText)) {
      const row = this.s.get.get(user);
      if (row) yield fromRow(row);
    }
  }

  async importRecords(record: GraceUserRecord): Promise<void> {
    const checked = checkGraceRecord(record, 'import');
    this.store.guarded(() => this.s.replace.run(checked.user, checked.firstPromptAt, checked.skips, checked.endedAt));
  }

  async hasRecords(): Promise<boolean> {
    return this.s.any.get() === 1;
  }
}
