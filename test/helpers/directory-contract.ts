import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Directory, DirectoryResult } from '../../src/directory/types.ts';

/**
 * What every SQL directory must do, whatever the driver: the row's email/phone (invalid values as
 * unknown), no row → not_found, several → ambiguous, the identifier bound (never spliced), and a
 * broken query reported as a typed failure while the directory keeps answering.
 */

export const USERS_TABLE = 'CREATE TABLE auth_user (id INTEGER PRIMARY KEY, username VARCHAR(150) NOT NULL, email VARCHAR(254), phone VARCHAR(32))';
export const USERS_ROWS = [
  "INSERT INTO auth_user VALUES (1, 'alice', 'alice@example.org', '+1 555 555 0123')",
  "INSERT INTO auth_user VALUES (2, 'bob', '', NULL)",
  "INSERT INTO auth_user VALUES (3, 'root', 'admin', '12345')",
  "INSERT INTO auth_user VALUES (4, 'twin', 'one@example.org', NULL)",
  "INSERT INTO auth_user VALUES (5, 'twin', 'two@example.org', NULL)",
];
export const USERS_QUERY = 'SELECT email, phone FROM auth_user WHERE username = :identifier';

const NO_SESSION = { upstreamCookies: {} };

export function failure(result: DirectoryResult): { reason: string; message: string } {
  assert.equal(result.ok, false, `expected a failure, got ${JSON.stringify(result)}`);
  return result as { ok: false; reason: string; message: string };
}

/** `nameQuote`: how the driver quotes names (MySQL: backticks; double quotes are strings there). */
export function runSqlDirectoryContract(open: (query: string) => Promise<Directory>, nameQuote: '"' | '`' = '"'): void {
  test('a row gives the email and the phone (E.164)', async () => {
    const directory = await open(USERS_QUERY);
    try {
      assert.deepEqual(await directory.lookup('alice', NO_SESSION), { ok: true, entry: { email: 'alice@example.org', phone: '+15555550123' } });
    } finally {
      await directory.close();
    }
  });

  test('values that are not an address or a phone number are unknown (a username is never an address)', async () => {
    const directory = await open(USERS_QUERY);
    try {
      assert.deepEqual(await directory.lookup('root', NO_SESSION), { ok: true, entry: { email: null, phone: null } });
      assert.deepEqual(await directory.lookup('bob', NO_SESSION), { ok: true, entry: { email: null, phone: null } });
    } finally {
      await directory.close();
    }
  });

  test('no row is not_found; several rows are ambiguous and none is used', async () => {
    const directory = await open(USERS_QUERY);
    try {
      assert.equal(failure(await directory.lookup('nobody', NO_SESSION)).reason, 'not_found');
      const twin = failure(await directory.lookup('twin', NO_SESSION));
      assert.equal(twin.reason, 'ambiguous');
      assert.match(twin.message, /2 rows/);
    } finally {
      await directory.close();
    }
  });

  test('the identifier is bound, never spliced into the query', async () => {
    const directory = await open(USERS_QUERY);
    try {
      for (const attack of ["x' OR '1'='1", "alice' --", 'alice\\', ':identifier']) {
        assert.equal(failure(await directory.lookup(attack, NO_SESSION)).reason, 'not_found', attack);
      }
      // :identifier used twice, and a literal ':identifier' inside a string is left alone.
      const twice = await open("SELECT email, phone FROM auth_user WHERE username = :identifier AND (:identifier <> ':identifier')");
      try {
        assert.equal((await twice.lookup('alice', NO_SESSION)).ok, true);
      } finally {
        await twice.close();
      }
    } finally {
      await directory.close();
    }
  });

  test('a column aliased in another case is still read', async () => {
    const q = nameQuote;
    const aliased = await open(`SELECT email AS ${q}EMAIL${q}, phone AS ${q}Phone${q} FROM auth_user WHERE username = :identifier`);
    try {
      assert.deepEqual(await aliased.lookup('alice', NO_SESSION), { ok: true, entry: { email: 'alice@example.org', phone: '+15555550123' } });
    } finally {
      await aliased.close();
    }
  });
}
