import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { startReplicas } from '../helpers/replicas.ts';
import { expectStatus, MERCHANT } from '../helpers/two-factor.ts';

/**
 * "Active sessions" with three replicas on one real Redis: the index is shared (a session signed in
 * on A is listed from C), and ending one session by handle on one replica ends it on every replica,
 * warm caches included: each replica may use a record it read for at most one second (recordCacheMs)
 * and drops it at once when told over the events channel. The replicas share a manual clock, so the
 * bound is shown by moving that clock, not by waiting.
 */

let redis: RedisServer | null = null;
before(async () => {
  redis = await startRedisServer();
  if (!redis) console.warn('\n*** active-sessions replicas: redis-server is NOT installed — SKIPPED ***\n');
});
after(async () => {
  await redis?.stop();
});

test('a session signed out by handle on one replica is refused on every replica', async () => {
  if (!redis) return; // allowed-skip: announced above; CI=true fails in startRedisServer instead
  const clock = new ManualClock();
  const r = await startReplicas({ count: 3, redisUrl: redis.url, clock });
  try {
    const victim = r.on(0);
    expectStatus(await victim.login(MERCHANT), 200, 'victim signs in on A');
    const actor = r.on(1);
    expectStatus(await actor.login(MERCHANT), 200, 'actor signs in on B');
    // Warm every replica's caches with the victim's session.
    for (let i = 0; i < 3; i++) assert.equal((await r.on(i, victim).me()).status, 200, `victim on replica ${i}`);

    const listed = await r.on(2, actor).get('/_guard/api/sessions');
    assert.equal(listed.status, 200, listed.text);
    const sessions = (listed.body as { sessions: Array<{ handle: string; current: boolean }> }).sessions;
    assert.equal(sessions.length, 2, 'C lists the sessions signed in on A and B');
    const handle = sessions.find((s) => !s.current)?.handle ?? '';

    const revoked = await r.on(2, actor).post(`/_guard/api/sessions/${handle}/revoke`, {});
    assert.equal(revoked.status, 200, revoked.text);
    clock.advance(1_000); // the longest a replica may keep using a record it read
    for (let i = 0; i < 3; i++) assert.equal((await r.on(i, victim).me()).status, 401, `replica ${i} still accepts the ended session`);
    for (let i = 0; i < 3; i++) assert.equal((await r.on(i, actor).me()).status, 200, `the acting session on replica ${i}`);
    const after = await r.on(0, actor).get('/_guard/api/sessions');
    assert.deepEqual(
      (after.body as { sessions: Array<{ current: boolean }> }).sessions.map((s) => s.current),
      [true],
    );
  } finally {
    await r.close();
  }
});
