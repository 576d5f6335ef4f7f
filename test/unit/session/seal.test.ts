import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sealData, unsealData } from 'iron-session';
import { cryptoRandom } from '../../../src/core/random.ts';
import { sealSession } from '../../../src/session/seal.ts';

const ONE = { '1': 'a'.repeat(32) };
const ROTATED = { '1': 'a'.repeat(32), '2': 'b'.repeat(40) };

test('a sealed session opens with iron-session, with one password and after a rotation', async () => {
  const content = { s: 'session-id', u: 'alice@example.com', note: 'ünïcode ✓' };
  assert.deepEqual(await unsealData(sealSession(content, ONE, 3600, cryptoRandom), { password: ONE, ttl: 3600 }), content);
  assert.deepEqual(await unsealData(sealSession(content, ROTATED, 3600, cryptoRandom), { password: ROTATED, ttl: 3600 }), content);
});

test('the newest password seals: the old password alone cannot open it', async () => {
  const sealed = sealSession({ s: 'x' }, ROTATED, 3600, cryptoRandom);
  assert.match(sealed, /^Fe26\.2\*2\*/);
  assert.deepEqual(await unsealData(sealed, { password: { '1': ONE['1'] }, ttl: 3600 }), {});
});

test('the seal has the shape and expiry iron-session gives it', async () => {
  const before = Date.now();
  const ours = sealSession({ s: 'x' }, ONE, 60, cryptoRandom);
  const theirs = await sealData({ s: 'x' }, { password: ONE, ttl: 60 });
  const shape = (sealed: string): number[] => sealed.split('*').map((part) => part.length);
  assert.equal(ours.split('*').length, 8);
  assert.ok(ours.endsWith('~2') && theirs.endsWith('~2'));
  // Same salt, IV, ciphertext and MAC lengths (the values are random).
  assert.deepEqual(shape(ours).slice(0, 5), shape(theirs).slice(0, 5));
  assert.deepEqual(shape(ours).slice(6), shape(theirs).slice(6));
  const expiry = Number(ours.split('*')[5]);
  assert.ok(expiry >= before + 60_000 && expiry <= Date.now() + 60_000);
});

test('a tampered seal does not open (ciphertext or expiry changed)', async () => {
  const sealed = sealSession({ s: 'x' }, ONE, 3600, cryptoRandom);
  const parts = sealed.split('*');
  parts[4] = `${parts[4]?.slice(0, -2)}AA`;
  assert.deepEqual(await unsealData(parts.join('*'), { password: ONE, ttl: 3600 }), {});
  const later = sealed.replace(/\*(\d{13})\*/, (_m, t: string) => `*${Number(t) + 86_400_000}*`);
  assert.notEqual(later, sealed);
  assert.deepEqual(await unsealData(later, { password: ONE, ttl: 3600 }), {});
});

test('a short password is refused', () => {
  assert.throws(() => sealSession({ s: 'x' }, { '1': 'short' }, 60, cryptoRandom), /too short/);
});
