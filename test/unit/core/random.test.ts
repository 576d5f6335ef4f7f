import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pooledRandom } from '../../../src/core/random.ts';

test('the pooled CSPRNG never hands out the same bytes twice, across refills', () => {
  const random = pooledRandom(64);
  const seen = new Set<string>();
  // 16-byte draws from a 64-byte pool: four per fill, then a refill, many times over.
  for (let i = 0; i < 400; i++) {
    const value = random.bytes(16).toString('hex');
    assert.equal(value.length, 32);
    assert.ok(!seen.has(value), `draw ${i} repeated an earlier one`);
    seen.add(value);
  }
  // A draw that does not fit what is left of the pool comes from a fresh fill, whole.
  const odd = pooledRandom(64);
  odd.bytes(60);
  const next = odd.bytes(10);
  assert.equal(next.length, 10);
});

test('a drawn buffer is the caller\'s own: changing it changes no later draw', () => {
  const random = pooledRandom(64);
  const first = random.bytes(8);
  first.fill(0xab);
  const rest = random.bytes(48);
  assert.notEqual(rest.subarray(0, 8).toString('hex'), 'abababababababab');
  // And its memory is not the pool's: it does not see the pool being wiped or refilled.
  const kept = random.bytes(8);
  const copy = Buffer.from(kept);
  random.bytes(64);
  random.bytes(8);
  assert.deepEqual(kept, copy);
});

test('the bytes are not all alike (the pool is filled, not left zeroed)', () => {
  const random = pooledRandom(256);
  for (let i = 0; i < 20; i++) {
    const bytes = random.bytes(32);
    assert.ok(new Set(bytes).size > 4, `draw ${i} looks degenerate: ${bytes.toString('hex')}`);
  }
  // A draw larger than a quarter of the pool bypasses it and is still random and full length.
  const big = random.bytes(200);
  assert.equal(big.length, 200);
  assert.ok(new Set(big).size > 50);
});
