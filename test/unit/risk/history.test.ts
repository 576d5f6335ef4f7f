import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MemoryRiskHistory } from '../../../src/risk/history.ts';
import { prepareStatements, recentLoginsSql, SqliteRiskHistory } from '../../../src/risk/sqlite-history.ts';
import { SqliteDurableStore } from '../../../src/store/sqlite.ts';
import { SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from '../../../src/store/sqlite-schema.ts';
import { emailEnrollment, totpEnrollment } from '../../helpers/durable-contract.ts';
import { login, runRiskHistoryContract } from '../../helpers/risk-history-contract.ts';
import { systemClock } from '../../../src/core/clock.ts';

const T0 = Date.UTC(2026, 0, 1);

function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'guard-risk-history-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const { dir, remove } = tempDir();
  try {
    await fn(dir);
  } finally {
    remove();
  }
}

runRiskHistoryContract('MemoryRiskHistory', async (bounds = {}) => ({ history: new MemoryRiskHistory(bounds) }));

runRiskHistoryContract('SqliteRiskHistory (file)', async (bounds = {}) => {
  const { dir, remove } = tempDir();
  const store = SqliteDurableStore.open(join(dir, 'guard.db'), { clock: systemClock });
  try {
    return {
      history: new SqliteRiskHistory(store, bounds),
      cleanup: async () => {
        await store.close();
        remove();
      },
    };
  } catch (error) {
    await store.close();
    remove();
    throw error;
  }
});

describe('SqliteRiskHistory', () => {
  test('bounds must be positive integers', async () => {
    const store = SqliteDurableStore.open(':memory:', { clock: systemClock });
    try {
      for (const bad of [0, -1, 1.5, Number.NaN]) {
        assert.throws(() => new SqliteRiskHistory(store, { maxDevicesPerUser: bad }), RangeError);
        assert.throws(() => new SqliteRiskHistory(store, { maxLoginsPerUser: bad }), RangeError);
      }
    } finally {
      await store.close();
    }
  });

  test('everything survives closing and reopening the file', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'guard.db');
      const first = SqliteDurableStore.open(file, { clock: systemClock });
      const before = new SqliteRiskHistory(first);
      await before.rememberDevice('zoe@example.com', 'device-1', T0);
      for (let i = 0; i < 3; i++) await before.recordLogin('zoe@example.com', login(i));
      await first.close();

      const second = SqliteDurableStore.open(file, { clock: systemClock });
      try {
        const after = new SqliteRiskHistory(second);
        assert.equal(await after.knownDevice('zoe@example.com', 'device-1'), true);
        assert.equal(await after.knownDevice('zoe@example.com', 'device-2'), false);
        assert.deepEqual(await after.recentLogins('zoe@example.com', 10), [login(2), login(1), login(0)]);
        // The bounds keep working on the reopened data.
        const bounded = new SqliteRiskHistory(second, { maxLoginsPerUser: 2, maxDevicesPerUser: 1 });
        await bounded.recordLogin('zoe@example.com', login(3));
        assert.deepEqual(await after.recentLogins('zoe@example.com', 10), [login(3), login(2)]);
        await bounded.rememberDevice('zoe@example.com', 'device-2', T0 + 1);
        assert.equal(await after.knownDevice('zoe@example.com', 'device-1'), false);
        assert.equal(await after.knownDevice('zoe@example.com', 'device-2'), true);
      } finally {
        await second.close();
      }
    }));

  test('refreshing a device updates last_seen and keeps first_seen; trimming deletes the rows', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'guard.db');
      const store = SqliteDurableStore.open(file, { clock: systemClock });
      try {
        const history = new SqliteRiskHistory(store);
        await history.rememberDevice('zoe@example.com', 'device-1', T0);
        await history.rememberDevice('zoe@example.com', 'device-1', T0 + 5000);
        for (let i = 0; i < 21; i++) await history.rememberDevice('sam@example.com', `device-${i}`, T0 + i);
        for (let i = 0; i < 101; i++) await history.recordLogin('sam@example.com', login(i));
        const db = new Database(file, { 'readonly': true });
        try {
          assert.deepEqual(
            db.prepare("SELECT device_id, first_seen, last_seen FROM known_devices WHERE user = 'zoe@example.com'").all(),
            [{ device_id: 'device-1', first_seen: T0, last_seen: T0 + 5000 }],
          );
          const count = (table: string): unknown => db.prepare(`SELECT count(*) FROM ${table} WHERE user = 'sam@example.com'`).pluck().get();
          assert.equal(count('known_devices'), 20);
          assert.equal(count('login_history'), 100);
        } finally {
          db.close();
        }
      } finally {
        await store.close();
      }
    }));

  test('a sign-in is written in one transaction: device and login together, or neither', () =>
    inTempDir(async (dir) => {
      const store = SqliteDurableStore.open(join(dir, 'guard.db'), { clock: systemClock });
      try {
        const history = new SqliteRiskHistory(store, { maxDevicesPerUser: 2, maxLoginsPerUser: 3 });
        for (let i = 0; i < 4; i++) await history.recordSignIn('zoe@example.com', `device-${i}`, login(i));
        // The bounds hold as with the two separate writes.
        assert.deepEqual(await history.recentLogins('zoe@example.com', 10), [login(3), login(2), login(1)]);
        assert.equal(await history.knownDevice('zoe@example.com', 'device-3'), true);
        assert.equal(await history.knownDevice('zoe@example.com', 'device-2'), true);
        assert.equal(await history.knownDevice('zoe@example.com', 'device-1'), false);
        // The login's insert fails: the device is not remembered either.
        store.database().exec("CREATE TRIGGER refuse BEFORE INSERT ON login_history BEGIN SELECT RAISE(ABORT, 'disk says no'); END;");
        await assert.rejects(history.recordSignIn('sam@example.com', 'device-9', login(9)), /disk says no/);
        assert.equal(await history.knownDevice('sam@example.com', 'device-9'), false);
        assert.deepEqual(await history.recentLogins('sam@example.com', 10), []);
      } finally {
        await store.close();
      }
    }));

  test('two stores on one file share the history and its bounds', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'guard.db');
      const a = SqliteDurableStore.open(file, { clock: systemClock });
      const b = SqliteDurableStore.open(file, { clock: systemClock });
      try {
        const ha = new SqliteRiskHistory(a, { maxLoginsPerUser: 3 });
        const hb = new SqliteRiskHistory(b, { maxLoginsPerUser: 3 });
        await ha.rememberDevice('zoe@example.com', 'device-1', T0);
        assert.equal(await hb.knownDevice('zoe@example.com', 'device-1'), true);
        for (let i = 0; i < 6; i++) await (i % 2 === 0 ? ha : hb).recordLogin('zoe@example.com', login(i));
        assert.deepEqual(await ha.recentLogins('zoe@example.com', 10), [login(5), login(4), login(3)]);
        assert.deepEqual(await hb.recentLogins('zoe@example.com', 10), [login(5), login(4), login(3)]);
      } finally {
        await a.close();
        await b.close();
      }
    }));

  test('after the store is closed every method rejects (gatherFacts then reports unknown)', async () => {
    const store = SqliteDurableStore.open(':memory:', { clock: systemClock });
    const history = new SqliteRiskHistory(store);
    await store.close();
    await assert.rejects(history.knownDevice('zoe@example.com', 'device-1'));
    await assert.rejects(history.rememberDevice('zoe@example.com', 'device-1', T0));
    await assert.rejects(history.recentLogins('zoe@example.com', 5));
    await assert.rejects(history.recordLogin('zoe@example.com', login(0)));
  });
});

describe('SQLite schema step 2 (risk history)', () => {
  test('a version-1 file is upgraded to the current version without losing enrollments', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'guard.db');
      assert.equal(SQLITE_SCHEMA_VERSION, 7);
      const step1 = SQLITE_MIGRATIONS[0];
      assert.ok(step1 !== undefined);
      // A file as a version-1 build left it: step 1 applied, then written to.
      const old = new Database(file);
      old.exec(step1);
      old.pragma('user_version = 1');
      old.close();
      {
        // Write the version-1 data through raw SQL: opening with this build would migrate first.
        const db = new Database(file);
        try {
          const totp = totpEnrollment('zoe@example.com');
          db.prepare(
            `INSERT INTO enrollments (user, method, destination, totp_key_id, totp_secret, totp_algorithm, totp_digits,
               totp_period, created_at, updated_at) VALUES (?, 'totp', NULL, ?, ?, ?, ?, ?, ?, ?)`,
          ).run(
            totp.user,
            totp.totp?.secret.keyId,
            totp.totp?.secret.data,
            totp.totp?.parameters.algorithm,
            totp.totp?.parameters.digits,
            totp.totp?.parameters.period,
            totp.createdAt,
            totp.updatedAt,
          );
          const email = emailEnrollment('sam@example.com');
          db.prepare(
            "INSERT INTO enrollments (user, method, destination, created_at, updated_at) VALUES (?, 'email', ?, ?, ?)",
          ).run(email.user, email.destination, email.createdAt, email.updatedAt);
          const code = db.prepare('INSERT INTO recovery_codes (user, hash, used_at) VALUES (?, ?, ?)');
          code.run('zoe@example.com', 'h0', null);
          code.run('zoe@example.com', 'h1', T0);
          code.run('zoe@example.com', 'h2', null);
          db.prepare('INSERT INTO used_totp_steps (user, step, keep_until) VALUES (?, ?, ?)').run('zoe@example.com', 42, Date.UTC(2100, 0, 1));
        } finally {
          db.close();
        }
      }

      const store = SqliteDurableStore.open(file, { clock: systemClock });
      try {
        assert.equal(store.settings().schemaVersion, SQLITE_SCHEMA_VERSION);
        assert.deepEqual(await store.getEnrollment('zoe@example.com'), totpEnrollment('zoe@example.com'));
        assert.deepEqual(await store.getEnrollment('sam@example.com'), emailEnrollment('sam@example.com'));
        assert.equal(await store.remainingRecoveryCodes('zoe@example.com'), 2);
        assert.equal(await store.consumeRecoveryCode('zoe@example.com', 'h1', T0), false, 'a used code stays used');
        assert.equal(await store.useTotpStep('zoe@example.com', 42, Date.UTC(2100, 0, 1)), false, 'a used step stays used');
        const history = new SqliteRiskHistory(store);
        assert.equal(await history.knownDevice('zoe@example.com', 'device-1'), false);
        await history.rememberDevice('zoe@example.com', 'device-1', T0);
        await history.recordLogin('zoe@example.com', login(1));
        assert.equal(await history.knownDevice('zoe@example.com', 'device-1'), true);
        assert.deepEqual(await history.recentLogins('zoe@example.com', 5), [login(1)]);
      } finally {
        await store.close();
      }

      const db = new Database(file, { 'readonly': true });
      try {
        assert.equal(db.pragma('user_version', { simple: true }), SQLITE_SCHEMA_VERSION);
        const tables = db
          .prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
          .pluck()
          .all();
        assert.deepEqual(tables, ['audit_events', 'enrollments', 'key_checks', 'known_devices', 'login_history', 'passkeys', 'password_fingerprints', 'recovery_codes', 'remembered_browsers', 'used_totp_steps']);
        const columns = (table: string): unknown =>
          db.prepare(`SELECT name, type, "notnull", pk FROM pragma_table_info('${table}') ORDER BY cid`).all();
        assert.deepEqual(columns('known_devices'), [
          { name: 'user', type: 'TEXT', notnull: 1, pk: 1 },
          { name: 'device_id', type: 'TEXT', notnull: 1, pk: 2 },
          { name: 'first_seen', type: 'INTEGER', notnull: 1, pk: 0 },
          { name: 'last_seen', type: 'INTEGER', notnull: 1, pk: 0 },
        ]);
        assert.deepEqual(columns('login_history'), [
          { name: 'user', type: 'TEXT', notnull: 1, pk: 0 },
          { name: 'at', type: 'INTEGER', notnull: 1, pk: 0 },
          { name: 'network', type: 'TEXT', notnull: 1, pk: 0 },
          { name: 'user_agent', type: 'TEXT', notnull: 1, pk: 0 },
        ]);
        const index = db
          .prepare("SELECT name, desc FROM pragma_index_xinfo('login_history_user_time') WHERE key = 1 ORDER BY seqno")
          .all();
        assert.deepEqual(index, [
          { name: 'user', desc: 0 },
          { name: 'at', desc: 0 },
        ]);
        assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'login_history_user_at'").pluck().get(), 0, 'step 7 dropped the old index');
      } finally {
        db.close();
      }

      // Opening again applies nothing twice.
      const again = SqliteDurableStore.open(file, { clock: systemClock });
      try {
        assert.equal(await new SqliteRiskHistory(again).knownDevice('zoe@example.com', 'device-1'), true);
      } finally {
        await again.close();
      }
    }));

  test('a fresh file is created at the current version with the history tables', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'guard.db');
      const store = SqliteDurableStore.open(file, { clock: systemClock });
      try {
        assert.equal(store.settings().schemaVersion, SQLITE_SCHEMA_VERSION);
        const history = new SqliteRiskHistory(store);
        await history.recordLogin('zoe@example.com', login(0));
        assert.deepEqual(await history.recentLogins('zoe@example.com', 1), [login(0)]);
      } finally {
        await store.close();
      }
    }));
});

describe('SQLite schema step 7 (sign-in history order)', () => {
  test('every limit reads the newest sign-ins, also past the limits whose statements are kept', () =>
    inTempDir(async (dir) => {
      const store = SqliteDurableStore.open(join(dir, 'guard.db'), { clock: systemClock });
      try {
        const history = new SqliteRiskHistory(store);
        for (let i = 0; i < 15; i++) await history.recordLogin('zoe@example.com', login(i));
        const newest = Array.from({ length: 15 }, (_, i) => login(14 - i));
        for (let round = 0; round < 2; round++) {
          for (let n = 1; n <= 16; n++) assert.deepEqual(await history.recentLogins('zoe@example.com', n), newest.slice(0, n), `round ${round}, n = ${n}`);
        }
        assert.throws(() => recentLoginsSql(1.5), RangeError);
        assert.throws(() => recentLoginsSql(-1), RangeError);
      } finally {
        await store.close();
      }
    }));

  test('the history is read and trimmed through its index, with no sort per sign-in', () =>
    inTempDir(async (dir) => {
      const store = SqliteDurableStore.open(join(dir, 'guard.db'), { clock: systemClock });
      try {
        const db = store.database();
        const statements = prepareStatements(db);
        const plan = (sql: string, ...params: unknown[]): string =>
          db
            .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
            .all(...params)
            .map((row) => row.detail)
            .join(' | ');
        for (const [name, sql, params] of [
          ['recentLogins', recentLoginsSql(5), ['zoe@example.com']],
          ['trimLogins', statements.trimLogins.source, [{ user: 'zoe@example.com', keep: 100 }]],
          ['allLogins', statements.allLogins.source, ['zoe@example.com']],
        ] as const) {
          const shown = plan(sql, ...params);
          assert.match(shown, /INDEX login_history_user_time/, `${name}: ${shown}`);
          assert.doesNotMatch(shown, /TEMP B-TREE/, `${name}: ${shown}`);
        }
      } finally {
        await store.close();
      }
    }));

  test('a version-6 file keeps its history, newest first with ties in insertion order reversed', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'guard.db');
      const old = new Database(file);
      for (const step of SQLITE_MIGRATIONS.slice(0, 6)) old.exec(step);
      old.pragma('user_version = 6');
      const insert = old.prepare('INSERT INTO login_history (user, at, network, user_agent) VALUES (?, ?, ?, ?)');
      // Two sign-ins in the same millisecond: the later row is the newer one.
      insert.run('zoe@example.com', T0, 'net-a', 'first');
      insert.run('zoe@example.com', T0 + 1000, 'net-b', 'second');
      insert.run('zoe@example.com', T0 + 1000, 'net-c', 'third');
      insert.run('sam@example.com', T0 + 5000, 'net-d', 'other');
      old.close();
      const store = SqliteDurableStore.open(file, { clock: systemClock });
      try {
        assert.equal(store.settings().schemaVersion, SQLITE_SCHEMA_VERSION);
        const history = new SqliteRiskHistory(store, { maxLoginsPerUser: 2 });
        assert.deepEqual(
          (await history.recentLogins('zoe@example.com', 10)).map((l) => l.userAgent),
          ['third', 'second', 'first'],
        );
        // The trim keeps the newest two, by the same order.
        await history.recordLogin('zoe@example.com', { at: T0 + 1000, network: 'net-e', userAgent: 'fourth' });
        assert.deepEqual(
          (await history.recentLogins('zoe@example.com', 10)).map((l) => l.userAgent),
          ['fourth', 'third'],
        );
        assert.deepEqual((await history.recentLogins('sam@example.com', 10)).map((l) => l.userAgent), ['other']);
      } finally {
        await store.close();
      }
    }));
});
