import { after, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { RedisPasskeyStore } from '../../src/factors/passkey/redis-store.ts';
import { closeRedisClient, openRedisClient } from '../../src/store/redis-connection.ts';
import { runPasskeyStoreContract } from '../helpers/passkey-store-contract.ts';
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
}
