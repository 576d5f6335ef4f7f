import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { once } from 'node:events';
import mysql from 'mysql2/promise';
import { MysqlDirectory } from '../../src/directory/sql.ts';
import { failure, runSqlDirectoryContract, USERS_QUERY, USERS_ROWS, USERS_TABLE } from '../helpers/directory-contract.ts';
import { mysqlDatabase } from '../helpers/sql-servers.ts';

/** The sql directory against the machine's real MariaDB (or MySQL), in a throwaway database. */

const db = await mysqlDatabase();
const options = { timeoutMs: 2_000, pool: 2 };
const ADMIN = process.env['SPG_TEST_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/';

if (db === null) {
  test('sql directory, driver mysql', { skip: 'MariaDB/MySQL is not reachable on 127.0.0.1:3306' }, () => {}); // allowed-skip
} else {
  after(() => db.drop());
  before(async () => {
    await db.admin(USERS_TABLE);
    for (const row of USERS_ROWS) await db.admin(row);
    // A function that writes: called from a SELECT it would change data, unless the transaction is read-only.
    await db.admin(
      "CREATE FUNCTION take_email(name VARCHAR(150)) RETURNS VARCHAR(254) MODIFIES SQL DATA BEGIN UPDATE auth_user SET email = 'taken@example.org' WHERE username = name; RETURN 'taken@example.org'; END",
    );
  });

  describe('sql directory, driver mysql', () => {
    runSqlDirectoryContract(async (query) => new MysqlDirectory(db.url, { ...options, query }), '`');

    test('queries run in a read-only transaction: a SELECT calling a writing function is refused and the row stays', async () => {
      // The administrator may write; the transaction the directory opens must still refuse it.
      const url = new URL(db.url);
      const admin = new URL(ADMIN);
      url.username = admin.username;
      url.password = admin.password;
      const directory = new MysqlDirectory(url.toString(), { ...options, query: 'SELECT take_email(:identifier) AS email' });
      try {
        const refused = failure(await directory.lookup('alice', { upstreamCookies: {} }));
        assert.equal(refused.reason, 'source_error');
        assert.match(refused.message, /READ ONLY|read-only|ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION/i);
      } finally {
        await directory.close();
      }
      const check = await mysql.createConnection({ uri: db.url });
      const [rows] = await check.query("SELECT email FROM auth_user WHERE username = 'alice'");
      await check.end();
      assert.equal((rows as Array<{ email: string }>)[0]?.email, 'alice@example.org');
    });

    test('a query error (unknown column) is source_error without the password; the next lookup works', async () => {
      const directory = new MysqlDirectory(db.url, { ...options, query: 'SELECT mail FROM auth_user WHERE username = :identifier' });
      try {
        const broken = failure(await directory.lookup('alice', { upstreamCookies: {} }));
        assert.equal(broken.reason, 'source_error');
        assert.match(broken.message, /Unknown column 'mail'/);
        assert.ok(!broken.message.includes(new URL(db.url).password));
      } finally {
        await directory.close();
      }
      const good = new MysqlDirectory(db.url, { ...options, query: USERS_QUERY });
      try {
        assert.equal((await good.lookup('alice', { upstreamCookies: {} })).ok, true);
      } finally {
        await good.close();
      }
    });

    test('a statement slower than the timeout is cut and reported', async () => {
      const directory = new MysqlDirectory(db.url, { ...options, timeoutMs: 200, query: 'SELECT email, phone FROM auth_user WHERE username = :identifier AND SLEEP(5) = 0' });
      try {
        const slow = failure(await directory.lookup('alice', { upstreamCookies: {} }));
        assert.ok(['source_error', 'unavailable'].includes(slow.reason), slow.reason);
        assert.match(slow.message, /timeout|timed out/i);
      } finally {
        await directory.close();
      }
    });

    test('an unreachable server is unavailable (typed), without the URL password in the message', async () => {
      const closed = createServer();
      closed.listen(0, '127.0.0.1');
      await once(closed, 'listening');
      const port = (closed.address() as { port: number }).port;
      closed.close();
      await once(closed, 'close');
      const down = new MysqlDirectory(`mysql://u:secret-pw@127.0.0.1:${port}/x`, { ...options, query: USERS_QUERY });
      try {
        const result = failure(await down.lookup('alice', { upstreamCookies: {} }));
        assert.equal(result.reason, 'unavailable');
        assert.ok(!result.message.includes('secret-pw'));
      } finally {
        await down.close();
      }
    });

    test('a wrong password is refused by the server: never "no such user"', async () => {
      const wrong = new URL(db.url);
      wrong.password = 'not-the-password';
      const denied = new MysqlDirectory(wrong.toString(), { ...options, query: USERS_QUERY });
      try {
        const result = failure(await denied.lookup('alice', { upstreamCookies: {} }));
        assert.notEqual(result.reason, 'not_found');
        assert.match(result.message, /Access denied/);
        assert.ok(!result.message.includes('not-the-password'));
      } finally {
        await denied.close();
      }
    });
  });
}
