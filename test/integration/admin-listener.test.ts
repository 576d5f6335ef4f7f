import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OPEN_POLICY, startStack } from '../helpers/stack.ts';
import { SqliteDurableStore } from '../../src/store/sqlite.ts';
import type { DurableStore } from '../../src/store/durable.ts';
import { systemClock } from '../../src/core/clock.ts';

/** Health and readiness live on the admin listener only, and readiness tells the truth. */

test('healthz and readyz answer on the admin listener; the public listener does not serve them', async () => {
  const stack = await startStack();
  try {
    const health = await fetch(`${stack.adminUrl}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await fetch(`${stack.adminUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready' });
    // On the public listener these are ordinary upstream paths, decided by the policy (authenticated).
    const publicHealth = await fetch(`${stack.url}/healthz`, { headers: { accept: 'application/json' } });
    assert.equal(publicHealth.status, 401);
    assert.equal(((await publicHealth.json()) as { error: string }).error, 'login_required');
    assert.equal((await fetch(`${stack.adminUrl}/nope`)).status, 404);
  } finally {
    await stack.close();
  }
});

test('readyz turns 503 while a store cannot answer, and back when it can', async () => {
  const real = SqliteDurableStore.open(':memory:', { clock: systemClock });
  let broken = false;
  const durable = new Proxy(real, {
    get(target, key, receiver) {
      if (key === 'ping') return () => (broken ? Promise.reject(new Error('disk gone')) : target.ping());
      const value = Reflect.get(target, key, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as DurableStore;
  const stack = await startStack({ start: { durable } });
  try {
    assert.equal((await fetch(`${stack.adminUrl}/readyz`)).status, 200);
    broken = true;
    const down = await fetch(`${stack.adminUrl}/readyz`);
    assert.equal(down.status, 503);
    assert.deepEqual(await down.json(), { status: 'not_ready', reason: 'a store cannot answer' });
    broken = false;
    assert.equal((await fetch(`${stack.adminUrl}/readyz`)).status, 200);
  } finally {
    await stack.close();
  }
});

test('readyz is 503 while the sidecar drains on shutdown', async () => {
  const stack = await startStack({ policy: OPEN_POLICY });
  const slow = fetch(`${stack.url}/api/slow?ms=600`);
  await new Promise((r) => setTimeout(r, 100));
  const closing = stack.guard.close();
  const during = await fetch(`${stack.adminUrl}/readyz`);
  assert.equal(during.status, 503);
  assert.deepEqual(await during.json(), { status: 'not_ready', reason: 'shutting down' });
  assert.equal((await slow).status, 200, 'the in-flight request still completes');
  await closing;
  await stack.close();
});
