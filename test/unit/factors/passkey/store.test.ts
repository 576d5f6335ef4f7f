import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryPasskeyStore } from '../../../../src/factors/passkey/store.ts';
import { SqlitePasskeyStore } from '../../../../src/factors/passkey/sqlite-store.ts';
import { SqliteDurableStore } from '../../../../src/store/sqlite.ts';
import { passkey, runPasskeyStoreContract } from '../../../helpers/passkey-store-contract.ts';
import { SqliteRiskHistory } from '../../../../src/risk/sqlite-history.ts';
import { migrateRecords, TargetNotEmptyError } from '../../../../src/cli/store-migrate.ts';
import { systemClock } from '../../../../src/core/clock.ts';

runPasskeyStoreContract('MemoryPasskeyStore', async () => ({ store: new MemoryPasskeyStore() }));

runPasskeyStoreContract('SqlitePasskeyStore (file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'guard-passkeys-'));
  const durable = SqliteDurableStore.open(join(dir, 'guard.db'), { clock: systemClock });
  return {
    store: new SqlitePasskeyStore(durable),
    cleanup: async () => {
      await durable.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('passkeys move with `store migrate` and `store backup` (SQLite to SQLite)', () => {
  test('every passkey is copied with its counter and names; a target holding passkeys needs --force', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'guard-passkeys-migrate-'));
    const a = SqliteDurableStore.open(join(dir, 'a.db'), { clock: systemClock });
    const b = SqliteDurableStore.open(join(dir, 'b.db'), { clock: systemClock });
    try {
      const side = (store: SqliteDurableStore, name: string) => ({ name, durable: store, history: new SqliteRiskHistory(store), passkeys: new SqlitePasskeyStore(store) });
      const from = side(a, 'a');
      const to = side(b, 'b');
      await from.passkeys.add(passkey('ann@example.com', 'k1', { counter: 7, lastUsedAt: 5, transports: ['usb', 'nfc'] }));
      await from.passkeys.add(passkey('ann@example.com', 'k2', { createdAt: 9 }));
      await from.passkeys.add(passkey('bob@example.com', 'k3'));
      const report = await migrateRecords(from, to, { now: 0 });
      assert.equal(report.counts.passkeys, 3);
      assert.deepEqual(await to.passkeys.list('ann@example.com'), await from.passkeys.list('ann@example.com'));
      assert.deepEqual(await to.passkeys.list('bob@example.com'), await from.passkeys.list('bob@example.com'));
      assert.equal(await to.passkeys.hasRecords(), true);
      await assert.rejects(migrateRecords(from, to, { now: 0 }), TargetNotEmptyError);
      assert.equal((await migrateRecords(from, to, { now: 0, force: true })).counts.passkeys, 3, 'a repeated copy gives the same target');
      assert.equal((await to.passkeys.list('ann@example.com')).length, 2);
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
