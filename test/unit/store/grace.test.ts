import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryGraceStore } from '../../../src/store/grace.ts';
import { SqliteGraceStore } from '../../../src/store/sqlite-grace.ts';
import { SqliteDurableStore } from '../../../src/store/sqlite.ts';
import { runGraceContract } from '../../helpers/grace-contract.ts';
import { systemClock } from '../../../src/core/clock.ts';

/** The require_2fa grace store on memory and on the SQLite file (Redis: test/integration/grace-redis.test.ts). */

runGraceContract('MemoryGraceStore', async () => ({ store: new MemoryGraceStore() }));

runGraceContract('SqliteGraceStore (file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spg-grace-'));
  const durable = SqliteDurableStore.open(join(dir, 'guard.db'), { clock: systemClock, create: true });
  return {
    store: new SqliteGraceStore(durable),
    cleanup: async () => {
      await durable.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

test('SqliteGraceStore: the records survive closing and opening the file (a restart gives no new grace period)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spg-grace-'));
  const file = join(dir, 'guard.db');
  try {
    const first = SqliteDurableStore.open(file, { clock: systemClock, create: true });
    await new SqliteGraceStore(first).skip('zoe@example.com', 1000, 3);
    await first.close();
    const again = SqliteDurableStore.open(file, { clock: systemClock });
    try {
      assert.deepEqual(await new SqliteGraceStore(again).get('zoe@example.com'), { user: 'zoe@example.com', firstPromptAt: 1000, skips: 1, endedAt: null });
    } finally {
      await again.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
