import { cryptoRandom } from '../../../src/core/random.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import type { Random } from '../../../src/core/random.ts';
import type { SealedSecret } from '../../../src/store/durable.ts';
import {
  EncryptionKeys,
  SecretBox,
  SecretBoxError,
  newEncryptionKeys,
  parseEncryptionKeys,
  totpSecretAad,
} from '../../../src/factors/secret-box.ts';

const KEY1 = Buffer.alloc(32, 1);
const KEY2 = Buffer.alloc(32, 2);
const KEY9 = Buffer.from(Array.from({ length: 32 }, (_, i) => 0xf0 + (i % 16))); // encodes with + and / in base64
const SECRET = Buffer.from('12345678901234567890'); // the RFC 4226 test secret
const AAD = totpSecretAad('zoe@example.com');

const ring = (entries: Record<string, Buffer>, encoding: BufferEncoding = 'base64'): EncryptionKeys =>
  parseEncryptionKeys(JSON.stringify(Object.fromEntries(Object.entries(entries).map(([id, k]) => [id, k.toString(encoding)]))));

/** Raw bytes of a sealed value: iv | ciphertext | tag. */
const bytesOf = (sealed: SealedSecret): Buffer => Buffer.from(sealed.data, 'base64url');

/** Expects a SecretBoxError whose message leaks none of `forbidden`. */
function throwsSecretBoxError(fn: () => unknown, message: RegExp, forbidden: readonly string[] = []): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof SecretBoxError, `expected SecretBoxError, got ${String(error)}`);
    assert.match(error.message, message);
    for (const f of forbidden) assert.ok(!error.message.includes(f), `message must not contain ${f}`);
    return true;
  });
}

describe('SecretBox: sealing', () => {
  test('round trip; the sealed value is iv | ciphertext | tag in base64url, under the current key', () => {
    const box = new SecretBox(ring({ '1': KEY1 }), cryptoRandom);
    const sealed = box.seal(SECRET, AAD);
    assert.equal(sealed.keyId, '1');
    assert.match(sealed.data, /^[A-Za-z0-9_-]+$/);
    assert.equal(bytesOf(sealed).length, 12 + SECRET.length + 16);
    assert.ok(!bytesOf(sealed).includes(SECRET), 'the plaintext does not appear in the sealed bytes');
    assert.deepEqual(box.open(sealed, AAD), SECRET);
    assert.deepEqual(box.open(box.seal(Buffer.alloc(0), AAD), AAD), Buffer.alloc(0), 'an empty plaintext works too');
  });

  test('the output is standard AES-256-GCM (decrypts with node:crypto directly)', () => {
    const box = new SecretBox(ring({ '1': KEY1 }), cryptoRandom);
    const raw = bytesOf(box.seal(SECRET, AAD));
    const decipher = createDecipheriv('aes-256-gcm', KEY1, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(AAD));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    assert.deepEqual(Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]), SECRET);
  });

  test('every seal draws a fresh 12-byte IV from the injected random source', () => {
    const drawn: number[] = [];
    let counter = 0;
    const random: Random = {
      bytes: (n) => {
        drawn.push(n);
        return Buffer.alloc(n, ++counter);
      },
    };
    const box = new SecretBox(ring({ '1': KEY1 }), random);
    const a = bytesOf(box.seal(SECRET, AAD));
    const b = bytesOf(box.seal(SECRET, AAD));
    assert.deepEqual(drawn, [12, 12]);
    assert.deepEqual(a.subarray(0, 12), Buffer.alloc(12, 1));
    assert.deepEqual(b.subarray(0, 12), Buffer.alloc(12, 2));
    assert.notDeepEqual(a.subarray(12), b.subarray(12), 'a new IV gives a different ciphertext');
    const short = new SecretBox(ring({ '1': KEY1 }), { bytes: () => Buffer.alloc(8) });
    throwsSecretBoxError(() => short.seal(SECRET, AAD), /IV/);
  });

  test('the default random source gives different sealed values for the same plaintext', () => {
    const box = new SecretBox(ring({ '1': KEY1 }), cryptoRandom);
    const seen = new Set(Array.from({ length: 50 }, () => box.seal(SECRET, AAD).data));
    assert.equal(seen.size, 50);
  });
});

describe('SecretBox: opening fails closed', () => {
  const box = new SecretBox(ring({ '1': KEY1 }), cryptoRandom);
  const sealed = box.seal(SECRET, AAD);
  const secretText = SECRET.toString();

  test('a wrong AAD (the secret copied onto another user’s row) fails', () => {
    throwsSecretBoxError(() => box.open(sealed, totpSecretAad('mallory@example.com')), /cannot open/, [secretText]);
    throwsSecretBoxError(() => box.open(sealed, ''), /cannot open/);
    throwsSecretBoxError(() => box.open(sealed, `${AAD} `), /cannot open/);
  });

  test('changing any single byte (iv, ciphertext or tag) fails', () => {
    const raw = bytesOf(sealed);
    for (let i = 0; i < raw.length; i++) {
      const tampered = Buffer.from(raw);
      tampered[i]! ^= 0x01;
      throwsSecretBoxError(() => box.open({ keyId: '1', data: tampered.toString('base64url') }, AAD), /cannot open/, [secretText]);
    }
  });

  test('truncated, extended and malformed data fail', () => {
    const raw = bytesOf(sealed);
    throwsSecretBoxError(() => box.open({ keyId: '1', data: raw.subarray(0, raw.length - 1).toString('base64url') }, AAD), /cannot open/);
    throwsSecretBoxError(() => box.open({ keyId: '1', data: Buffer.concat([raw, Buffer.of(0)]).toString('base64url') }, AAD), /cannot open/);
    throwsSecretBoxError(() => box.open({ keyId: '1', data: raw.subarray(0, 27).toString('base64url') }, AAD), /malformed/);
    throwsSecretBoxError(() => box.open({ keyId: '1', data: '' }, AAD), /malformed/);
    throwsSecretBoxError(() => box.open({ keyId: '1', data: `${sealed.data}!` }, AAD), /malformed/);
    throwsSecretBoxError(() => box.open({ keyId: '1', data: sealed.data.replace(/.$/, '+') }, AAD), /malformed/, []);
    throwsSecretBoxError(() => box.open({ keyId: 1, data: sealed.data } as unknown as SealedSecret, AAD), /malformed/);
  });

  test('another key with the same id fails', () => {
    const other = new SecretBox(ring({ '1': KEY2 }), cryptoRandom);
    throwsSecretBoxError(() => other.open(sealed, AAD), /cannot open/);
  });

  test('an unknown key id fails, naming the id but no key material', () => {
    const k1 = KEY1.toString('base64');
    throwsSecretBoxError(() => box.open({ keyId: '2', data: sealed.data }, AAD), /unknown key id "2"/, [k1, sealed.data]);
    throwsSecretBoxError(() => box.open({ keyId: '', data: sealed.data }, AAD), /unknown key id/);
  });
});

describe('SecretBox: key rotation', () => {
  test('seal with key 1; a ring {1, 2} opens it, seals new values with 2 and flags the old one', () => {
    const old = new SecretBox(ring({ '1': KEY1 }), cryptoRandom);
    const sealedWith1 = old.seal(SECRET, AAD);
    assert.equal(old.needsRotation(sealedWith1), false);

    const rotated = new SecretBox(ring({ '2': KEY2, '1': KEY1 }), cryptoRandom);
    assert.deepEqual(rotated.open(sealedWith1, AAD), SECRET, 'old values still open');
    assert.equal(rotated.needsRotation(sealedWith1), true);
    const sealedWith2 = rotated.seal(SECRET, AAD);
    assert.equal(sealedWith2.keyId, '2', 'the highest id seals');
    assert.equal(rotated.needsRotation(sealedWith2), false);
    throwsSecretBoxError(() => old.open(sealedWith2, AAD), /unknown key id "2"/, [], );

    const resealed = rotated.reseal(sealedWith1, AAD);
    assert.equal(resealed.keyId, '2');
    assert.deepEqual(new SecretBox(ring({ '2': KEY2 }), cryptoRandom).open(resealed, AAD), SECRET, 'a resealed value no longer needs key 1');
    throwsSecretBoxError(() => rotated.reseal(sealedWith1, 'totp:other@example.com'), /cannot open/);
  });

  test('the highest id is compared numerically, not as text', () => {
    const keys = ring({ '9': KEY9, '10': KEY2, '2': KEY1 });
    assert.equal(keys.currentKeyId, '10');
    assert.deepEqual(keys.keyIds, ['10', '9', '2']);
    assert.equal(new SecretBox(keys, cryptoRandom).seal(SECRET, AAD).keyId, '10');
  });
});

describe('parseEncryptionKeys', () => {
  test('accepts base64 (padded or not) and base64url, and a trailing newline', () => {
    for (const text of [
      `{"1": "${KEY9.toString('base64')}"}`,
      `{"1": "${KEY9.toString('base64').replace(/=+$/, '')}"}`,
      `{"1": "${KEY9.toString('base64url')}"}\n`,
    ]) {
      const box = new SecretBox(parseEncryptionKeys(text), cryptoRandom);
      const sealed = box.seal(SECRET, AAD);
      assert.deepEqual(new SecretBox(ring({ '1': KEY9 }), cryptoRandom).open(sealed, AAD), SECRET, `same key from ${text.trim()}`);
    }
    assert.match(KEY9.toString('base64'), /[+/]/, 'the fixture exercises the two alphabets');
  });

  const cases: [string, string, RegExp][] = [
    ['short key', `{"1": "${KEY1.toString('base64')}", "2": "${Buffer.alloc(16, 7).toString('base64')}"}`, /^encryption keys: key 2 must be 32 bytes \(got 16\)$/],
    ['long key', `{"1": "${Buffer.alloc(33).toString('base64')}"}`, /key 1 must be 32 bytes \(got 33\)/],
    ['hex key', `{"1": "${KEY1.toString('hex')}"}`, /key 1 must be 32 bytes \(got 48\); it looks like hex/],
    ['bad JSON', '{"1": ', /^encryption keys: not valid JSON/],
    ['bad JSON with key text', `{"1": "${KEY1.toString('base64')}",}`, /^encryption keys: not valid JSON/],
    ['empty text', '', /not valid JSON/],
    ['no keys', '{}', /^encryption keys: no keys$/],
    ['array', `["${KEY1.toString('base64')}"]`, /expected a JSON object/],
    ['null', 'null', /expected a JSON object/],
    ['string', `"${KEY1.toString('base64')}"`, /expected a JSON object/],
    ['non-integer id', `{"one": "${KEY1.toString('base64')}"}`, /key id "one" must be a positive integer/],
    ['fractional id', `{"1.5": "${KEY1.toString('base64')}"}`, /key id "1.5" must be a positive integer/],
    ['zero id', `{"0": "${KEY1.toString('base64')}"}`, /key id "0" must be a positive integer/],
    ['negative id', `{"-1": "${KEY1.toString('base64')}"}`, /key id "-1" must be a positive integer/],
    ['leading zero id', `{"01": "${KEY1.toString('base64')}"}`, /key id "01" must be a positive integer/],
    ['number value', '{"1": 12345}', /key 1 must be a base64 or base64url string/],
    ['non-base64 characters', `{"1": "${KEY1.toString('base64').replace('A', '*')}"}`, /key 1 must be a base64 or base64url string/],
    ['empty value', '{"1": ""}', /key 1 must be a base64 or base64url string/],
  ];
  for (const [name, text, message] of cases) {
    test(`refuses ${name} with a clear SecretBoxError`, () => {
      // No message may echo key material (V8's JSON errors quote the input; ours must not).
      throwsSecretBoxError(() => parseEncryptionKeys(text), message, [KEY1.toString('base64'), KEY1.toString('hex')]);
    });
  }

  test('the parsed ring prints and serialises as key ids only', () => {
    const keys = ring({ '1': KEY9, '2': KEY2 });
    const printed = [inspect(keys, { depth: 10, showHidden: true }), JSON.stringify(keys), String(keys)];
    for (const text of printed) {
      for (const k of [KEY9, KEY2]) {
        for (const encoding of ['base64', 'base64url', 'hex'] as const) {
          assert.ok(!text.includes(k.toString(encoding)), `no key material in ${text}`);
        }
      }
    }
    assert.deepEqual(JSON.parse(JSON.stringify(keys)), { currentKeyId: '2', keyIds: ['2', '1'] });
    assert.match(inspect(keys), /current: 2/);
  });

  test('raw key bytes are available on purpose (sub-key derivation), as copies', () => {
    const keys = ring({ '1': KEY9, '2': KEY2 });
    assert.deepEqual([...keys.keys], [['1', KEY9], ['2', KEY2]]);
    keys.keys.get('2')!.fill(0);
    assert.deepEqual(keys.keys.get('2'), KEY2, 'zeroing a copy does not damage the ring');
  });
});

describe('newEncryptionKeys', () => {
  test('gives a ring with one fresh 32-byte key under id 1 that parses and works', () => {
    const text = newEncryptionKeys(cryptoRandom);
    const json = JSON.parse(text) as Record<string, string>;
    assert.deepEqual(Object.keys(json), ['1']);
    assert.equal(Buffer.from(json['1']!, 'base64url').length, 32);
    const box = new SecretBox(parseEncryptionKeys(text), cryptoRandom);
    assert.deepEqual(box.open(box.seal(SECRET, AAD), AAD), SECRET);
    assert.notEqual(newEncryptionKeys(cryptoRandom), text, 'each call draws a new key');
  });

  test('uses the injected random source', () => {
    const key = randomBytes(32);
    const text = newEncryptionKeys({ bytes: (n) => (assert.equal(n, 32), Buffer.from(key)) });
    assert.deepEqual(JSON.parse(text), { '1': key.toString('base64url') });
  });
});
