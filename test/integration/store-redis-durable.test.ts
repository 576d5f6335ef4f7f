import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { ManualClock, systemClock } from '../../src/core/clock.ts';
import { StoreUnavailableError } from '../../src/store/ephemeral.ts';
import { openRedisClient } from '../../src/store/redis-connection.ts';
import { RedisDurableStore, type RedisDurableStoreOptions } from '../../src/store/redis-durable.ts';
import { runDurableStoreContract, smsEnrollment, totpEnrollment } from '../helpers/durable-contract.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

const server = await startRedisServer();
const durableServer = server === null ? null : await startRedisServer({ appendOnly: true });

if (server === null || durableServer === null) {
  console.warn(
    '\n*** SKIPPING the RedisDurableStore tests: `redis-server` is not on PATH. ' +
      'Install it (apt-get install redis-server) to run them; in CI (CI=true) its absence fails the run. ***\n',
  );
  test('RedisDurableStore (contract and Redis-specific tests)', { skip: 'redis-server is not installed' }, () => {}); // allowed-skip
} else {
  registerTests(server, durableServer);
}

function registerTests(shared: RedisServer, durable: RedisServer): void {
  after(async () => {
    await shared.stop();
    await durable.stop();
  });

  const T0 = Date.UTC(2026, 0, 1);
  const KEEP = Date.UTC(2100, 0, 1);
  const SAFETY = { timeout: 30_000 };
  const freshPrefix = (): string => `spg:test-${randomUUID()}:`;

  async function open(url: string, options: Partial<RedisDurableStoreOptions> = {}): Promise<RedisDurableStore> {
    const client = await openRedisClient(
      { url, prefix: 'unused:', connect_timeout: 5_000, command_timeout: 1_000 },
      { configFile: process.cwd() },
    );
    return RedisDurableStore.open(client, { clock: systemClock, prefix: freshPrefix(), ...options });
  }

  /** A plain client to look at what the store wrote. */
  async function inspect<T>(url: string, fn: (raw: Redis) => Promise<T>): Promise<T> {
    const raw = new Redis(url, { lazyConnect: true });
    await raw.connect();
    try {
      return await fn(raw);
    } finally {
      raw.disconnect();
    }
  }

  runDurableStoreContract('RedisDurableStore', async () => {
    const store = await open(shared.url);
    return { store, cleanup: () => store.close() };
  });

  describe('RedisDurableStore on a real redis-server', () => {
    test('every key of one account shares one non-empty hash tag (one Cluster slot), even with braces in the user', SAFETY, async () => {
      const prefix = freshPrefix();
      const store = await open(shared.url, { prefix });
      try {
        const users = ['zoe@example.com', 'a}{b@example.com', '{x}@example.com', '}@example.com'];
        for (const user of users) {
          await store.enable(totpEnrollment(user), ['h0', 'h1']);
          assert.equal(await store.consumeRecoveryCode(user, 'h0', T0), true);
          assert.equal(await store.useTotpStep(user, 5, KEEP), true);
        }
        const keys = await inspect(shared.url, (raw) => raw.keys(`${prefix}*`));
        assert.equal(keys.length, users.length * 4, 'enrollment, codes, used codes and steps per account');
        const tagOf = (key: string): string => {
          // Redis Cluster's rule: the text between the first '{' and the next '}', when not empty.
          const open = key.indexOf('{');
          const close = key.indexOf('}', open + 1);
          assert.ok(open >= 0 && close > open + 1, `${key} has a non-empty hash tag`);
          return key.slice(open + 1, close);
        };
        const tags = new Map<string, Set<string>>();
        for (const key of keys) {
          const tag = tagOf(key);
          const group = tags.get(tag) ?? new Set<string>();
          group.add(key.slice(key.lastIndexOf(':') + 1));
          tags.set(tag, group);
        }
        assert.equal(tags.size, users.length, 'one tag per account, never shared between accounts');
        for (const suffixes of tags.values()) assert.deepEqual([...suffixes].sort(), ['codes', 'enrollment', 'steps', 'used-codes']);
        for (const user of users) assert.deepEqual(await store.getEnrollment(user), totpEnrollment(user), 'the user reads back exactly');
      } finally {
        await store.close();
      }
    });

    test('durable records have no TTL', SAFETY, async () => {
      const prefix = freshPrefix();
      const store = await open(shared.url, { prefix });
      try {
        await store.enable(smsEnrollment('zoe@example.com'), ['h0', 'h1']);
        await store.consumeRecoveryCode('zoe@example.com', 'h0', T0);
        await store.useTotpStep('zoe@example.com', 1, KEEP);
        const ttls = await inspect(shared.url, async (raw) => Promise.all((await raw.keys(`${prefix}*`)).map((key) => raw.pttl(key))));
        assert.equal(ttls.length, 4);
        assert.deepEqual(ttls, [-1, -1, -1, -1]);
      } finally {
        await store.close();
      }
    });

    test('used steps past keepUntil (by the injected clock) are pruned; live ones keep refusing replays', SAFETY, async () => {
      const prefix = freshPrefix();
      const clock = new ManualClock(T0);
      const store = await open(shared.url, { prefix, clock });
      const steps = (): Promise<string[]> => inspect(shared.url, async (raw) => raw.zrange((await raw.keys(`${prefix}*steps`))[0] ?? 'none', 0, -1));
      try {
        assert.equal(await store.useTotpStep('zoe@example.com', 1, T0 - 1), true, 'already expired');
        assert.equal(await store.useTotpStep('zoe@example.com', 2, T0), true, 'expires exactly now');
        assert.equal(await store.useTotpStep('zoe@example.com', 3, T0 + 60_000), true, 'live');
        assert.deepEqual(await steps(), ['2', '3'], 'the expired step went at the next use; the one ending now stays');
        assert.equal(await store.useTotpStep('zoe@example.com', 3, T0 + 60_000), false, 'a live step refuses a replay');
        clock.advance(60_001);
        assert.equal(await store.useTotpStep('zoe@example.com', 4, T0 + 120_000), true);
        assert.deepEqual(await steps(), ['4']);
      } finally {
        await store.close();
      }
    });

    test('a malformed record is an error naming the problem, never a silent mapping', SAFETY, async () => {
      const prefix = freshPrefix();
      const store = await open(shared.url, { prefix });
      try {
        await store.enable(totpEnrollment('zoe@example.com'), []);
        await inspect(shared.url, async (raw) => {
          const [key] = await raw.keys(`${prefix}*enrollment`);
          await raw.hset(key!, 'totp_digits', '7');
        });
        await assert.rejects(store.getEnrollment('zoe@example.com'), /invalid TOTP fields/);
        await assert.rejects(store.enable({ ...smsEnrollment('a@example.com'), method: 'totp' }, []), TypeError);
        await assert.rejects(store.enable(smsEnrollment('b@example.com'), ['x', 'x']), /distinct/);
        assert.equal(await store.getEnrollment('b@example.com'), null, 'nothing written');
      } finally {
        await store.close();
      }
    });

    test('persistence: without the append-only file a warning names appendonly; with it there is none', SAFETY, async () => {
      const warnings: string[] = [];
      const unsafe = await open(shared.url, { onPersistenceWarning: (m) => warnings.push(m) });
      const safe = await open(durable.url, { onPersistenceWarning: (m) => warnings.push(`safe: ${m}`) });
      try {
        assert.match(unsafe.persistenceWarning() ?? '', /appendonly is off.*2FA silently off.*appendonly yes/);
        assert.equal(warnings.length, 1, 'reported once at open');
        await unsafe.ping();
        assert.equal(warnings.length, 1, 'not again on every ping while unchanged');
        assert.equal(safe.persistenceWarning(), null);
        // Turned off at run time: the next readiness check notices.
        await inspect(durable.url, (raw) => raw.config('SET', 'appendfsync', 'no'));
        await safe.ping();
        assert.match(safe.persistenceWarning() ?? '', /appendfsync is no/);
        assert.equal(warnings.length, 2);
        assert.match(warnings[1]!, /^safe: /);
        await inspect(durable.url, (raw) => raw.config('SET', 'appendfsync', 'always'));
        await safe.ping();
        assert.equal(safe.persistenceWarning(), null, 'fixed again');
      } finally {
        await unsafe.close();
        await safe.close();
      }
    });

    test('with appendonly, everything survives a Redis crash and restart', SAFETY, async () => {
      const prefix = freshPrefix();
      const first = await open(durable.url, { prefix });
      const enrollment = totpEnrollment('zoe@example.com');
      await first.enable(enrollment, ['h0', 'h1', 'h2']);
      assert.equal(await first.consumeRecoveryCode('zoe@example.com', 'h1', T0), true);
      assert.equal(await first.useTotpStep('zoe@example.com', 777, KEEP), true);
      await first.close();
      await durable.restart(); // SIGKILL, then start again from the append-only file
      const second = await open(durable.url, { prefix });
      try {
        assert.deepEqual(await second.getEnrollment('zoe@example.com'), enrollment);
        assert.equal(await second.remainingRecoveryCodes('zoe@example.com'), 2);
        assert.equal(await second.consumeRecoveryCode('zoe@example.com', 'h1', T0), false, 'a used code stays used');
        assert.equal(await second.useTotpStep('zoe@example.com', 777, KEEP), false, 'a used step stays used');
      } finally {
        await second.close();
      }
    });

    test('Redis down: operations and ping reject with StoreUnavailableError (fail closed)', SAFETY, async () => {
      const own = await startRedisServer();
      assert.ok(own);
      const store = await open(own.url);
      try {
        await store.enable(smsEnrollment('zoe@example.com'), ['h0']);
        await own.stop();
        for (const [what, call] of [
          ['getEnrollment', () => store.getEnrollment('zoe@example.com')],
          ['consumeRecoveryCode', () => store.consumeRecoveryCode('zoe@example.com', 'h0', T0)],
          ['useTotpStep', () => store.useTotpStep('zoe@example.com', 1, KEEP)],
          ['ping', () => store.ping()],
        ] as const) {
          await assert.rejects(call(), StoreUnavailableError, what);
        }
      } finally {
        await store.close();
        await own.stop();
      }
    });

    test('a store sharing its client (closeClient: false) leaves the client open on close, and refuses calls itself', SAFETY, async () => {
      const client = await openRedisClient(
        { url: shared.url, prefix: 'unused:', connect_timeout: 5_000, command_timeout: 1_000 },
        { configFile: process.cwd() },
      );
      try {
        const store = await RedisDurableStore.open(client, { clock: systemClock, prefix: freshPrefix(), closeClient: false });
        await store.close();
        await assert.rejects(store.ping(), StoreUnavailableError);
        await assert.rejects(store.getEnrollment('zoe@example.com'), StoreUnavailableError);
        assert.equal(await client.ping(), 'PONG', 'the shared client still works');
      } finally {
        client.disconnect();
      }
    });
  });
}
