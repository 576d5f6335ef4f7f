import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { startReplicas, type Replicas } from '../helpers/replicas.ts';
import { enableEmail, expectStatus, GENEROUS_BUDGETS, GuardClient, lastCode, MERCHANT, outboxLines } from '../helpers/two-factor.ts';

/**
 * Security alerts on the Redis store, two replicas: the account's language learnt by one replica,
 * the sign-in history and the per-account rate limit are shared, so an alert sent by the other
 * replica is in that language and the limit holds across replicas.
 */

let redis: RedisServer | null = null;

before(async () => {
  redis = await startRedisServer();
  if (!redis) console.warn('\n*** alerts-redis: redis-server is NOT installed — the test is SKIPPED ***\n');
});
after(async () => {
  await redis?.stop();
});

interface Line {
  readonly channel: string;
  readonly to: string;
  readonly subject?: string;
  readonly kind?: string;
  readonly alert?: string;
  readonly lang?: string;
}

function alertLines(file: string, alert: string): Line[] {
  return outboxLines<Line>(file).filter((line) => line.kind === 'alert' && line.alert === alert);
}

async function settled(r: Replicas): Promise<void> {
  for (const guard of r.guards) await guard.audit.settle();
  for (const guard of r.guards) await guard.alerts.idle();
}

test('alerts on Redis: language, history and rate limit shared by the replicas', { timeout: 120_000 }, async () => {
  if (!redis) return; // allowed-skip: announced above; CI=true fails in startRedisServer instead
  const r = await startReplicas({
    count: 2,
    redisUrl: redis.url,
    config: { factors: { send_budget: GENEROUS_BUDGETS }, alerts: { rate_limit: { window: '1h', max: 1 } } },
  });
  try {
    const signInWithCode = async (client: GuardClient): Promise<void> => {
      expectStatus(await client.login(MERCHANT), 200, 'login');
      expectStatus(await client.verify(lastCode(r.outboxFile, MERCHANT)), 200, 'login/verify');
    };
    // Replica 1 learns the account's language at its first sign-in, and 2FA goes on there.
    const first = new GuardClient(r.urls[1] as string, { 'accept-language': 'zh-CN' });
    expectStatus(await first.login(MERCHANT), 200, 'first login');
    await enableEmail(first, { outboxFile: r.outboxFile });
    await settled(r);
    assert.equal(alertLines(r.outboxFile, 'factor_changed')[0]?.lang, 'zh-CN');

    // The first verified sign-in (replica 0) starts the history: no alert.
    await signInWithCode(new GuardClient(r.urls[0] as string));
    await settled(r);
    assert.deepEqual(alertLines(r.outboxFile, 'new_browser'), []);

    // A new browser on replica 0, stating no language: alerted in the language replica 1 learnt.
    await signInWithCode(new GuardClient(r.urls[0] as string));
    await settled(r);
    const alerts = alertLines(r.outboxFile, 'new_browser');
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]?.lang, 'zh-CN');
    assert.equal(alerts[0]?.to, MERCHANT);

    // Another new browser on replica 1 within the hour: the shared limit (1) holds it back.
    await signInWithCode(new GuardClient(r.urls[1] as string));
    await settled(r);
    assert.equal(alertLines(r.outboxFile, 'new_browser').length, 1);
  } finally {
    await r.close();
  }
});
