import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryPasskeyStore } from '../../src/factors/passkey/store.ts';
import { SqlitePasskeyStore } from '../../src/factors/passkey/sqlite-store.ts';
import { SqliteDurableStore } from '../../src/store/sqlite.ts';
import { runPasskeyStoreContract } from '../helpers/passkey-store-contract.ts';

runPasskeyStoreContract('MemoryPasskeyStore', async () => ({ store: new MemoryPasskeyStore() }));

runPasskeyStoreContract('SqlitePasskeyStore (file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'guard-passkeys-'));
  const durable = SqliteDurableStore.open(join(dir, 'guard.db'));
  return {
    store: new SqlitePasskeyStore(durable),
    cleanup: async () => {
      await durable.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
