import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { RedisRiskHistory } from '../../src/risk/redis-history.ts';
import { openRedisClient, type RedisClient } from '../../src/store/redis-connection.ts';
import { RedisDurableStore } from '../../src/store/redis-durable.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { runDurableStoreContract, totpEnrollment } from '../helpers/durable-contract.ts';
import { runRiskHistoryContract } from '../helpers/risk-history-contract.ts';
import { runEphemeralStoreContract } from '../helpers/store-contract.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { systemClock } from '../../src/core/clock.ts';

/**
 * The Redis stores through an ioredis Cluster client, against a real one-node Redis Cluster (all
 * slots on one server). Redis applies the Cluster's rules there too: a multi-key command or script
 * over keys of different slots is refused with CROSSSLOT, so these tests catch a key layout or a
 * command that would break on a real cluster.
 */

const server = await startRedisServer({ cluster: true });

if (server === null) {
  console.warn('\n*** SKIPPING the Redis Cluster tests: `redis-server` is not on PATH (CI=true makes this a failure). ***\n');
  test('Redis stores on a Cluster', { skip: 'redis-server is not installed' }, () => {}); // allowed-skip
} else {
  registerTests(server);
}

function registerTests(node: RedisServer): void {
  after(() => node.stop());
  const freshPrefix = (): string => `spg:test-${randomUUID()}:`;

  function connect(): Promise<RedisClient> {
    return openRedisClient(
      { cluster: { nodes: [`127.0.0.1:${node.port}`] }, prefix: 'unused:', connect_timeout: 5_000, command_timeout: 1_000 },
      { configFile: process.cwd() },
    );
  }

  runEphemeralStoreContract(
    'RedisStore on a Cluster',
    async () => {
      const store = new RedisStore(await connect(), { prefix: freshPrefix() });
      return { store, cleanup: () => store.close() };
    },
    { realTime: true },
  );

  runDurableStoreContract('RedisDurableStore on a Cluster', async () => {
    const store = await RedisDurableStore.open(await connect(), { clock: systemClock, prefix: freshPrefix() });
    return { store, cleanup: () => store.close() };
  });

  runRiskHistoryContract('RedisRiskHistory on a Cluster', async (bounds = {}) => {
    const history = new RedisRiskHistory(await connect(), { prefix: freshPrefix(), ...bounds });
    return { history, cleanup: () => history.close() };
  });

  describe('Redis stores on a one-node Cluster', () => {
    test('openRedisClient gives a ready Cluster client; getMany works over keys of many slots, where MGET is refused', { timeout: 30_000 }, async () => {
      const client = await connect();
      assert.ok(client instanceof Cluster);
      const prefix = freshPrefix();
      const store = new RedisStore(client, { prefix });
      try {
        const keys = Array.from({ length: 20 }, (_, i) => `session:${i}`);
        for (const [i, key] of keys.entries()) if (i % 2 === 0) await store.set(key, `v${i}`, 60_000);
        assert.deepEqual(
          await store.getMany(keys),
          keys.map((_, i) => (i % 2 === 0 ? `v${i}` : null)),
        );
        await assert.rejects(client.mget(keys.map((key) => prefix + key)), /CROSSSLOT/, 'the server enforces the Cluster rules');
      } finally {
        await store.close();
      }
    });

    test('the durable export finds every account by scanning the masters', { timeout: 30_000 }, async () => {
      const client = await connect();
      const store = await RedisDurableStore.open(client, { clock: systemClock, prefix: freshPrefix() });
      try {
        const users = ['a@example.com', 'b@example.com', 'c@example.com'];
        for (const user of users) await store.enable(totpEnrollment(user), [`${user}-code`]);
        const exported: string[] = [];
        for await (const records of store.exportRecords(Date.now())) exported.push(records.user);
        assert.deepEqual(exported, users);
      } finally {
        await store.close();
      }
    });
  });
}
