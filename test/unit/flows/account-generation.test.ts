import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccountGenerations, factorState, GENERATION_TTL_MS } from '../../../src/flows/account-generation.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { cryptoRandom } from '../../../src/core/random.ts';
import type { Enrollment } from '../../../src/store/durable.ts';
import { MemoryStore } from '../../../src/store/memory.ts';

/** The account generation (THREATS T18): what flows record and what account changes replace. */

const USER = 'merchant@example.com';

test('a generation stays the same for every flow until the account changes, and a change makes every earlier one stale', async () => {
  const clock = new ManualClock();
  const generations = new AccountGenerations(new MemoryStore(clock), cryptoRandom);
  const first = await generations.current(USER);
  assert.equal(await generations.current(USER), first, 'two flows starting before any change share it');
  assert.equal(await generations.isCurrent(USER, first), true);
  await generations.bump(USER);
  assert.equal(await generations.isCurrent(USER, first), false, 'after a change the old one is stale');
  const second = await generations.current(USER);
  assert.notEqual(second, first);
  assert.equal(await generations.isCurrent(USER, second), true);
  assert.equal(await generations.isCurrent('other@example.com', second), false, 'generations are per account');
});

test('a lost generation (expired, evicted, store emptied) never makes an old flow current again', async () => {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  const generations = new AccountGenerations(store, cryptoRandom);
  const old = await generations.current(USER);
  clock.advance(GENERATION_TTL_MS + 1);
  assert.equal(await generations.isCurrent(USER, old), false, 'expired: fail closed');
  assert.notEqual(await generations.current(USER), old, 'a new flow gets a new generation');
  const evicted = await generations.current(USER);
  await store.close(); // the embedded store's contents are gone (restart, LRU eviction)
  assert.equal(await generations.isCurrent(USER, evicted), false);
});

test('reading the generation when a flow starts keeps it alive past its first lifetime', async () => {
  const clock = new ManualClock();
  const generations = new AccountGenerations(new MemoryStore(clock), cryptoRandom);
  const g = await generations.current(USER);
  clock.advance(GENERATION_TTL_MS - 1000);
  assert.equal(await generations.current(USER), g);
  clock.advance(GENERATION_TTL_MS - 1000);
  assert.equal(await generations.isCurrent(USER, g), true);
});

test('records made without a generation (before this version) are stale', async () => {
  const generations = new AccountGenerations(new MemoryStore(new ManualClock()), cryptoRandom);
  await generations.current(USER);
  for (const missing of [undefined, null, '', 42]) assert.equal(await generations.isCurrent(USER, missing), false, String(missing));
});

test('factorState: null without 2FA; changes with the method, the destination, the secret and every update', () => {
  const base: Enrollment = { user: USER, method: 'sms', destination: '+15555550189', totp: null, createdAt: 1, updatedAt: 1 };
  assert.equal(factorState(null), null);
  const state = factorState(base);
  assert.equal(factorState({ ...base }), state, 'the same enrollment, the same state');
  const variants: Enrollment[] = [
    { ...base, destination: '+15555550123' },
    { ...base, method: 'email', destination: USER },
    { ...base, updatedAt: 2 },
    { ...base, createdAt: 2, updatedAt: 2 },
    { ...base, method: 'totp', destination: null, totp: { secret: { keyId: '1', data: 'a' }, parameters: { algorithm: 'SHA1', digits: 6, period: 30 } } },
  ];
  for (const v of variants) assert.notEqual(factorState(v), state, JSON.stringify(v));
  const totp = variants[4] as Enrollment;
  assert.notEqual(factorState({ ...totp, totp: { secret: { keyId: '1', data: 'b' }, parameters: { algorithm: 'SHA1', digits: 6, period: 30 } } }), factorState(totp), 'another secret');
});
