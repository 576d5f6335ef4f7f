import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { OneTimeCodes, oneTimeCodeKeys, MAX_CODE_LIFETIME_MS, type OneTimeCodeOptions } from '../../../src/factors/one-time-codes.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { cryptoRandom, type Random } from '../../../src/core/random.ts';
import { MemoryStore } from '../../../src/store/memory.ts';

const MINUTE = 60_000;
const HASH_KEY = Buffer.alloc(32, 7);
const PURPOSE = 'flow-1234:login-code';

/** A MemoryStore that remembers every key and value ever written through it. */
class RecordingStore extends MemoryStore {
  readonly written: Array<{ key: string; value: string }> = [];
  override async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.written.push({ key, value });
    return super.set(key, value, ttlMs);
  }
  override async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.written.push({ key, value });
    return super.setIfAbsent(key, value, ttlMs);
  }
  override async setIfPresent(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.written.push({ key, value });
    return super.setIfPresent(key, value, ttlMs);
  }
  override async increment(key: string, by: number, ttlMs: number, expiry?: 'fixed' | 'sliding'): Promise<number> {
    const value = await super.increment(key, by, ttlMs, expiry);
    this.written.push({ key, value: String(value) });
    return value;
  }
}

/** Deterministic randomness (SHA-256 in counter mode), so tests that inspect bytes never flake. */
function seededRandom(seed: string): Random {
  let counter = 0;
  return {
    bytes: (length) => {
      const chunks: Buffer[] = [];
      let have = 0;
      while (have < length) {
        const block = createHash('sha256').update(`${seed}:${counter++}`).digest();
        chunks.push(block);
        have += block.length;
      }
      return Buffer.concat(chunks).subarray(0, length);
    },
  };
}

function setup(options: OneTimeCodeOptions = {}, random: Random = cryptoRandom) {
  const clock = new ManualClock();
  const store = new RecordingStore(clock);
  const codes = new OneTimeCodes(store, clock, random, HASH_KEY, options);
  return { clock, store, codes };
}

async function issue(codes: OneTimeCodes, purpose = PURPOSE) {
  const issued = await codes.issue(purpose);
  assert.ok(issued.ok, `expected a code, got ${JSON.stringify(issued)}`);
  return issued;
}

/** A six-digit code different from `code`. */
function wrong(code: string, salt = 1): string {
  return String((Number(code) + salt) % 1_000_000).padStart(6, '0');
}

describe('OneTimeCodes: issue and verify', () => {
  test('an issued code verifies once, then is gone', async () => {
    const { clock, codes } = setup();
    const issued = await issue(codes);
    assert.match(issued.code, /^[0-9]{6}$/);
    assert.equal(issued.expiresAt, clock.now() + 5 * MINUTE);
    assert.equal(issued.resendAfter, clock.now() + MINUTE);
    assert.deepEqual(await codes.verify(PURPOSE, issued.code), { ok: true });
    assert.deepEqual(await codes.verify(PURPOSE, issued.code), { ok: false, reason: 'expired' });
  });

  test('a wrong code is invalid and reports the attempts left; the right one still works', async () => {
    const { codes } = setup();
    const issued = await issue(codes);
    assert.deepEqual(await codes.verify(PURPOSE, wrong(issued.code)), { ok: false, reason: 'invalid', attemptsLeft: 4 });
    assert.deepEqual(await codes.verify(PURPOSE, wrong(issued.code, 2)), { ok: false, reason: 'invalid', attemptsLeft: 3 });
    assert.deepEqual(await codes.verify(PURPOSE, issued.code), { ok: true });
  });

  test('codes are bound to their purpose', async () => {
    const { codes } = setup();
    const a = await issue(codes, 'flow-a:step');
    const b = await issue(codes, 'flow-b:step');
    if (a.code !== b.code) {
      assert.deepEqual(await codes.verify('flow-b:step', a.code), { ok: false, reason: 'invalid', attemptsLeft: 4 });
    }
    assert.deepEqual(await codes.verify('flow-c:step', a.code), { ok: false, reason: 'expired' });
    assert.deepEqual(await codes.verify('flow-a:step', a.code), { ok: true });
    assert.deepEqual(await codes.verify('flow-b:step', b.code), { ok: true });
  });

  test('never issued answers expired', async () => {
    const { codes } = setup();
    assert.deepEqual(await codes.verify('nothing-here', '123456'), { ok: false, reason: 'expired' });
  });

  test('the code expires with the clock (5 minutes by default)', async () => {
    const { clock, codes } = setup();
    const issued = await issue(codes);
    clock.advance(5 * MINUTE - 1);
    // Still valid one millisecond before the end: verify with a wrong code first to keep it alive.
    assert.equal((await codes.verify(PURPOSE, wrong(issued.code))).ok, false);
    assert.deepEqual(await codes.verify(PURPOSE, issued.code), { ok: true });

    const second = await setupIssueAndAdvance(5 * MINUTE);
    assert.deepEqual(second.result, { ok: false, reason: 'expired' });
  });

  test('a configured lifetime is honoured', async () => {
    const { clock, codes } = setup({ lifetimeMs: 2 * MINUTE });
    const issued = await issue(codes);
    assert.equal(issued.expiresAt, clock.now() + 2 * MINUTE);
    clock.advance(2 * MINUTE);
    assert.deepEqual(await codes.verify(PURPOSE, issued.code), { ok: false, reason: 'expired' });
  });

  test('lifetimes over 10 minutes (NIST SP 800-63B) and bad options are refused', () => {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    assert.throws(() => new OneTimeCodes(store, clock, cryptoRandom, HASH_KEY, { lifetimeMs: MAX_CODE_LIFETIME_MS + 1 }), RangeError);
    assert.throws(() => new OneTimeCodes(store, clock, cryptoRandom, HASH_KEY, { lifetimeMs: 0 }), RangeError);
    assert.throws(() => new OneTimeCodes(store, clock, cryptoRandom, HASH_KEY, { maxAttempts: 0 }), RangeError);
    assert.throws(() => new OneTimeCodes(store, clock, cryptoRandom, HASH_KEY, { resendCooldownMs: -1 }), RangeError);
    assert.throws(() => new OneTimeCodes(store, clock, cryptoRandom, Buffer.alloc(8)), RangeError);
    assert.doesNotThrow(() => new OneTimeCodes(store, clock, cryptoRandom, HASH_KEY, { lifetimeMs: MAX_CODE_LIFETIME_MS }));
  });
});

async function setupIssueAndAdvance(ms: number) {
  const { clock, codes } = setup();
  const issued = await issue(codes);
  clock.advance(ms);
  return { issued, result: await codes.verify(PURPOSE, issued.code) };
}

describe('OneTimeCodes: replacement and cooldown', () => {
  test('a new issue kills the previous code and resets the attempts', async () => {
    const { clock, codes } = setup();
    const first = await issue(codes);
    for (let i = 1; i <= 4; i++) await codes.verify(PURPOSE, wrong(first.code, i));
    clock.advance(MINUTE);
    const second = await issue(codes);
    if (second.code !== first.code) {
      assert.deepEqual(await codes.verify(PURPOSE, first.code), { ok: false, reason: 'invalid', attemptsLeft: 4 });
    } else {
      assert.deepEqual(await codes.verify(PURPOSE, wrong(second.code)), { ok: false, reason: 'invalid', attemptsLeft: 4 });
    }
    assert.deepEqual(await codes.verify(PURPOSE, second.code), { ok: true });
  });

  test('a verify that read the old code before a replacement cannot consume the new one', async () => {
    const { clock, codes } = setup();
    const first = await issue(codes);
    const racing = codes.verify(PURPOSE, first.code); // reads the old record first…
    clock.advance(MINUTE);
    const replacing = codes.issue(PURPOSE); // …while a resend replaces it
    const [raced, replaced] = await Promise.all([racing, replacing]);
    assert.ok(replaced.ok);
    // Either the old code won before the replacement was written, or it lost and the new one is intact.
    assert.ok(raced.ok || raced.reason === 'expired', JSON.stringify(raced));
    assert.deepEqual(await codes.verify(PURPOSE, replaced.code), { ok: true });
  });

  test('resend is refused within the cooldown with the time left, allowed after it', async () => {
    const { clock, codes } = setup();
    const first = await issue(codes);
    clock.advance(20_000);
    assert.deepEqual(await codes.canResend(PURPOSE), { ok: false, refused: 'cooldown', retryAfterMs: 40_000 });
    assert.deepEqual(await codes.issue(PURPOSE), { ok: false, refused: 'cooldown', retryAfterMs: 40_000 });
    // The refused resend did not touch the live code.
    assert.deepEqual(await codes.verify(PURPOSE, first.code), { ok: true });
    clock.advance(40_000);
    assert.deepEqual(await codes.canResend(PURPOSE), { ok: true });
    await issue(codes);
  });

  test('parallel issues for one purpose: exactly one code goes out', async () => {
    const { codes } = setup();
    const results = await Promise.all(Array.from({ length: 20 }, () => codes.issue(PURPOSE)));
    assert.equal(results.filter((r) => r.ok).length, 1);
    assert.equal(results.filter((r) => !r.ok && r.refused === 'cooldown').length, 19);
  });

  test('cooldowns are per purpose', async () => {
    const { codes } = setup();
    await issue(codes, 'flow-a:step');
    await issue(codes, 'flow-b:step');
  });

  test('discard leaves no live code and lifts the cooldown', async () => {
    const { store, codes } = setup();
    const issued = await issue(codes);
    await codes.discard(PURPOSE);
    assert.equal(await store.get(oneTimeCodeKeys.code(PURPOSE)), null);
    assert.deepEqual(await codes.verify(PURPOSE, issued.code), { ok: false, reason: 'expired' });
    assert.deepEqual(await codes.canResend(PURPOSE), { ok: true });
    const again = await issue(codes);
    assert.deepEqual(await codes.verify(PURPOSE, again.code), { ok: true });
  });
});

describe('OneTimeCodes: attempt cap and races (THREATS T8)', () => {
  test('200 parallel wrong guesses: exactly maxAttempts are judged, the rest are refused, the code dies', async () => {
    const { store, codes } = setup();
    const issued = await issue(codes);
    const guesses = Array.from({ length: 200 }, (_, i) => wrong(issued.code, i + 1));
    const results = await Promise.all(guesses.map((guess) => codes.verify(PURPOSE, guess)));
    const invalid = results.filter((r) => !r.ok && r.reason === 'invalid');
    assert.equal(invalid.length, 5);
    assert.deepEqual(
      invalid.map((r) => (!r.ok && r.reason === 'invalid' ? r.attemptsLeft : -1)).sort(),
      [0, 1, 2, 3, 4],
    );
    assert.equal(results.filter((r) => !r.ok && r.reason === 'too_many_attempts').length, 195);
    assert.equal(await store.get(oneTimeCodeKeys.code(PURPOSE)), null, 'the code is deleted');
    assert.deepEqual(await codes.verify(PURPOSE, issued.code), { ok: false, reason: 'too_many_attempts' });
  });

  test('the right code after maxAttempts wrong ones fails (sequential)', async () => {
    const { codes } = setup({ maxAttempts: 3 });
    const issued = await issue(codes);
    assert.deepEqual(await codes.verify(PURPOSE, wrong(issued.code, 1)), { ok: false, reason: 'invalid', attemptsLeft: 2 });
    assert.deepEqual(await codes.verify(PURPOSE, wrong(issued.code, 2)), { ok: false, reason: 'invalid', attemptsLeft: 1 });
    assert.deepEqual(await codes.verify(PURPOSE, wrong(issued.code, 3)), { ok: false, reason: 'invalid', attemptsLeft: 0 });
    assert.deepEqual(await codes.verify(PURPOSE, issued.code), { ok: false, reason: 'too_many_attempts' });
  });

  test('parallel guesses mixed with the right code: at most maxAttempts are judged', async () => {
    const { codes } = setup();
    const issued = await issue(codes);
    const submissions = Array.from({ length: 50 }, (_, i) => (i === 30 ? issued.code : wrong(issued.code, i + 1)));
    const results = await Promise.all(submissions.map((s) => codes.verify(PURPOSE, s)));
    const judged = results.filter((r) => r.ok || r.reason === 'invalid');
    assert.ok(judged.length <= 5, `judged ${judged.length}`);
    // The right code came 31st, after the cap: it must not have succeeded.
    assert.equal(results.filter((r) => r.ok).length, 0);
  });

  test('two concurrent correct submissions succeed exactly once', async () => {
    const { codes } = setup();
    const issued = await issue(codes);
    const results = await Promise.all([codes.verify(PURPOSE, issued.code), codes.verify(PURPOSE, issued.code)]);
    assert.equal(results.filter((r) => r.ok).length, 1);
    assert.deepEqual(results.find((r) => !r.ok), { ok: false, reason: 'expired' });
  });

  test('ten concurrent correct submissions succeed exactly once', async () => {
    const { codes } = setup({ maxAttempts: 20 });
    const issued = await issue(codes);
    const results = await Promise.all(Array.from({ length: 10 }, () => codes.verify(PURPOSE, issued.code)));
    assert.equal(results.filter((r) => r.ok).length, 1);
  });
});

describe('OneTimeCodes: malformed input', () => {
  const malformed: ReadonlyArray<readonly [string, (code: string) => unknown]> = [
    ['array of the code', (code) => [code]],
    ['number', (code) => Number(code)],
    ['object', (code) => ({ code })],
    ['object with toString', (code) => ({ toString: () => code })],
    ['leading space', (code) => ` ${code}`],
    ['leading space, 6 chars', (code) => ` ${code.slice(1)}`],
    ['trailing newline', (code) => `${code}\n`],
    ['five digits', (code) => code.slice(0, 5)],
    ['seven digits', (code) => `${code}0`],
    ['empty', () => ''],
    ['letters', () => 'abcdef'],
    ['full-width digits', (code) => code.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d)))],
    ['null', () => null],
    ['undefined', () => undefined],
  ];

  for (const [name, make] of malformed) {
    test(`${name} → malformed, and it consumes an attempt`, async () => {
      const { codes } = setup();
      const issued = await issue(codes);
      assert.deepEqual(await codes.verify(PURPOSE, make(issued.code)), { ok: false, reason: 'malformed' });
      assert.deepEqual(await codes.verify(PURPOSE, wrong(issued.code)), { ok: false, reason: 'invalid', attemptsLeft: 3 });
      assert.deepEqual(await codes.verify(PURPOSE, issued.code), { ok: true });
    });
  }

  test('malformed submissions alone exhaust the code', async () => {
    const { codes } = setup();
    const issued = await issue(codes);
    for (let i = 0; i < 5; i++) assert.deepEqual(await codes.verify(PURPOSE, [issued.code]), { ok: false, reason: 'malformed' });
    assert.deepEqual(await codes.verify(PURPOSE, issued.code), { ok: false, reason: 'too_many_attempts' });
  });

  test('malformed without a live code is malformed and changes nothing', async () => {
    const { codes } = setup();
    assert.deepEqual(await codes.verify(PURPOSE, 12), { ok: false, reason: 'malformed' });
  });
});

describe('OneTimeCodes: codes at rest and randomness', () => {
  test('the store never holds the code in clear; it holds HMAC-SHA256(hashKey, purpose:code)', async () => {
    const { store, codes } = setup({}, seededRandom('at-rest'));
    const issued = await issue(codes);
    await codes.verify(PURPOSE, wrong(issued.code));

    const record = await store.get(oneTimeCodeKeys.code(PURPOSE));
    assert.ok(record !== null);
    const expectedHash = createHmac('sha256', HASH_KEY).update(`${PURPOSE}:${issued.code}`).digest('hex');
    assert.ok(record.endsWith(`.${expectedHash}`), 'the record is <nonce>.<hmac>');

    const nonce = await store.get(oneTimeCodeKeys.issued(PURPOSE));
    assert.ok(nonce !== null);
    const known = [
      oneTimeCodeKeys.code(PURPOSE),
      oneTimeCodeKeys.issued(PURPOSE),
      oneTimeCodeKeys.attempts(nonce),
      oneTimeCodeKeys.cooldown(PURPOSE),
    ];
    const values = await store.getMany(known);
    assert.ok(values.every((v) => v !== null), 'all four keys exist');
    for (const [i, value] of values.entries()) {
      assert.ok(!value!.includes(issued.code), `${known[i]} holds the code in clear`);
    }
    for (const key of known) assert.ok(!key.includes(issued.code));
    // Every value ever written, too.
    assert.ok(store.written.length >= 4);
    for (const { key, value } of store.written) {
      assert.ok(!value.includes(issued.code) && !key.includes(issued.code), `${key} was written with the code in clear`);
    }
  });

  test('codes are drawn without modulo bias: samples ≥ 4294000000 are redrawn', async () => {
    // 0xffffffff is above the largest multiple of 10^6 under 2^32 (4294000000) and must be
    // discarded; a naive `% 10^6` would have produced 967295.
    const samples = [uint32(0xffffffff), uint32(4_293_999_999)];
    const random: Random = {
      bytes: (length) => (length === 4 ? samples.shift() ?? assert.fail('too many draws') : randomBytes(length)),
    };
    const { codes } = setup({}, random);
    const issued = await issue(codes);
    assert.equal(issued.code, '999999');
    assert.equal(samples.length, 0, 'the first sample was rejected, the second used');
  });

  test('a sample exactly at the limit is redrawn and the next one is used', async () => {
    const samples = [uint32(4_294_000_000), uint32(4_294_000_001), uint32(42)];
    const random: Random = {
      bytes: (length) => (length === 4 ? samples.shift() ?? assert.fail('too many draws') : randomBytes(length)),
    };
    const { codes } = setup({}, random);
    const issued = await issue(codes);
    assert.equal(issued.code, '000042');
    assert.equal(samples.length, 0);
  });

  test('codes look uniform over many draws (leading digit spread)', async () => {
    const clock = new ManualClock();
    const codes = new OneTimeCodes(new MemoryStore(clock), clock, seededRandom('uniform'), HASH_KEY, { resendCooldownMs: 0 });
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 2000; i++) {
      const issued = await issue(codes, `p${i}`);
      counts[Number(issued.code[0])]! += 1;
    }
    // Expected 200 each; a generous bound that a biased or constant generator fails.
    for (const count of counts) assert.ok(count > 120 && count < 280, `leading digits ${counts.join(',')}`);
  });
});

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value, 0);
  return buffer;
}
