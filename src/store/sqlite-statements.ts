import type Database from 'better-sqlite3';
import type { Enrollment, FactorMethod } from './durable.ts';
import { METHODS, totpFromColumns } from './enrollment-columns.ts';
import { SqliteSchemaError } from './sqlite-schema.ts';

/* The durable store's SQL statements and the enrollment row codec (src/store/sqlite.ts runs them). */

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

export function rowToEnrollment(row: EnrollmentRow): Enrollment {
  if (!METHODS.has(row.method)) throw new SqliteSchemaError(`sqlite: enrollment row has unknown method ${JSON.stringify(row.method)}`);
  const method = row.method as FactorMethod;
  let totp: Enrollment['totp'] = null;
  if (method === 'totp') {
    const checked = totpFromColumns(row.totp_key_id, row.totp_secret, row.totp_algorithm, row.totp_digits, row.totp_period);
    if (checked === null) throw new SqliteSchemaError('sqlite: totp enrollment row has missing or invalid TOTP columns');
    totp = checked;
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

export function enrollmentToParams(e: Enrollment): Record<string, string | number | null> {
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

/** Every statement the store runs, prepared once per connection. */
export function prepareStatements(db: Database.Database) {
  return {
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
}
