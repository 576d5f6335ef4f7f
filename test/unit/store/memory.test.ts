import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.ts';
import { MemoryStore } from '../../../src/store/memory.ts';
import { runEphemeralStoreContract } from '../../helpers/store-contract.ts';

runEphemeralStoreContract('MemoryStore', async (clock) => ({ store: new MemoryStore(clock) }));

const LONG = 60_000;
const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => `k${i}`);

test('MemoryStore holds at most `max` entries and evicts the least recently used', async () => {
  const store = new MemoryStore(new ManualClock(), 10);
  for (const k of keys(100)) await store.set(k, k, LONG);
  const values = await store.getMany(keys(100));
  assert.equal(values.filter((v) => v !== null).length, 10, 'exactly `max` entries survive');
  assert.deepEqual(values.slice(90), keys(100).slice(90), 'the 10 most recent are the ones kept');
});

test('MemoryStore: reading an entry makes it recent, so another one is evicted instead', async () => {
  const store = new MemoryStore(new ManualClock(), 3);
  await store.set('a', '1', LONG);
  await store.set('b', '2', LONG);
  await store.set('c', '3', LONG);
  assert.equal(await store.get('a'), '1');
  await store.set('d', '4', LONG);
  assert.deepEqual(await store.getMany(['a', 'b', 'c', 'd']), ['1', null, '3', '4']);
});

test('MemoryStore: counters and claims are bounded too', async () => {
  const store = new MemoryStore(new ManualClock(), 5);
  for (const k of keys(20)) {
    await store.increment(`n:${k}`, 1, LONG);
    await store.setIfAbsent(`c:${k}`, 'x', LONG);
  }
  const all = await store.getMany(keys(20).flatMap((k) => [`n:${k}`, `c:${k}`]));
  assert.equal(all.filter((v) => v !== null).length, 5);
});

test('MemoryStore expires by the injected clock, not by wall time', async () => {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  await store.set('k', 'v', 1);
  assert.equal(await store.get('k'), 'v', 'no wall time is consulted');
  clock.advance(1);
  assert.equal(await store.get('k'), null, 'expires exactly at set time + ttl');
});

test('MemoryStore: a key deleted and set again over and over, among many others, always reads as last written', async () => {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  for (const k of keys(3000)) await store.set(k, k, LONG);
  for (let i = 0; i < 3000; i++) {
    assert.equal(await store.setIfAbsent('hot', String(i), LONG), true, `round ${i}: the deleted key is absent`);
    assert.equal(await store.get('hot'), String(i));
    assert.equal(await store.increment('count', 1, LONG), 1);
    if (i % 3 === 0) assert.equal(await store.delete('hot'), true);
    else if (i % 3 === 1) assert.equal(await store.compareAndDelete('hot', String(i)), true);
    else {
      // Ended by its time instead.
      await store.set('hot', 'x', 1);
      clock.advance(1);
    }
    assert.equal(await store.delete('count'), true);
    assert.deepEqual(await store.getMany(['hot', 'count', 'k7']), [null, null, 'k7']);
    assert.equal(await store.ttl('hot'), null);
    assert.equal(await store.delete('hot'), false, 'a forgotten key is not deleted twice');
  }
});

test('MemoryStore: deleted and expired keys give their room back, in a full store and in batches', async () => {
  const clock = new ManualClock();
  const store = new MemoryStore(clock, 10);
  for (const k of keys(10)) await store.set(k, k, LONG);
  for (const k of keys(5)) await store.delete(k);
  for (const k of ['x1', 'x2', 'x3']) await store.set(k, k, LONG);
  await store.set('y', 'y', 1);
  clock.advance(1);
  assert.equal(await store.get('y'), null, 'expired');
  await store.set('x4', 'x4', LONG);
  await store.set('x5', 'x5', LONG);
  // Deleted and expired keys made room: no live key was evicted for the new ones.
  assert.deepEqual(await store.getMany([...keys(10).slice(5), 'x1', 'x2', 'x3', 'x4', 'x5']), [...keys(10).slice(5), 'x1', 'x2', 'x3', 'x4', 'x5']);

  // Many keys ended: the store drops them a batch at a time rather than holding them all.
  const big = new MemoryStore(clock);
  for (const k of keys(5000)) await big.set(k, k, LONG);
  for (const k of keys(5000)) await big.delete(k);
  const held = (big as unknown as { cache: { size: number } }).cache.size;
  assert.ok(held < 1024, `at most one batch of ended keys is held (${held})`);
  assert.deepEqual(await big.getMany(keys(5000)), keys(5000).map(() => null));
});
