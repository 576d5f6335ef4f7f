import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisRiskHistory } from '../../src/risk/redis-history.ts';
import { StoreUnavailableError } from '../../src/store/ephemeral.ts';
import { openRedisClient, type RedisClient } from '../../src/store/redis-connection.ts';
import { login, runRiskHistoryContract } from '../helpers/risk-history-contract.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

const server = await startRedisServer();

if (server === null) {
  console.warn(
    '\n*** SKIPPING the RedisRiskHistory tests: `redis-server` is not on PATH. ' +
      'Install it (apt-get install redis-server) to run them; in CI (CI=true) its absence fails the run. ***\n',
  );
  test('RedisRiskHistory (contract and Redis-specific tests)', { skip: 'redis-server is not installed' }, () => {}); // allowed-skip
} else {
  registerTests(server);
}

function registerTests(shared: RedisServer): void {
  after(() => shared.stop());
  const T0 = Date.UTC(2026, 0, 1);
  const SAFETY = { timeout: 30_000 };
  const freshPrefix = (): string => `spg:test-${randomUUID()}:`;

  function connect(url: string): Promise<RedisClient> {
    return openRedisClient({ url, prefix: 'unused:', connect_timeout: 5_000, command_timeout: 1_000 }, { configFile: process.cwd() });
  }

  runRiskHistoryContract('RedisRiskHistory', async (bounds = {}) => {
    const client = await connect(shared.url);
    const history = new RedisRiskHistory(client, { prefix: freshPrefix(), ...bounds });
    return { history, cleanup: () => history.close() };
  });

  describe('RedisRiskHistory on a real redis-server', () => {
    test('bounds must be positive integers and the prefix must not be empty', SAFETY, async () => {
      const client = await connect(shared.url);
      try {
        for (const bad of [0, -1, 1.5, Number.NaN]) {
          assert.throws(() => new RedisRiskHistory(client, { prefix: 'p:', maxDevicesPerUser: bad }), RangeError);
          assert.throws(() => new RedisRiskHistory(client, { prefix: 'p:', maxLoginsPerUser: bad }), RangeError);
        }
        assert.throws(() => new RedisRiskHistory(client, { prefix: '' }), RangeError);
      } finally {
        client.disconnect();
      }
    });

    test('keys: one hash tag per account, no TTL, and the stored sizes stay within the bounds', SAFETY, async () => {
      const prefix = freshPrefix();
      const client = await connect(shared.url);
      const history = new RedisRiskHistory(client, { prefix, maxDevicesPerUser: 3, maxLoginsPerUser: 4 });
      const raw = new Redis(shared.url);
      try {
        for (let i = 0; i < 10; i++) {
          await history.rememberDevice('zoe@example.com', `device-${i}`, T0 + i);
          await history.recordLogin('zoe@example.com', login(i));
        }
        const keys = (await raw.keys(`${prefix}*`)).sort();
        assert.deepEqual(
          keys.map((key) => key.slice(prefix.length)),
          ['device-first', 'devices', 'logins'].map((suffix) => `history:{u:zoe%40example.com}:${suffix}`),
        );
        for (const key of keys) assert.equal(await raw.pttl(key), -1, `${key} has no TTL`);
        assert.equal(await raw.zcard(`${prefix}history:{u:zoe%40example.com}:devices`), 3);
        assert.equal(await raw.hlen(`${prefix}history:{u:zoe%40example.com}:device-first`), 3, 'first-seen entries go with their device');
        assert.equal(await raw.llen(`${prefix}history:{u:zoe%40example.com}:logins`), 4);
      } finally {
        raw.disconnect();
        await history.close();
      }
    });

    test('Redis down: every call rejects with StoreUnavailableError', SAFETY, async () => {
      const own = await startRedisServer();
      assert.ok(own);
      const client = await connect(own.url);
      const history = new RedisRiskHistory(client, { prefix: freshPrefix() });
      try {
        await own.stop();
        await assert.rejects(history.knownDevice('zoe@example.com', 'd'), StoreUnavailableError);
        await assert.rejects(history.rememberDevice('zoe@example.com', 'd', T0), StoreUnavailableError);
        await assert.rejects(history.recentLogins('zoe@example.com', 5), StoreUnavailableError);
        await assert.rejects(history.recordLogin('zoe@example.com', login(1)), StoreUnavailableError);
      } finally {
        await history.close();
        await own.stop();
      }
    });
  });
}
