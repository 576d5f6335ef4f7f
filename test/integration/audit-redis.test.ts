import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { MemoryAudit } from '../../src/audit/audit.ts';
import { createAudit } from '../../src/audit/record.ts';
import { RedisAudit } from '../../src/audit/redis-audit.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { RETENTION, auditEvent, auditStoreContract } from '../helpers/audit-store-contract.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { memoryLogger } from '../helpers/stack.ts';

const server = await startRedisServer();

if (server === null) {
  console.warn(
    '\n*** SKIPPING the RedisAudit tests: `redis-server` is not on PATH. ' +
      'Install it (apt-get install redis-server) to run them; in CI (CI=true) its absence fails the run. ***\n',
  );
  test('RedisAudit', { skip: 'redis-server is not installed' }, () => {}); // allowed-skip
} else {
  registerTests(server);
}

function registerTests(shared: RedisServer): void {
  after(() => shared.stop());

  async function client(url = shared.url): Promise<Redis> {
    const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2_000, retryStrategy: () => 50 });
    redis.on('error', () => undefined);
    await once(redis, 'ready');
    return redis;
  }
  const freshPrefix = (): string => `spg:test-${randomUUID()}:`;

  auditStoreContract('RedisAudit', async (clock) => {
    const redis = await client();
    return { store: new RedisAudit(redis, { prefix: freshPrefix(), clock, retentionMs: RETENTION }), close: async () => void redis.disconnect() };
  });

  test('RedisAudit: the per-user list and the global list are capped; keys carry the prefix; a user key expires after the retention', async () => {
    const redis = await client();
    const prefix = freshPrefix();
    const clock = new ManualClock(Date.UTC(2026, 10, 1));
    const store = new RedisAudit(redis, { prefix, clock, retentionMs: RETENTION, perUser: 3, global: 5 });
    try {
      for (let n = 0; n < 4; n++) await store.write(auditEvent(clock, 'ann@example.com', 'login_success', n));
      for (let n = 4; n < 7; n++) await store.write(auditEvent(clock, 'bob@example.com', 'login_success', n));
      assert.deepEqual((await store.recent({ user: 'ann@example.com', limit: 10 })).map((e) => e.requestId), ['req-3', 'req-2', 'req-1']);
      assert.deepEqual((await store.recent({ limit: 10 })).map((e) => e.requestId), ['req-6', 'req-5', 'req-4', 'req-3', 'req-2']);
      const keys = (await redis.keys(`${prefix}*`)).sort();
      assert.deepEqual(keys, [`${prefix}audit:all`, `${prefix}audit:user:ann@example.com`, `${prefix}audit:user:bob@example.com`]);
      const ttl = await redis.pttl(`${prefix}audit:user:ann@example.com`);
      assert.ok(ttl > RETENTION - 60_000 && ttl <= RETENTION, `user key TTL ${ttl}`);
      assert.equal(await redis.pttl(`${prefix}audit:all`), -1, 'the global list is capped, not expired');
    } finally {
      redis.disconnect();
    }
  });

  test('RedisAudit: two replicas (two clients) see each other’s records', async () => {
    const a = await client();
    const b = await client();
    const prefix = freshPrefix();
    const clock = new ManualClock(Date.UTC(2026, 10, 1));
    try {
      const one = new RedisAudit(a, { prefix, clock, retentionMs: RETENTION });
      const two = new RedisAudit(b, { prefix, clock, retentionMs: RETENTION });
      await one.write(auditEvent(clock, 'ann@example.com', 'login_verification_required', 1));
      clock.advance(1000);
      await two.write(auditEvent(clock, 'ann@example.com', 'login_success', 2));
      assert.deepEqual((await one.recent({ user: 'ann@example.com', limit: 10 })).map((e) => e.event), ['login_success', 'login_verification_required']);
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });

  test('Redis down: recording neither throws nor waits; the failure is counted; records flow again after a restart', { timeout: 30_000 }, async () => {
    const own = await startRedisServer();
    assert.ok(own);
    const redis = await client(own.url);
    const clock = new ManualClock(Date.UTC(2026, 10, 1));
    const failures: string[] = [];
    const store = new RedisAudit(redis, { prefix: freshPrefix(), clock, retentionMs: RETENTION });
    const audit = createAudit({ clock, logger: memoryLogger().logger, sinks: [store], query: new MemoryAudit(Date.now), onWriteFailure: (sink) => failures.push(sink) });
    try {
      await own.stop();
      while (redis.status === 'ready') await new Promise((resolve) => setTimeout(resolve, 10));
      assert.doesNotThrow(() => audit.record({ event: 'logout', outcome: 'success', user: 'ann@example.com' }));
      while (failures.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.deepEqual(failures, ['redis']);
      await own.restart();
      if ((redis.status as string) !== 'ready') await once(redis, 'ready');
      await store.write(auditEvent(clock, 'ann@example.com', 'login_success', 9));
      assert.deepEqual((await store.recent({ user: 'ann@example.com', limit: 10 })).map((e) => e.requestId), ['req-9']);
    } finally {
      redis.disconnect();
      await own.stop();
    }
  });
}
