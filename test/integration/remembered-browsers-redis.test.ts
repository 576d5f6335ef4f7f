import { after, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { RedisRememberedBrowsers } from '../../src/store/redis-remembered-browsers.ts';
import { closeRedisClient, openRedisClient } from '../../src/store/redis-connection.ts';
import { runRememberedBrowsersContract } from '../helpers/remembered-browsers-contract.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

const server = await startRedisServer();

if (server === null) {
  console.warn(
    '\n*** SKIPPING the RedisRememberedBrowsers tests: `redis-server` is not on PATH. ' +
      'Install it (apt-get install redis-server) to run them; in CI (CI=true) its absence fails the run. ***\n',
  );
  test('RedisRememberedBrowsers (contract)', { skip: 'redis-server is not installed' }, () => {}); // allowed-skip
} else {
  const shared = server;
  after(() => shared.stop());
  runRememberedBrowsersContract('RedisRememberedBrowsers', async () => {
    const client = await openRedisClient({ url: shared.url, prefix: 'unused:', connect_timeout: 5_000, command_timeout: 1_000 }, { configFile: process.cwd() });
    const store = new RedisRememberedBrowsers(client, { prefix: `spg:test-${randomUUID()}:` });
    return { store, port: store, cleanup: () => closeRedisClient(client) };
  });
}
