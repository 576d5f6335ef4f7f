import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { ConfigError, parseConfig } from '../../src/config/load.ts';
import { redisSchema } from '../../src/config/schema/store.ts';
import { StoreUnavailableError } from '../../src/store/ephemeral.ts';
import { openRedisClient, quickRetry, redisConnectionPlan, type RedisConnectionPlan, type RedisSettings } from '../../src/store/redis-connection.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

/** The settings as the config schema gives them (defaults applied). */
const settings = (input: unknown): RedisSettings => redisSchema.parse(input);

const dir = mkdtempSync(join(tmpdir(), 'spg-redis-conn-'));
const CONFIG_FILE = join(dir, 'guard.yaml');
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

/** The options of a standalone or Sentinel plan (fails the test for a Cluster plan). */
function redisOptions(plan: RedisConnectionPlan): RedisOptions {
  if (plan.mode === 'cluster') assert.fail('expected a standalone or sentinel plan');
  return plan.options;
}

/** Asserts a ConfigError whose message matches `pattern` and never contains `secret`. */
function refuses(fn: () => unknown, pattern: RegExp, secret?: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.match(error.message, pattern);
    if (secret !== undefined) assert.ok(!error.message.includes(secret), 'the message does not show the secret');
    return true;
  });
}

describe('redisConnectionPlan: mapping the store.redis section to ioredis options', () => {
  test('a standalone URL: host, port, db and the safety options of every client', () => {
    const plan = redisConnectionPlan(settings({ url: 'redis://redis.internal:6380/3', connect_timeout: '2s', command_timeout: '250ms' }), {
      configFile: CONFIG_FILE,
    });
    assert.equal(plan.mode, 'standalone');
    const { retryStrategy, ...options } = plan.options;
    assert.deepEqual(options, {
      host: 'redis.internal',
      port: 6380,
      db: 3,
      connectTimeout: 2_000,
      commandTimeout: 250,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 1,
      lazyConnect: false,
      enableOfflineQueue: false,
    });
    assert.equal(retryStrategy, quickRetry);
    assert.deepEqual([1, 5, 100].map((n) => quickRetry(n)), [50, 250, 1_000], 'reconnects quickly, at most every second');
  });

  test('defaults: port 6379, db 0; IPv6 hosts lose their brackets', () => {
    const plan = redisConnectionPlan(settings({ url: 'redis://[::1]' }), { configFile: CONFIG_FILE });
    const options = redisOptions(plan);
    assert.equal(plan.mode, 'standalone');
    assert.deepEqual([options.host, options.port, options.db], ['::1', 6379, 0]);
    assert.equal(options.connectTimeout, 5_000);
    assert.equal(options.commandTimeout, 1_000);
  });

  test('a password only from a secret: the URL as a secret reference, or password: {env|file}, with an ACL user', () => {
    const env = { GUARD_REDIS_URL: 'rediss://app:s%40cret@redis.internal:6390/1' };
    const fromEnv = redisConnectionPlan(settings({ url: { env: 'GUARD_REDIS_URL' } }), { configFile: CONFIG_FILE, env });
    assert.equal(fromEnv.mode, 'standalone');
    assert.equal(redisOptions(fromEnv).username, 'app');
    assert.equal(redisOptions(fromEnv).password, 's@cret', 'percent-decoded');
    assert.deepEqual(redisOptions(fromEnv).tls, {}, 'rediss:// means TLS with the system CAs');

    writeFileSync(join(dir, 'redis-password'), 'from-a-file\n');
    const fromFile = redisConnectionPlan(
      settings({ url: 'redis://redis.internal', username: 'guard', password: { file: 'redis-password' } }),
      { configFile: CONFIG_FILE },
    );
    assert.equal(redisOptions(fromFile).username, 'guard');
    assert.equal(redisOptions(fromFile).password, 'from-a-file');
  });

  test('refused: a password written in the config, twice-given credentials, and URLs that are not plain redis URLs', () => {
    // The schema refuses it first; the plan refuses it too, for settings built in code.
    assert.throws(() => settings({ url: 'redis://:hunter2@redis.internal' }), /without a password/);
    const unchecked = { url: 'redis://:hunter2@redis.internal', prefix: 'spg:', connect_timeout: 5_000, command_timeout: 1_000 } as RedisSettings;
    refuses(() => redisConnectionPlan(unchecked, { configFile: CONFIG_FILE }), /^store\.redis\.url: must not carry a password/, 'hunter2');

    const env = { GUARD_REDIS_URL: 'redis://:hunter2@redis.internal', REDIS_PASSWORD: 'other' };
    refuses(
      () => redisConnectionPlan(settings({ url: { env: 'GUARD_REDIS_URL' }, password: { env: 'REDIS_PASSWORD' } }), { configFile: CONFIG_FILE, env }),
      /GUARD_REDIS_URL: the URL carries a password and store\.redis\.password is set too/,
      'hunter2',
    );
    const user = { GUARD_REDIS_URL: 'redis://a:hunter2@redis.internal', REDIS_PASSWORD: 'x' };
    refuses(
      () => redisConnectionPlan(settings({ url: { env: 'GUARD_REDIS_URL' }, username: 'b', password: { env: 'REDIS_PASSWORD' } }), { configFile: CONFIG_FILE, env: user }),
      /names a user and store\.redis\.username is set too/,
      'hunter2',
    );
    for (const [url, why] of [
      ['redis://alice@redis.internal', /names a user but no password/],
      ['redis://redis.internal/0?family=6', /must not have a query/],
      ['redis://redis.internal/zero', /path must be a database number/],
      ['http://redis.internal', /must start with redis:\/\/ or rediss:\/\//],
    ] as const) {
      refuses(() => redisConnectionPlan(settings({ url: { env: 'GUARD_REDIS_URL' } }), { configFile: CONFIG_FILE, env: { GUARD_REDIS_URL: url } }), why);
    }
  });

  test('an invalid GUARD_REDIS_URL is named in the error, and its value is never shown', () => {
    const text = readFileSync(join(process.cwd(), 'config', 'demo.yaml'), 'utf8');
    const env = { GUARD_REDIS_URL: 'not a url :hunter2@' };
    const loaded = parseConfig(text, CONFIG_FILE, env);
    assert.equal(loaded.config.store.kind, 'redis');
    const redis = loaded.config.store.redis;
    assert.ok(redis);
    refuses(() => redisConnectionPlan(redis, { configFile: CONFIG_FILE, env }), /^environment variable GUARD_REDIS_URL: is not a valid URL/, 'hunter2');
    refuses(() => redisConnectionPlan(redis, { configFile: CONFIG_FILE, env: {} }), /environment variable GUARD_REDIS_URL is not set/);
  });

  test('TLS: PEM files relative to the config file, servername; TLS with redis:// or an unreadable file is refused', () => {
    writeFileSync(join(dir, 'ca.pem'), 'CA PEM');
    writeFileSync(join(dir, 'client.pem'), 'CERT PEM');
    writeFileSync(join(dir, 'client.key'), 'KEY PEM');
    const tls = { ca: 'ca.pem', cert: 'client.pem', key: 'client.key', servername: 'redis.internal' };
    const plan = redisConnectionPlan(settings({ url: 'rediss://10.0.0.5:6380', tls }), { configFile: CONFIG_FILE });
    assert.deepEqual(redisOptions(plan).tls, { ca: 'CA PEM', cert: 'CERT PEM', key: 'KEY PEM', servername: 'redis.internal' });
    refuses(() => redisConnectionPlan(settings({ url: 'redis://10.0.0.5', tls }), { configFile: CONFIG_FILE }), /tls is set but the URL is redis:\/\/ \(plain\); use rediss:\/\//);
    refuses(
      () => redisConnectionPlan(settings({ url: 'rediss://10.0.0.5', tls: { ca: 'missing.pem' } }), { configFile: CONFIG_FILE }),
      new RegExp(`store\\.redis\\.tls\\.ca: cannot read ${join(dir, 'missing.pem').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(ENOENT\\)`),
    );
    assert.throws(() => settings({ url: 'rediss://10.0.0.5', tls: { cert: 'client.pem' } }), /cert and key go together/);
  });

  test('Sentinel: master name, sentinels, db, passwords of the master and of the sentinels, TLS for both', () => {
    writeFileSync(join(dir, 'ca.pem'), 'CA PEM');
    const env = { MASTER_PASSWORD: 'm-secret', SENTINEL_PASSWORD: 's-secret' };
    const plan = redisConnectionPlan(
      settings({
        sentinel: { name: 'guard', nodes: ['sentinel-0:26379', '[fd00::1]:26380'], password: { env: 'SENTINEL_PASSWORD' }, db: 2 },
        username: 'guard',
        password: { env: 'MASTER_PASSWORD' },
        tls: { ca: 'ca.pem' },
        command_timeout: '500ms',
      }),
      { configFile: CONFIG_FILE, env },
    );
    assert.equal(plan.mode, 'sentinel');
    const { retryStrategy, sentinelRetryStrategy, ...options } = plan.options;
    assert.equal(retryStrategy, quickRetry);
    assert.equal(sentinelRetryStrategy, quickRetry);
    assert.deepEqual(options, {
      name: 'guard',
      db: 2,
      sentinels: [
        { host: 'sentinel-0', port: 26379 },
        { host: 'fd00::1', port: 26380 },
      ],
      sentinelPassword: 's-secret',
      sentinelCommandTimeout: 500,
      username: 'guard',
      password: 'm-secret',
      tls: { ca: 'CA PEM' },
      enableTLSForSentinelMode: true,
      sentinelTLS: { ca: 'CA PEM' },
      connectTimeout: 5_000,
      commandTimeout: 500,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 1,
      lazyConnect: false,
      enableOfflineQueue: false,
    });
  });

  test('Cluster: seed nodes; no offline queue at the cluster, the safety options and credentials on every node', () => {
    const plan = redisConnectionPlan(
      settings({ cluster: { nodes: ['redis-0:6379', 'redis-1:6379'] }, password: { env: 'P' }, connect_timeout: '3s' }),
      { configFile: CONFIG_FILE, env: { P: 'c-secret' } },
    );
    assert.equal(plan.mode, 'cluster');
    assert.deepEqual(plan.nodes, [
      { host: 'redis-0', port: 6379 },
      { host: 'redis-1', port: 6379 },
    ]);
    const { clusterRetryStrategy, ...options } = plan.options;
    assert.equal(clusterRetryStrategy, quickRetry);
    assert.deepEqual(options, {
      enableOfflineQueue: false,
      slotsRefreshTimeout: 3_000,
      redisOptions: {
        connectTimeout: 3_000,
        commandTimeout: 1_000,
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: 1,
        password: 'c-secret',
      },
    });
  });
});

const plain = await startRedisServer();
const locked = plain === null ? null : await startRedisServer({ password: 'hunter2-long-password' });

if (plain === null || locked === null) {
  console.warn('\n*** SKIPPING the openRedisClient server tests: `redis-server` is not on PATH (CI=true makes this a failure). ***\n');
  test('openRedisClient against redis-server', { skip: 'redis-server is not installed' }, () => {}); // allowed-skip
} else {
  registerServerTests(plain, locked);
}

function registerServerTests(open: RedisServer, protectedServer: RedisServer): void {
  after(async () => {
    await open.stop();
    await protectedServer.stop();
  });
  const SAFETY = { timeout: 30_000 };
  const PASSWORD = 'hunter2-long-password';

  describe('openRedisClient against redis-server', () => {
    test('standalone by URL: ready, and RedisStore.connect uses the same client', SAFETY, async () => {
      const client = await openRedisClient(settings({ url: open.url }), { configFile: CONFIG_FILE });
      try {
        assert.equal(client.status, 'ready');
        assert.equal(await client.ping(), 'PONG');
      } finally {
        client.disconnect();
      }
      const store = await RedisStore.connect(open.url, { prefix: 'spg:conn:' });
      try {
        await store.set('k', 'v', 60_000);
        assert.equal(await store.get('k'), 'v');
      } finally {
        await store.close();
      }
    });

    test('a password from a secret URL (GUARD_REDIS_URL) opens a server with requirepass; none or a wrong one fails closed', SAFETY, async () => {
      const url = `redis://:${PASSWORD}@127.0.0.1:${protectedServer.port}`;
      const client = await openRedisClient(settings({ url: { env: 'GUARD_REDIS_URL' } }), { configFile: CONFIG_FILE, env: { GUARD_REDIS_URL: url } });
      try {
        assert.equal(await client.set('spg:conn:x', '1'), 'OK');
      } finally {
        client.disconnect();
      }
      const errors: Error[] = [];
      for (const env of [{ GUARD_REDIS_URL: protectedServer.url }, { GUARD_REDIS_URL: `redis://:wrong-${PASSWORD}@127.0.0.1:${protectedServer.port}` }]) {
        await assert.rejects(
          openRedisClient(settings({ url: { env: 'GUARD_REDIS_URL' }, connect_timeout: '500ms' }), {
            configFile: CONFIG_FILE,
            env,
            onError: (error) => errors.push(error),
          }),
          (error: unknown) => {
            assert.ok(error instanceof StoreUnavailableError, String(error));
            assert.match(error.message, /redis \(standalone\): not ready within 500 ms \(last error: .*(NOAUTH|WRONGPASS)/);
            assert.ok(!error.message.includes(PASSWORD), 'the password is never in the message');
            return true;
          },
        );
      }
      assert.ok(errors.length >= 2, 'connection errors reach onError');
    });

    test('an ACL user with username and password: {file}', SAFETY, async () => {
      const admin = new Redis(protectedServer.url, { password: PASSWORD });
      try {
        await admin.call('ACL', 'SETUSER', 'guard', 'on', '>guard-acl-password', '~spg:*', '+@all');
        writeFileSync(join(dir, 'acl-password'), 'guard-acl-password\n');
        const client = await openRedisClient(
          settings({ url: `redis://127.0.0.1:${protectedServer.port}`, username: 'guard', password: { file: 'acl-password' } }),
          { configFile: CONFIG_FILE },
        );
        try {
          assert.equal(await client.call('ACL', 'WHOAMI'), 'guard');
          assert.equal(await client.set('spg:acl', '1'), 'OK');
          await assert.rejects(client.set('other:acl', '1'), /NOPERM/, 'the ACL applies: it is that user');
        } finally {
          client.disconnect();
        }
      } finally {
        admin.disconnect();
      }
    });

    test('nothing listening: StoreUnavailableError within connect_timeout, nothing left running', SAFETY, async () => {
      const own = await startRedisServer();
      assert.ok(own);
      await own.stop();
      await assert.rejects(openRedisClient(settings({ url: own.url, connect_timeout: '300ms' }), { configFile: CONFIG_FILE }), (error: unknown) => {
        assert.ok(error instanceof StoreUnavailableError);
        assert.match(error.message, /not ready within 300 ms \(last error: .*ECONNREFUSED/);
        return true;
      });
    });
  });
}
