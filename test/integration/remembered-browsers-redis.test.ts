import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ManualClock } from '../../src/core/clock.ts';
import { startReplicas } from '../helpers/replicas.ts';
import { expectStatus, lastCode, MERCHANT } from '../helpers/two-factor.ts';
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

  test('two replicas on one Redis: remembered on one, honoured and forgotten on the other', { timeout: 120_000 }, async () => {
    const clock = new ManualClock(Date.UTC(2026, 6, 1, 9));
    const r = await startReplicas({ count: 2, redisUrl: shared.url, clock });
    try {
      await r.guards[0]?.durable.enable({ user: MERCHANT, method: 'email', destination: MERCHANT, totp: null, createdAt: clock.now(), updatedAt: clock.now() }, []);
      const a = r.on(0);
      expectStatus(await a.login(), 200, 'login on replica 0');
      expectStatus(await a.post('/_guard/api/login/verify', { code: lastCode(r.outboxFile, MERCHANT), remember: true }), 200, 'verify on replica 0');
      assert.ok(a.cookies.get('spg_rb'));
      const b = r.on(1, a);
      expectStatus(await b.logout(), 200, 'logout on replica 1');
      clock.advance(61_000);
      assert.equal(expectStatus(await b.login(), 200, 'login on replica 1').body['status'], 'authenticated', 'remembered on the other replica');
      const listed = expectStatus(await b.get('/_guard/api/remembered-browsers'), 200, 'list on replica 1');
      const id = String((listed.body['browsers'] as Array<Record<string, unknown>>)[0]?.['id']);
      const c = r.on(0, b);
      expectStatus(await c.request(`/_guard/api/remembered-browsers/${id}`, { method: 'DELETE', headers: { 'content-type': 'application/json' } }), 200, 'forget on replica 0');
      const d = r.on(1, c);
      expectStatus(await d.logout(), 200, 'logout');
      clock.advance(61_000);
      assert.equal(expectStatus(await d.login(), 200, 'login on replica 1').body['status'], 'verification_required', 'forgotten everywhere');
    } finally {
      await r.close();
    }
  });
}
