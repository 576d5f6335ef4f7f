import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import pg from 'pg';
import { PostgresDirectory } from '../../src/directory/sql.ts';
import { failure, runSqlDirectoryContract, USERS_QUERY, USERS_ROWS, USERS_TABLE } from '../helpers/directory-contract.ts';
import { postgresDatabase } from '../helpers/sql-servers.ts';

/** The sql directory against the machine's real PostgreSQL, in a throwaway database. */

const db = await postgresDatabase();
const options = { timeoutMs: 2_000, pool: 2 };

if (db === null) {
  test('sql directory, driver postgres', { skip: 'PostgreSQL is not reachable on 127.0.0.1:5432' }, () => {}); // allowed-skip
} else {
  after(() => db.drop());
  before(async () => {
    await db.admin(USERS_TABLE);
    for (const row of USERS_ROWS) await db.admin(row);
  });

  describe('sql directory, driver postgres', () => {
    runSqlDirectoryContract(async (query) => new PostgresDirectory(db.url, { ...options, query }));

    test('queries run in a read-only transaction: a writing CTE is refused by the server and the row stays', async () => {
      // The directory user may only SELECT; the administrator's URL shows the transaction itself refuses.
      const adminUrl = new URL(db.url);
      adminUrl.username = new URL(process.env['SPG_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres').username;
      adminUrl.password = new URL(process.env['SPG_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres').password;
      const directory = new PostgresDirectory(adminUrl.toString(), {
        ...options,
        query: 'WITH gone AS (DELETE FROM auth_user WHERE username = :identifier RETURNING email, phone) SELECT email, phone FROM gone',
      });
      try {
        const refused = failure(await directory.lookup('alice', { upstreamCookies: {} }));
        assert.equal(refused.reason, 'source_error');
        assert.match(refused.message, /25006|read-only transaction/);
      } finally {
        await directory.close();
      }
      const check = new pg.Client({ connectionString: db.url });
      await check.connect();
      const rows = await check.query("SELECT count(*)::int AS n FROM auth_user WHERE username = 'alice'");
      await check.end();
      assert.equal(rows.rows[0].n, 1);
    });

    test('a statement slower than the timeout is cut by the server (statement_timeout) and reported', async () => {
      const directory = new PostgresDirectory(db.url, { ...options, timeoutMs: 200, query: 'SELECT email, phone FROM auth_user, pg_sleep(5) WHERE username = :identifier' });
      try {
        const slow = failure(await directory.lookup('alice', { upstreamCookies: {} }));
        assert.ok(['source_error', 'unavailable'].includes(slow.reason), slow.reason);
        assert.match(slow.message, /statement timeout|canceling statement|timeout/i);
        // The pool is still usable for the next lookup.
        const quick = new PostgresDirectory(db.url, { ...options, query: USERS_QUERY });
        assert.equal((await quick.lookup('alice', { upstreamCookies: {} })).ok, true);
        await quick.close();
      } finally {
        await directory.close();
      }
    });

    test('a query error (unknown column) is source_error; the URL and its password never appear in the message', async () => {
      const directory = new PostgresDirectory(db.url, { ...options, query: 'SELECT mail FROM auth_user WHERE username = :identifier' });
      try {
        const broken = failure(await directory.lookup('alice', { upstreamCookies: {} }));
        assert.equal(broken.reason, 'source_error');
        assert.match(broken.message, /column "mail" does not exist/);
        assert.ok(!broken.message.includes(new URL(db.url).password));
      } finally {
        await directory.close();
      }
    });

    test('an unreachable server is unavailable (typed), without the URL password in the message', async () => {
      const closed: Server = createServer();
      closed.listen(0, '127.0.0.1');
      await once(closed, 'listening');
      const port = (closed.address() as { port: number }).port;
      closed.close();
      await once(closed, 'close');
      const down = new PostgresDirectory(`postgres://u:secret-pw@127.0.0.1:${port}/x`, { ...options, query: USERS_QUERY });
      try {
        const result = failure(await down.lookup('alice', { upstreamCookies: {} }));
        assert.equal(result.reason, 'unavailable');
        assert.ok(!result.message.includes('secret-pw'));
      } finally {
        await down.close();
      }
    });
  });
}
