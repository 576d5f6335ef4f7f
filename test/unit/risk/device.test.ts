import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { newDeviceId, signDeviceId, verifyDeviceId } from '../../../src/risk/device.ts';
import type { Random } from '../../../src/core/random.ts';

const KEY = Buffer.alloc(32, 7);
const OTHER_KEY = Buffer.alloc(32, 8);
const ID = 'AAECAwQFBgcICQoLDA0ODw';

/** Counting bytes, so ids are predictable and distinct. */
function countingRandom(): Random {
  let next = 0;
  return { bytes: (length) => Buffer.from(Array.from({ length }, () => next++ & 0xff)) };
}

test('newDeviceId: 16 random bytes as base64url', () => {
  const random = countingRandom();
  const first = newDeviceId(random);
  assert.equal(first, ID);
  assert.equal(Buffer.from(first, 'base64url').length, 16);
  const second = newDeviceId(random);
  assert.notEqual(second, first);
  assert.match(second, /^[A-Za-z0-9_-]{22}$/);
});

test('a signed id verifies and gives back the id', () => {
  const value = signDeviceId(KEY, ID);
  assert.match(value, /^AAECAwQFBgcICQoLDA0ODw\.[A-Za-z0-9_-]{43}$/);
  assert.equal(verifyDeviceId(KEY, value), ID);
  assert.equal(signDeviceId(KEY, ID), value, 'signing is deterministic');
  // A string key of 32+ characters works too.
  const textKey = 'k'.repeat(32);
  assert.equal(verifyDeviceId(textKey, signDeviceId(textKey, ID)), ID);
});

test('the signature is an HMAC-SHA256 of the id under the key (domain-separated)', () => {
  const value = signDeviceId(KEY, ID);
  const signature = value.slice(value.indexOf('.') + 1);
  const plain = createHmac('sha256', KEY).update(ID).digest('base64url');
  assert.notEqual(signature, plain, 'a bare HMAC of the id from another use of the key must not verify');
  assert.equal(verifyDeviceId(KEY, `${ID}.${plain}`), null);
});

test('tampered, foreign and malformed values do not verify', () => {
  const value = signDeviceId(KEY, ID);
  const signature = value.slice(value.indexOf('.') + 1);
  const flip = (text: string, at: number): string => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
  const otherId = newDeviceId({ bytes: (n) => Buffer.alloc(n, 0xee) });
  const bad = [
    flip(value, 0), // id changed
    flip(value, value.length - 2), // signature changed
    `${otherId}.${signature}`, // signature moved to another id
    signDeviceId(OTHER_KEY, ID), // another key
    ID, // no signature
    `${ID}.`,
    `.${signature}`,
    `${ID}.${signature}.x`,
    `${ID}.${signature}A`,
    `${ID}.${signature.slice(0, -1)}`,
    `${ID}.${signature.slice(0, -1)}=`,
    `${ID}!.${signature}`,
    '',
  ];
  for (const candidate of bad) assert.equal(verifyDeviceId(KEY, candidate), null, candidate);
  assert.equal(verifyDeviceId(KEY, undefined), null);
  assert.equal(verifyDeviceId(KEY, null), null);
});

test('a non-canonical signature spelling (same bytes, other trailing bits) does not verify', () => {
  const value = signDeviceId(KEY, ID);
  const last = value.at(-1) as string;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const index = alphabet.indexOf(last);
  // The last of 43 characters carries 4 data bits and 2 padding bits; set a padding bit.
  const sibling = alphabet[index ^ 1] as string;
  const variant = value.slice(0, -1) + sibling;
  assert.deepEqual(Buffer.from(variant.split('.')[1] as string, 'base64url'), Buffer.from(value.split('.')[1] as string, 'base64url'));
  assert.equal(verifyDeviceId(KEY, variant), null);
});

test('key rotation: the first key signs, every listed key verifies', () => {
  const old = signDeviceId(OTHER_KEY, ID);
  assert.equal(verifyDeviceId([KEY, OTHER_KEY], old), ID);
  assert.equal(verifyDeviceId([KEY, OTHER_KEY], signDeviceId(KEY, ID)), ID);
  assert.equal(verifyDeviceId([KEY], old), null);
  assert.equal(verifyDeviceId([], old), null);
});

test('short keys and malformed ids are refused when signing', () => {
  assert.throws(() => signDeviceId(Buffer.alloc(31, 1), ID), RangeError);
  assert.throws(() => signDeviceId('short', ID), RangeError);
  assert.throws(() => verifyDeviceId(Buffer.alloc(16, 1), signDeviceId(KEY, ID)), RangeError);
  for (const id of ['', 'short', 'has.dot.in.it.abcdefgh', 'a'.repeat(65), 'spaces are not ok here']) {
    assert.throws(() => signDeviceId(KEY, id), RangeError, id);
  }
});
