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

test('SqliteAudit on a file: its own connection (no fsync per audit commit), the durable store keeps FULL, both see the same rows', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'spg-audit-sqlite-')), 'guard.db');
  const clock = new ManualClock(T0);
  const durable = SqliteDurableStore.open(file, { clock });
  const store = new SqliteAudit(durable, { clock, retentionMs: RETENTION });
  try {
    store.write(auditEvent(clock, 'ann@example.com', 'logout', 1));
    store.flush();
    assert.equal(count(durable), 1, 'the durable connection sees the audit row');
    assert.equal(durable.settings().synchronous, 'FULL');
  } finally {
    await store.close();
    await durable.close();
  }
});
