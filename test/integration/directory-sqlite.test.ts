import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteDirectory } from '../../src/directory/sql.ts';
import { openDirectory } from '../../src/directory/index.ts';
import { ConfigError } from '../../src/config/load.ts';
import { configSchema } from '../../src/config/schema.ts';
import { failure, runSqlDirectoryContract, USERS_QUERY, USERS_ROWS, USERS_TABLE } from '../helpers/directory-contract.ts';

/** The sql directory on a SQLite file the test makes (as Django's default db.sqlite3 would be). */

const dir = mkdtempSync(join(tmpdir(), 'spg-dir-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'db.sqlite3');
const setup = new Database(file);
setup.exec(USERS_TABLE);
for (const row of USERS_ROWS) setup.exec(row);
setup.close();

const options = { timeoutMs: 1_000, pool: 1 };
const noFetch = { fetchWithSession: () => Promise.reject(new Error('not used')) };

describe('sql directory, driver sqlite', () => {
  runSqlDirectoryContract(async (query) => new SqliteDirectory(file, { ...options, query }));

  test('the file is opened read-only: a writing statement is refused at start, and the file is unchanged', () => {
    const before = statSync(file).mtimeMs;
    assert.throws(() => new SqliteDirectory(file, { ...options, query: 'DELETE FROM auth_user WHERE username = :identifier' }), /read-only SELECT/);
    assert.throws(() => new SqliteDirectory(file, { ...options, query: "UPDATE auth_user SET email = 'x@example.org' WHERE username = :identifier" }), /read-only SELECT/);
    const check = new Database(file, { readonly: true });
    assert.equal((check.prepare('SELECT count(*) AS n FROM auth_user').get() as { n: number }).n, USERS_ROWS.length);
    check.close();
    assert.equal(statSync(file).mtimeMs, before);
  });

  test('a missing file is a start-up error (never created); a query that does not prepare names the problem', () => {
    const missing = join(dir, 'missing.sqlite3');
    const config = (sql: Record<string, unknown>) =>
      configSchema.parse({
        version: 1,
        upstream: { url: 'http://127.0.0.1:1' },
        policy: 'p.yaml',
        session: { keys: { env: 'K' } },
        login: { upstream: { path: '/login' }, success: { cookie: 's' }, identifier: 'username' },
        factors: { encryption_keys: { env: 'E' }, methods: ['totp', 'email'] },
        channels: { email: { kind: 'outbox' } },
        directory: { kind: 'sql', driver: 'sqlite', query: USERS_QUERY, ...sql },
      });
    assert.throws(() => openDirectory(config({ file: missing }), join(dir, 'config.yaml'), noFetch), (e: unknown) => e instanceof ConfigError && /missing\.sqlite3/.test(e.message));
    assert.throws(() => statSync(missing), /ENOENT/);
    assert.throws(
      () => openDirectory(config({ file: 'db.sqlite3', query: 'SELECT mail FROM auth_user WHERE username = :identifier' }), join(dir, 'config.yaml'), noFetch),
      (e: unknown) => e instanceof ConfigError && /does not prepare.*no such column: mail/.test(e.message),
    );
    // Relative to the config file.
    const directory = openDirectory(config({ file: 'db.sqlite3' }), join(dir, 'config.yaml'), noFetch);
    assert.equal(directory?.kind, 'sql:sqlite');
    void directory?.close();
  });

  test('a table dropped under the directory is source_error, not a crash; it answers again once the table is back', async () => {
    const other = join(dir, 'changing.sqlite3');
    const writer = new Database(other);
    writer.exec(USERS_TABLE);
    writer.exec(USERS_ROWS[0] as string);
    const directory = new SqliteDirectory(other, { ...options, query: USERS_QUERY });
    try {
      assert.equal((await directory.lookup('alice')).ok, true);
      writer.exec('DROP TABLE auth_user');
      const broken = failure(await directory.lookup('alice'));
      assert.equal(broken.reason, 'source_error');
      assert.match(broken.message, /no such table: auth_user/);
      writer.exec(USERS_TABLE);
      writer.exec(USERS_ROWS[0] as string);
      assert.equal((await directory.lookup('alice')).ok, true);
    } finally {
      writer.close();
      await directory.close();
    }
  });
});
