import { after, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { RedisPasskeyStore } from '../../src/factors/passkey/redis-store.ts';
import { closeRedisClient, openRedisClient } from '../../src/store/redis-connection.ts';
import { passkey, runPasskeyStoreContract } from '../helpers/passkey-store-contract.ts';
import assert from 'node:assert/strict';
import { startRedisServer } from '../helpers/redis-server.ts';

const server = await startRedisServer();

if (server === null) {
  console.warn('\n*** SKIPPING the RedisPasskeyStore tests: `redis-server` is not on PATH (in CI, CI=true, its absence fails the run). ***\n');
  test('RedisPasskeyStore (contract)', { skip: 'redis-server is not installed' }, () => {}); // allowed-skip
} else {
  after(() => server.stop());
  runPasskeyStoreContract('RedisPasskeyStore', async () => {
    const client = await openRedisClient({ url: server.url, prefix: 'unused:', connect_timeout: 5_000, command_timeout: 1_000 }, { configFile: process.cwd() });
    return { store: new RedisPasskeyStore(client, { prefix: `spg:test-${randomUUID()}:` }), cleanup: () => closeRedisClient(client) };
  });

  test('passkeys export from Redis and import back, replacing what the account held', async () => {
    const client = await openRedisClient({ url: server.url, prefix: 'unused:', connect_timeout: 5_000, command_timeout: 1_000 }, { configFile: process.cwd() });
    try {
      const from = new RedisPasskeyStore(client, { prefix: `spg:test-${randomUUID()}:` });
      const to = new RedisPasskeyStore(client, { prefix: `spg:test-${randomUUID()}:` });
      assert.equal(await to.hasRecords(), false);
      await from.add(passkey('ann@example.com', 'k1', { counter: 3 }));
      await from.add(passkey('ann@example.com', 'k2', { createdAt: 5 }));
      await from.add(passkey('b{o}b@example.com', 'k3'));
      await to.add(passkey('ann@example.com', 'old'));
      const exported = [];
      for await (const records of from.exportRecords()) exported.push(records);
      assert.deepEqual(exported.map((r) => [r.user, r.passkeys.length]), [['ann@example.com', 2], ['b{o}b@example.com', 1]]);
      for (const records of exported) await to.importRecords(records);
      assert.deepEqual(await to.list('ann@example.com'), await from.list('ann@example.com'));
      assert.deepEqual(await to.list('b{o}b@example.com'), await from.list('b{o}b@example.com'));
      assert.equal(await to.hasRecords(), true);
    } finally {
      await closeRedisClient(client);
    }
  });
}
