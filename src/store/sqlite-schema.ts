import type Database from 'better-sqlite3';

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
  // 7: the sign-in history in the order it is read. Its reads go newest first with the row id
  // breaking ties (`ORDER BY at DESC, rowid DESC`); an index on (user, at DESC) holds ties in
  // ascending row id, so SQLite sorted every account's rows in a temporary b-tree on each read and
  // on each verified sign-in's trim to the last 100 (≈ 160 µs of CPU at 100 rows). Read
  // backwards, an ascending (user, at) index — whose entries end in the row id — is that order.
  `
  DROP INDEX login_history_user_at;
  CREATE INDEX login_history_user_time ON login_history (user, at);
  `,
];

/** The steps, in order, for tests that build a file at an older schema version. */
export const SQLITE_MIGRATIONS: readonly string[] = Object.freeze([...MIGRATIONS]);

/** The schema version this build writes (`PRAGMA user_version`). */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

export class SqliteSchemaError extends Error {
  override readonly name = 'SqliteSchemaError';
}

/** Brings the file's schema up to this build's version, one step per transaction. */
export function migrate(db: Database.Database, file: string): void {
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
export function isEmptyDatabase(db: Database.Database): boolean {
  const version = db.pragma('user_version', { simple: true }) as number;
  const objects = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM sqlite_master').get()?.n ?? 0;
  return version === 0 && objects === 0;
}
