import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryRememberedBrowsers } from '../../src/store/remembered-browsers.ts';
import { SqliteRememberedBrowsers } from '../../src/store/sqlite-remembered-browsers.ts';
import { SqliteDurableStore } from '../../src/store/sqlite.ts';
import { runRememberedBrowsersContract } from '../helpers/remembered-browsers-contract.ts';

runRememberedBrowsersContract('MemoryRememberedBrowsers', async () => ({ store: new MemoryRememberedBrowsers() }));

runRememberedBrowsersContract('SqliteRememberedBrowsers (file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'guard-remembered-'));
  const durable = SqliteDurableStore.open(join(dir, 'guard.db'));
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
