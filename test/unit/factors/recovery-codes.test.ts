import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  findRecoveryCode,
  formatRecoveryCode,
  generateRecoveryCodes,
  hashRecoveryCode,
  normaliseRecoveryCode,
  RECOVERY_CODE_ALPHABET,
  RECOVERY_CODE_BITS,
} from '../../../src/factors/recovery/codes.ts';
import { cryptoRandom, type Random } from '../../../src/core/random.ts';

const HASH_KEY = Buffer.alloc(32, 3);

/** Returns the given byte buffers in order. */
function scripted(...chunks: Buffer[]): Random {
  return {
    bytes: (length) => {
      const next = chunks.shift();
      assert.ok(next, 'drew more random bytes than scripted');
      assert.equal(next.length, length);
      return next;
    },
  };
}

describe('recovery codes: generation', () => {
  test('ten codes by default, shaped xxxx-xxxx-xx, distinct, from the unambiguous alphabet', () => {
    const codes = generateRecoveryCodes(cryptoRandom);
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    for (const code of codes) {
      assert.match(code, /^[23456789abcdefghijkmnpqrstuvwxyz]{4}-[23456789abcdefghijkmnpqrstuvwxyz]{4}-[23456789abcdefghijkmnpqrstuvwxyz]{2}$/);
      assert.doesNotMatch(code, /[0O1lL]/);
    }
  });

  test('the alphabet has 32 symbols (5 bits each) and none of 0, O, o, 1, l', () => {
    assert.equal(RECOVERY_CODE_ALPHABET.length, 32);
    assert.equal(new Set(RECOVERY_CODE_ALPHABET).size, 32);
    for (const ambiguous of ['0', 'O', 'o', '1', 'l', 'L']) assert.ok(!RECOVERY_CODE_ALPHABET.includes(ambiguous), ambiguous);
    assert.ok(RECOVERY_CODE_BITS >= 50);
    assert.equal(Math.log2(RECOVERY_CODE_ALPHABET.length) * 10, RECOVERY_CODE_BITS);
  });

  test('each character comes from 5 bits of one random byte (no bias), in order', () => {
    const bytes = Buffer.from([0, 1, 2, 31, 32, 33, 255, 224, 100, 7]);
    const [code] = generateRecoveryCodes(scripted(bytes), 1);
    const expected = [...bytes].map((b) => RECOVERY_CODE_ALPHABET[b & 31]).join('');
    assert.equal(code, formatRecoveryCode(expected));
    assert.equal(code, '234z-23z2-69');
  });

  test('a repeated code is redrawn so the set stays distinct', () => {
    const a = Buffer.alloc(10, 5);
    const b = Buffer.alloc(10, 6);
    const codes = generateRecoveryCodes(scripted(a, Buffer.from(a), b), 2);
    assert.deepEqual(codes, ['7777-7777-77', '8888-8888-88']);
  });

  test('a stuck random source is an error, not an endless loop', () => {
    const stuck: Random = { bytes: (length) => Buffer.alloc(length, 9) };
    assert.throws(() => generateRecoveryCodes(stuck, 3), /repeating/);
  });

  test('custom counts; silly counts are refused', () => {
    assert.equal(generateRecoveryCodes(cryptoRandom, 16).length, 16);
    assert.throws(() => generateRecoveryCodes(cryptoRandom, 0), RangeError);
    assert.throws(() => generateRecoveryCodes(cryptoRandom, 1.5), RangeError);
  });
});

describe('recovery codes: normalisation', () => {
  const cases: ReadonlyArray<readonly [unknown, string | null]> = [
    ['abcd-efgh-jk', 'abcdefghjk'],
    ['ABCD EFGH JK', 'abcdefghjk'],
    ['  abcd efgh-jk  ', 'abcdefghjk'],
    ['abcdefghjk', 'abcdefghjk'],
    ['AbCd-EfGh-Jk', 'abcdefghjk'],
    ['abcd\u2013efgh\u2014jk', 'abcdefghjk'], // en/em dashes from a word processor
    ['abcd\tefgh\njk', 'abcdefghjk'],
    ['abcd-efgh-j', null], // too short
    ['abcd-efgh-jkm', null], // too long
    ['abcd-efgh-j0', null], // 0 is not in the alphabet
    ['abcd-efgh-jl', null], // l is not in the alphabet
    ['abcd-efgh-jo', null],
    ['abcd_efgh_jk', null],
    ['', null],
    [`${'a'.repeat(10)}${' '.repeat(100)}`, null], // absurdly long input is refused before work
    [['abcd-efgh-jk'], null],
    [1234567890, null],
    [{ toString: () => 'abcd-efgh-jk' }, null],
    [null, null],
    [undefined, null],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input) ?? String(input)} → ${String(expected)}`, () => {
      assert.equal(normaliseRecoveryCode(input), expected);
    });
  }

  test('every generated code normalises to itself without dashes', () => {
    for (const code of generateRecoveryCodes(cryptoRandom, 20)) {
      assert.equal(normaliseRecoveryCode(code), code.replace(/-/g, ''));
      assert.equal(normaliseRecoveryCode(code.toUpperCase().replace(/-/g, ' ')), code.replace(/-/g, ''));
    }
  });
});

describe('recovery codes: hashing and lookup', () => {
  test('hash is hex HMAC-SHA256(hashKey, normalised code)', () => {
    const expected = createHmac('sha256', HASH_KEY).update('abcdefghjk').digest('hex');
    assert.equal(hashRecoveryCode(HASH_KEY, 'abcd-efgh-jk'), expected);
    assert.equal(hashRecoveryCode(HASH_KEY, 'ABCD EFGH JK'), expected, 'a user typing ABCD EFGH JK must match');
    assert.match(expected, /^[0-9a-f]{64}$/);
  });

  test('the hash depends on the key and never contains the code', () => {
    const code = 'abcd-efgh-jk';
    assert.notEqual(hashRecoveryCode(HASH_KEY, code), hashRecoveryCode(Buffer.alloc(32, 4), code));
    assert.ok(!hashRecoveryCode(HASH_KEY, code).includes('abcdefghjk'));
  });

  test('hashing something that is not a recovery code throws', () => {
    assert.throws(() => hashRecoveryCode(HASH_KEY, 'nope'), RangeError);
  });

  test('findRecoveryCode returns the index of the matching stored hash, any presentation', () => {
    const codes = generateRecoveryCodes(cryptoRandom);
    const stored = codes.map((code) => hashRecoveryCode(HASH_KEY, code));
    for (const [index, code] of codes.entries()) {
      assert.equal(findRecoveryCode(HASH_KEY, code, stored), index);
      assert.equal(findRecoveryCode(HASH_KEY, code.toUpperCase().replace(/-/g, ' '), stored), index);
    }
    assert.equal(findRecoveryCode(HASH_KEY, 'zzzz-zzzz-zz', stored.filter((_, i) => codes[i] !== 'zzzz-zzzz-zz')), -1);
    assert.equal(findRecoveryCode(Buffer.alloc(32, 9), codes[0], stored), -1, 'wrong key matches nothing');
    assert.equal(findRecoveryCode(HASH_KEY, [codes[0]], stored), -1);
    assert.equal(findRecoveryCode(HASH_KEY, 42, stored), -1);
    assert.equal(findRecoveryCode(HASH_KEY, codes[0], ['', 'zz', ...stored]), 2, 'garbage entries are skipped safely');
  });
});
