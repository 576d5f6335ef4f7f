import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomUuid } from '../../../src/core/ids.ts';
import { cryptoRandom, type Random } from '../../../src/core/random.ts';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('a random UUID has the version-4 form crypto.randomUUID gives', () => {
  for (let i = 0; i < 100; i++) assert.match(randomUuid(cryptoRandom), UUID_V4);
  assert.match(crypto.randomUUID(), UUID_V4);
  assert.notEqual(randomUuid(cryptoRandom), randomUuid(cryptoRandom));
});

test('the id comes from the injected Random: all-ones and all-zeros bytes still give a valid UUID', () => {
  const fixed = (byte: number): Random => ({ bytes: (length) => Buffer.alloc(length, byte) });
  assert.equal(randomUuid(fixed(0xff)), 'ffffffff-ffff-4fff-bfff-ffffffffffff');
  assert.equal(randomUuid(fixed(0x00)), '00000000-0000-4000-8000-000000000000');
});
