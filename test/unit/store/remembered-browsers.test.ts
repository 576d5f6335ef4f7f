import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteRiskHistory } from '../../../src/risk/sqlite-history.ts';
import { migrateRecords } from '../../../src/cli/store-migrate.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryRememberedBrowsers } from '../../../src/store/remembered-browsers.ts';
import { SqliteRememberedBrowsers } from '../../../src/store/sqlite-remembered-browsers.ts';
import { SqliteDurableStore } from '../../../src/store/sqlite.ts';
import { browser, runRememberedBrowsersContract } from '../../helpers/remembered-browsers-contract.ts';
import { systemClock } from '../../../src/core/clock.ts';

runRememberedBrowsersContract('MemoryRememberedBrowsers', async () => ({ store: new MemoryRememberedBrowsers() }));

runRememberedBrowsersContract('SqliteRememberedBrowsers (file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'guard-remembered-'));
  const durable = SqliteDurableStore.open(join(dir, 'guard.db'), { clock: systemClock });
  const store = new SqliteRememberedBrowsers(durable);
  return {
    store,
    port: store,
    cleanup: async () => {
      await durable.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

test('store migrate carries remembered browsers and password fingerprints (SQLite to SQLite)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'guard-remembered-migrate-'));
  const from = SqliteDurableStore.open(join(dir, 'from.db'), { clock: systemClock });
  const to = SqliteDurableStore.open(join(dir, 'to.db'), { clock: systemClock });
  try {
    const source = new SqliteRememberedBrowsers(from);
    await source.add(browser('zoe@example.com', 'a'), 20);
    await source.add(browser('zoe@example.com', 'b'), 20);
    await source.setPasswordFingerprint('sam@example.com', 'fp');
    const side = (store: SqliteDurableStore, name: string) => ({ name, durable: store, history: new SqliteRiskHistory(store), remembered: new SqliteRememberedBrowsers(store) });
    const report = await migrateRecords(side(from, 'from'), side(to, 'to'), { now: Date.UTC(2026, 0, 1) });
    assert.equal(report.counts.rememberedBrowsers, 2);
    const target = new SqliteRememberedBrowsers(to);
    assert.deepEqual((await target.list('zoe@example.com')).map((r) => r.id).sort(), ['a', 'b']);
    assert.equal(await target.passwordFingerprint('sam@example.com'), 'fp');
    // A target holding only remembered records counts as holding records (needs --force).
    const again = await migrateRecords(side(from, 'from'), side(to, 'to'), { now: Date.UTC(2026, 0, 1), dryRun: true });
    assert.equal(again.targetHadRecords, true);
  } finally {
    await from.close();
    await to.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
