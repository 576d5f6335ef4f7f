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
