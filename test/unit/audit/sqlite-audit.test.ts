import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteAudit } from '../../../src/audit/sqlite-audit.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { SqliteDurableStore } from '../../../src/store/sqlite.ts';
import { DAY, RETENTION, auditEvent, auditStoreContract } from '../../helpers/audit-store-contract.ts';

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);

auditStoreContract('SqliteAudit', async (clock) => {
  const durable = SqliteDurableStore.open(':memory:', { clock });
  const store = new SqliteAudit(durable, { clock, retentionMs: RETENTION });
  return {
    store,
    close: async () => {
      await store.close();
      await durable.close();
    },
  };
});

const count = (durable: SqliteDurableStore): number =>
  (durable.database().prepare('SELECT COUNT(*) AS n FROM audit_events').get() as { n: number }).n;

test('SqliteAudit: records are inserted on the next turn of the event loop, not during record()', async () => {
  const clock = new ManualClock(T0);
  const durable = SqliteDurableStore.open(':memory:', { clock });
  const store = new SqliteAudit(durable, { clock, retentionMs: RETENTION });
  try {
    store.write(auditEvent(clock, 'ann@example.com', 'logout', 1));
    store.write(auditEvent(clock, 'ann@example.com', 'logout', 2));
    assert.equal(count(durable), 0, 'nothing written synchronously');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(count(durable), 2, 'both in one batch');
  } finally {
    await store.close();
    await durable.close();
  }
});

test('SqliteAudit: records survive a reopen of the file, and expired ones are pruned at open', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'spg-audit-sqlite-')), 'guard.db');
  const clock = new ManualClock(T0);
  {
    const durable = SqliteDurableStore.open(file, { clock });
    const store = new SqliteAudit(durable, { clock, retentionMs: RETENTION });
    store.write(auditEvent(clock, 'ann@example.com', 'login_success', 1));
    clock.advance(10 * DAY);
    store.write(auditEvent(clock, 'ann@example.com', 'login_success', 2));
    await store.close();
    await durable.close();
  }
  clock.advance(RETENTION - 5 * DAY); // the first record is now past the retention, the second is not
  const durable = SqliteDurableStore.open(file, { clock });
  const store = new SqliteAudit(durable, { clock, retentionMs: RETENTION });
  try {
    assert.equal(count(durable), 1, 'the expired record was deleted at open');
    assert.deepEqual((await store.recent({ user: 'ann@example.com', limit: 10 })).map((e) => e.requestId), ['req-2']);
    clock.advance(10 * DAY);
    assert.equal(store.pruneExpired(), 1);
    assert.equal(count(durable), 0);
  } finally {
    await store.close();
    await durable.close();
  }
});

test("SqliteAudit: a user's recent events are read through the (user, time) index", async () => {
  const clock = new ManualClock(T0);
  const durable = SqliteDurableStore.open(':memory:', { clock });
  try {
    const plan = durable
      .database()
      .prepare("EXPLAIN QUERY PLAN SELECT record FROM audit_events WHERE time >= 0 AND user = 'a' ORDER BY time DESC, id DESC LIMIT 10")
      .all() as Array<{ detail: string }>;
    assert.ok(plan.some((row) => row.detail.includes('audit_events_user_time')), JSON.stringify(plan));
  } finally {
    await durable.close();
  }
});

test('SqliteAudit: a batch that cannot be written is reported, not thrown', async () => {
  const clock = new ManualClock(T0);
  const durable = SqliteDurableStore.open(':memory:', { clock });
  const errors: unknown[] = [];
  const store = new SqliteAudit(durable, { clock, retentionMs: RETENTION, onError: (error) => errors.push(error) });
  durable.database().exec('DROP TABLE audit_events');
  store.write(auditEvent(clock, 'ann@example.com', 'logout', 1));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(errors.length, 1);
  await store.close();
  await durable.close();
});

test('SqliteAudit on a file: the store\'s own connection, each audit commit at NORMAL (no fsync) and FULL restored after it', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'spg-audit-sqlite-')), 'guard.db');
  const clock = new ManualClock(T0);
  const durable = SqliteDurableStore.open(file, { clock });
  const db = durable.database();
  // What ran, in order: the pragma statements the audit prepares, and each row the trigger sees inserted.
  const ran: string[] = [];
  db.function('noted_insert', () => {
    ran.push('insert');
    return null;
  });
  db.exec('CREATE TEMP TRIGGER note_audit AFTER INSERT ON audit_events BEGIN SELECT noted_insert(); END');
  const prepare = db.prepare.bind(db);
  const spying = ((source: string) => {
    const statement = prepare(source);
    if (!source.startsWith('PRAGMA')) return statement;
    const run = statement.run.bind(statement);
    return Object.assign(statement, { run: (...args: never[]) => (ran.push(source), run(...args)) });
  }) as typeof db.prepare;
  db.prepare = spying;
  const store = new SqliteAudit(durable, { clock, retentionMs: RETENTION });
  db.prepare = prepare;
  try {
    store.write(auditEvent(clock, 'ann@example.com', 'logout', 1));
    store.write(auditEvent(clock, 'bob@example.com', 'logout', 2));
    store.flush();
    assert.deepEqual(ran, ['PRAGMA synchronous = NORMAL', 'insert', 'insert', 'PRAGMA synchronous = 2']);
    assert.equal(count(durable), 2, 'the durable connection sees the audit rows');
    assert.equal(durable.settings().synchronous, 'FULL', 'the store\'s own commits still sync');
    // A failed batch restores FULL too.
    db.exec('DROP TRIGGER note_audit');
    db.exec('CREATE TEMP TRIGGER refuse_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, \'refused\'); END');
    ran.length = 0;
    store.write(auditEvent(clock, 'cy@example.com', 'logout', 3));
    store.flush();
    assert.deepEqual(ran, ['PRAGMA synchronous = NORMAL', 'PRAGMA synchronous = 2']);
    assert.equal(durable.settings().synchronous, 'FULL');
    // Inside a transaction of the store the level is left alone (SQLite refuses a new safety level
    // inside a transaction): the batch is written with the transaction, at its level.
    db.exec('DROP TRIGGER refuse_audit');
    ran.length = 0;
    const errors: unknown[] = [];
    db.prepare = spying;
    const inside = new SqliteAudit(durable, { clock, retentionMs: RETENTION, onError: (error) => errors.push(error) });
    db.prepare = prepare;
    db.exec('BEGIN');
    inside.write(auditEvent(clock, 'dee@example.com', 'logout', 4));
    inside.flush();
    db.exec('COMMIT');
    assert.deepEqual(errors, []);
    assert.deepEqual(ran, []);
    assert.equal(count(durable), 3);
    await inside.close();
  } finally {
    await store.close();
    await durable.close();
  }
});
