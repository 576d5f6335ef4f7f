import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { StoreUnavailableError } from '../../src/store/ephemeral.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { runEphemeralStoreContract } from '../helpers/store-contract.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

const server = await startRedisServer();

if (server === null) {
  console.warn(
    '\n*** SKIPPING the RedisStore tests: `redis-server` is not on PATH. ' +
      'Install it (apt-get install redis-server) to run them; in CI (CI=true) its absence fails the run. ***\n',
  );
  test('RedisStore (contract and Redis-specific tests)', { skip: 'redis-server is not installed' }, () => {}); // allowed-skip
} else {
  registerTests(server);
}

function registerTests(shared: RedisServer): void {
  after(() => shared.stop());

  const LONG = 60_000;
  const freshPrefix = (): string => `spg:test-${randomUUID()}:`;
  /** Generous bound for tests that must not hang; assertions never depend on timing. */
  const SAFETY = { timeout: 30_000 };

  /** Same-process stores that must be closed at the end of a test. */
  async function open(url: string, prefix = freshPrefix(), commandTimeoutMs?: number): Promise<RedisStore> {
    return RedisStore.connect(url, { prefix, connectTimeoutMs: 5_000, ...(commandTimeoutMs === undefined ? {} : { commandTimeoutMs }) });
  }

  /** `withCause`: the failure came from Redis, whose error must be kept as `cause`. */
  async function expectUnavailable(promise: Promise<unknown>, what: string, withCause = true): Promise<void> {
    await assert.rejects(
      promise,
      (error: unknown) => {
        assert.ok(error instanceof StoreUnavailableError, `${what}: expected StoreUnavailableError, got ${String(error)}`);
        if (withCause) assert.ok(error.cause instanceof Error, `${what}: the Redis error is kept as cause`);
        return true;
      },
      what,
    );
  }

  /** Polls `ping` until the store answers again (ioredis reconnects in the background). */
  async function waitUntilHealthy(store: RedisStore, withinMs = 10_000): Promise<void> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      try {
        await store.ping();
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(50);
      }
    }
  }

  runEphemeralStoreContract(
    'RedisStore',
    async () => {
      const store = await open(shared.url);
      return { store, cleanup: () => store.close() };
    },
    { realTime: true },
  );

  describe('RedisStore on a real redis-server', () => {
    test('two instances on one server (two replicas) see each other’s writes, and atomics hold across them', SAFETY, async () => {
      const prefix = freshPrefix();
      const a = await open(shared.url, prefix);
      const b = await open(shared.url, prefix);
      try {
        await a.set('session', 'from-a', LONG);
        assert.equal(await b.get('session'), 'from-a');
        assert.equal(await b.setIfPresent('session', 'from-b', LONG), true);
        assert.deepEqual(await a.getMany(['session', 'missing']), ['from-b', null]);
        assert.equal(await a.setIfAbsent('session', 'again', LONG), false, 'a key set by the other replica is present');

        await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).increment('counter', 1, LONG)));
        assert.equal(await a.get('counter'), '200', 'increments from both replicas all count');
        assert.equal(await b.decrementIfPresent('counter'), 199);

        await a.set('code', 'c-1', LONG);
        const consumed = await Promise.all(
          Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).compareAndDelete('code', 'c-1')),
        );
        assert.equal(consumed.filter(Boolean).length, 1, 'a single-use value is consumed once across replicas');

        const claims = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).setIfAbsent('claim', `r${i}`, LONG)));
        assert.equal(claims.filter(Boolean).length, 1, 'one claim wins across replicas');

        assert.equal(await b.delete('session'), true);
        assert.equal(await a.get('session'), null, 'a revocation on one replica is seen by the other');
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('the prefix isolates deployments sharing one Redis, and is really applied to the keys', SAFETY, async () => {
      const prefixA = freshPrefix();
      const prefixB = freshPrefix();
      const a = await open(shared.url, prefixA);
      const b = await open(shared.url, prefixB);
      const raw = new Redis(shared.url);
      try {
        await a.set('session:1', 'deployment-a', LONG);
        assert.equal(await b.get('session:1'), null, 'the other deployment does not see it');
        assert.equal(await b.setIfPresent('session:1', 'x', LONG), false);
        assert.equal(await b.compareAndDelete('session:1', 'deployment-a'), false);
        assert.equal(await b.delete('session:1'), false);
        assert.equal(await b.setIfAbsent('session:1', 'deployment-b', LONG), true);
        assert.equal(await a.get('session:1'), 'deployment-a', 'nothing B did touched A’s key');
        assert.equal(await b.get('session:1'), 'deployment-b');

        await a.increment('fail:acct', 3, LONG);
        assert.equal(await b.increment('fail:acct', 1, LONG), 1, 'counters are per deployment');
        assert.equal(await b.decrementIfPresent('fail:acct'), 0);
        assert.equal(await a.get('fail:acct'), '3');

        assert.equal(await raw.get(`${prefixA}session:1`), 'deployment-a', 'stored under prefix + key');
        assert.equal(await raw.get(`${prefixB}session:1`), 'deployment-b');
        assert.equal(await raw.exists('session:1'), 0, 'nothing is written without the prefix');
        const pttl = await raw.pttl(`${prefixA}fail:acct`);
        assert.ok(pttl > 1_000 && pttl <= LONG, `the TTL is in milliseconds (PX), got ${pttl}`);
      } finally {
        raw.disconnect();
        await a.close();
        await b.close();
      }
    });

    test('a key without expiry (written by something else): ttl fails closed, a fixed counter gets a window', SAFETY, async () => {
      const prefix = freshPrefix();
      const store = await open(shared.url, prefix);
      const raw = new Redis(shared.url);
      try {
        await raw.set(`${prefix}ban:acct`, '1');
        await expectUnavailable(store.ttl('ban:acct'), 'ttl of a key without expiry', false);
        await raw.set(`${prefix}fail:acct`, '4');
        assert.equal(await store.increment('fail:acct', 1, LONG, 'fixed'), 5);
        const left = await store.ttl('fail:acct');
        assert.ok(left !== null && left > 0 && left <= LONG, `the counter got ttlMs (got ${left})`);
      } finally {
        raw.disconnect();
        await store.close();
      }
    });

    test('invalid arguments are programming errors (RangeError), not outages', SAFETY, async () => {
      const store = await open(shared.url);
      try {
        await assert.rejects(store.increment('n', 1.5, LONG), RangeError);
        await assert.rejects(store.set('k', 'v', 0), RangeError);
        await assert.rejects(store.setIfAbsent('k', 'v', -1), RangeError);
        await assert.rejects(store.setIfPresent('k', 'v', Number.NaN), RangeError);
        assert.throws(() => new RedisStore(new Redis(shared.url, { lazyConnect: true }), { prefix: '' }), RangeError);
        await store.set('fractional', 'v', 1_500.4);
        const left = await store.ttl('fractional');
        assert.ok(left !== null && left > 1_000 && left <= 1_501, `a fractional TTL is rounded up (got ${left})`);
      } finally {
        await store.close();
      }
    });

    test('connect fails closed (StoreUnavailableError) when nothing listens', SAFETY, async () => {
      const own = await startRedisServer();
      assert.ok(own);
      await own.stop();
      await expectUnavailable(
        RedisStore.connect(own.url, { prefix: freshPrefix(), connectTimeoutMs: 500 }),
        'connect to a stopped server',
      );
    });

    test('server down: every operation rejects with StoreUnavailableError without hanging; after a restart it works again', SAFETY, async () => {
      const own = await startRedisServer(); // its own server: the shared one stays up for other tests
      assert.ok(own);
      const store = await open(own.url);
      try {
        await store.set('before', 'v', LONG);
        await store.increment('n', 1, LONG);
        await own.stop();

        const operations: Array<[string, () => Promise<unknown>]> = [
          ['get', () => store.get('before')],
          ['getMany', () => store.getMany(['before', 'other'])],
          ['set', () => store.set('k', 'v', LONG)],
          ['setIfAbsent', () => store.setIfAbsent('k', 'v', LONG)],
          ['setIfPresent', () => store.setIfPresent('before', 'v2', LONG)],
          ['delete', () => store.delete('before')],
          ['compareAndDelete', () => store.compareAndDelete('before', 'v')],
          ['increment fixed', () => store.increment('n', 1, LONG)],
          ['increment sliding', () => store.increment('n', 1, LONG, 'sliding')],
          ['decrementIfPresent', () => store.decrementIfPresent('n')],
          ['ttl', () => store.ttl('before')],
          ['ping', () => store.ping()],
        ];
        // Twice: right after the drop and again while ioredis keeps trying to reconnect.
        for (const round of [1, 2]) {
          for (const [name, call] of operations) await expectUnavailable(call(), `${name} (round ${round})`);
          await sleep(300);
        }
        assert.deepEqual(await store.getMany([]), [], 'getMany([]) needs no round trip, even now');

        await own.restart(); // a fresh, empty server on the same port
        await waitUntilHealthy(store);
        assert.equal(await store.get('before'), null, 'the restarted server is empty (no persistence)');
        await store.set('after', 'v', LONG);
        assert.equal(await store.get('after'), 'v');
        // The scripts are gone from the new server's cache: EVALSHA must fall back to EVAL.
        assert.equal(await store.increment('n', 2, LONG), 2);
        assert.equal(await store.decrementIfPresent('n'), 1);
        assert.equal(await store.compareAndDelete('after', 'v'), true);
        assert.equal(await store.setIfAbsent('claim', 'x', LONG), true);
        const left = await store.ttl('claim');
        assert.ok(left !== null && left > 0);
      } finally {
        await store.close();
        await own.stop();
      }
    });

    test('commands in flight when the server dies reject with StoreUnavailableError and are not re-sent later', SAFETY, async () => {
      const own = await startRedisServer();
      assert.ok(own);
      const store = await open(own.url, freshPrefix(), 500);
      // A long Lua loop on another connection keeps the server busy, so the store's commands are
      // surely written but unanswered when the server is killed.
      const blocker = new Redis(own.url, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
      blocker.on('error', () => {});
      try {
        await blocker.ping();
        const busy = blocker.eval('local i = 0 while i < 1000000000 do i = i + 1 end return i', 0).catch(() => 'killed');
        await sleep(100);
        const inFlight = Array.from({ length: 300 }, (_, i) => store.increment(`n${i % 10}`, 1, LONG));
        // Settled from the start: on a loaded machine stopping the server can outlast the command
        // timeout, and a rejection nobody awaits yet is an unhandled rejection that fails the file.
        const settled = Promise.allSettled(inFlight);
        await sleep(50);
        await own.stop();
        const results = await settled;
        for (const result of results) {
          assert.equal(result.status, 'rejected', 'the busy server answered nothing before it died');
          assert.ok(result.reason instanceof StoreUnavailableError, `got ${String(result.reason)}`);
        }
        assert.equal(await busy, 'killed');
        await own.restart();
        await waitUntilHealthy(store);
        await sleep(200);
        assert.deepEqual(
          await store.getMany(Array.from({ length: 10 }, (_, i) => `n${i}`)),
          Array.from({ length: 10 }, () => null),
          'no command from before the outage reached the new server',
        );
      } finally {
        blocker.disconnect();
        await store.close();
        await own.stop();
      }
    });

    test('close resolves while Redis is down, and a closed store rejects with StoreUnavailableError', SAFETY, async () => {
      const own = await startRedisServer();
      assert.ok(own);
      const down = await open(own.url);
      await own.stop();
      await down.close();
      await down.close(); // idempotent

      const closed = await open(shared.url);
      await closed.close();
      await expectUnavailable(closed.get('k'), 'get after close');
      await expectUnavailable(closed.ping(), 'ping after close');
    });
  });
}
