import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  base32,
  DEFAULT_TOTP,
  formatKeyForDisplay,
  generateTotpSecret,
  hotpCode,
  otpauthUri,
  qrSvg,
  totpCode,
  totpStep,
  verifyTotp,
} from '../../../src/factors/totp/algorithm.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { type Random } from '../../../src/core/random.ts';
import type { TotpParameters } from '../../../src/store/durable.ts';

const RFC_SECRET = Buffer.from('12345678901234567890', 'ascii');

describe('TOTP: RFC 4226 appendix D (HOTP)', () => {
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];

  for (const [counter, code] of expected.entries()) {
    test(`counter ${counter} → ${code}`, () => {
      assert.equal(hotpCode(RFC_SECRET, counter), code);
      // TOTP is HOTP of the time step: the start of step `counter` gives the same value.
      assert.equal(totpCode(RFC_SECRET, counter * 30_000, DEFAULT_TOTP), code);
    });
  }
});

describe('TOTP: RFC 6238 appendix B (8 digits)', () => {
  const seeds: Record<TotpParameters['algorithm'], Buffer> = {
    SHA1: Buffer.from('12345678901234567890', 'ascii'),
    SHA256: Buffer.from('12345678901234567890123456789012', 'ascii'),
    SHA512: Buffer.from('1234567890123456789012345678901234567890123456789012345678901234', 'ascii'),
  };
  const table: ReadonlyArray<readonly [number, string, string, string]> = [
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [1111111111, '14050471', '67062674', '99943326'],
    [1234567890, '89005924', '91819424', '93441116'],
    [2000000000, '69279037', '90698825', '38618901'],
    [20000000000, '65353130', '77737706', '47863826'],
  ];

  test('seed lengths are 20/32/64 bytes', () => {
    assert.deepEqual([seeds.SHA1.length, seeds.SHA256.length, seeds.SHA512.length], [20, 32, 64]);
  });

  for (const [seconds, sha1, sha256, sha512] of table) {
    for (const [algorithm, code] of [['SHA1', sha1], ['SHA256', sha256], ['SHA512', sha512]] as const) {
      test(`T=${seconds} ${algorithm} → ${code}`, () => {
        const params: TotpParameters = { algorithm, digits: 8, period: 30 };
        assert.equal(totpCode(seeds[algorithm], seconds * 1000, params), code);
        const verified = verifyTotp(seeds[algorithm], code, seconds * 1000, params, 0);
        assert.deepEqual(verified, { ok: true, step: Math.floor(seconds / 30) });
      });
    }
  }
});

describe('TOTP: secrets', () => {
  test('generateTotpSecret takes 20 bytes from the injected Random', () => {
    const requested: number[] = [];
    const random: Random = {
      bytes: (length) => {
        requested.push(length);
        return Buffer.alloc(length, 0xab);
      },
    };
    const secret = generateTotpSecret(random);
    assert.deepEqual(requested, [20]);
    assert.equal(secret.length, 20);
    assert.deepEqual(secret, Buffer.alloc(20, 0xab));
  });

  test('a Random that returns too few bytes is refused', () => {
    assert.throws(() => generateTotpSecret({ bytes: () => Buffer.alloc(10) }));
  });
});

describe('TOTP: verification window', () => {
  const secret = Buffer.from('0123456789abcdef0123', 'ascii');
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0, 15)); // 15 s into a step
  const now = clock.now();
  const current = totpStep(now);

  const codeAt = (offset: number) => totpCode(secret, now + offset * 30_000);

  test('the codes of steps −1, 0 and +1 verify and report their step', () => {
    for (const offset of [-1, 0, 1]) {
      assert.deepEqual(verifyTotp(secret, codeAt(offset), now), { ok: true, step: current + offset }, `offset ${offset}`);
    }
  });

  test('the codes of steps −2 and +2 do not verify with window 1', () => {
    for (const offset of [-2, 2]) {
      const code = codeAt(offset);
      // Guard against a chance collision with a code inside the window making the test meaningless.
      assert.ok(![-1, 0, 1].some((inside) => codeAt(inside) === code));
      assert.deepEqual(verifyTotp(secret, code, now), { ok: false }, `offset ${offset}`);
    }
  });

  test('window 0 accepts only the current step; window 2 accepts ±2', () => {
    assert.deepEqual(verifyTotp(secret, codeAt(0), now, DEFAULT_TOTP, 0), { ok: true, step: current });
    assert.deepEqual(verifyTotp(secret, codeAt(1), now, DEFAULT_TOTP, 0), { ok: false });
    assert.deepEqual(verifyTotp(secret, codeAt(-2), now, DEFAULT_TOTP, 2), { ok: true, step: current - 2 });
  });

  test('time comes from the caller: moving the ManualClock moves the accepted codes', () => {
    const code = totpCode(secret, clock.now());
    assert.equal(verifyTotp(secret, code, clock.now()).ok, true);
    const moving = new ManualClock(clock.now());
    moving.advance(60_000);
    assert.deepEqual(verifyTotp(secret, code, moving.now()), { ok: false });
    moving.advance(-90_000);
    assert.equal(verifyTotp(secret, code, moving.now()).ok, true);
  });

  test('invalid windows are programming errors', () => {
    assert.throws(() => verifyTotp(secret, codeAt(0), now, DEFAULT_TOTP, -1), RangeError);
    assert.throws(() => verifyTotp(secret, codeAt(0), now, DEFAULT_TOTP, 1.5), RangeError);
    assert.throws(() => verifyTotp(secret, codeAt(0), now, DEFAULT_TOTP, 11), RangeError);
  });
});

describe('TOTP: malformed codes fail without matching', () => {
  const secret = Buffer.from('0123456789abcdef0123', 'ascii');
  const now = Date.UTC(2026, 0, 1);
  const good = totpCode(secret, now);

  test('the good code itself verifies (control)', () => {
    assert.equal(verifyTotp(secret, good, now).ok, true);
  });

  const bad: ReadonlyArray<readonly [string, unknown]> = [
    ['empty string', ''],
    ['too short', good.slice(0, 5)],
    ['too long', `${good}0`],
    ['leading space', ` ${good.slice(1)}`],
    ['trailing newline', `${good.slice(0, 5)}\n`],
    ['padded with spaces', ` ${good} `],
    ['letters', 'abcdef'],
    ['sign', `+${good.slice(1)}`],
    ['non-ASCII digits', '١٢٣٤٥٦'],
    ['full-width digits', good.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d)))],
    ['array', [good]],
    ['number', Number(good)],
    ['object', { toString: () => good }],
    ['null', null],
    ['undefined', undefined],
  ];
  for (const [name, value] of bad) {
    test(name, () => {
      assert.deepEqual(verifyTotp(secret, value, now), { ok: false });
    });
  }

  test('an 8-digit code is refused by 6-digit parameters and vice versa', () => {
    const eight: TotpParameters = { algorithm: 'SHA1', digits: 8, period: 30 };
    const code8 = totpCode(secret, now, eight);
    assert.equal(verifyTotp(secret, code8, now, eight).ok, true);
    assert.deepEqual(verifyTotp(secret, code8, now, DEFAULT_TOTP), { ok: false });
    assert.deepEqual(verifyTotp(secret, good, now, eight), { ok: false });
  });
});

describe('TOTP: cross-check with oathtool', () => {
  const available = spawnSync('oathtool', ['--version'], { stdio: 'ignore' }).status === 0;
  // CI installs oathtool (.ci/run), so there its absence is a failure; elsewhere the check is skipped loudly.
  const mustRun = available || process.env.CI === 'true';
  if (!mustRun) {
    console.warn('\n*** factor-totp: oathtool is NOT on PATH — the oathtool cross-check is SKIPPED (apt-get install oathtool) ***\n');
  }

  test('random secrets and times agree with `oathtool --totp`', { skip: mustRun ? false : 'oathtool not on PATH' }, () => { // allowed-skip
    assert.ok(available, 'oathtool is not on PATH but CI=true: CI must install it (.ci/run: apt-get install oathtool)');
    for (let i = 0; i < 8; i++) {
      const secret = randomBytes(20);
      const seconds = 1_000_000_000 + Math.floor(Math.random() * 2_000_000_000);
      const params: TotpParameters =
        i % 3 === 0 ? DEFAULT_TOTP : i % 3 === 1 ? { algorithm: 'SHA256', digits: 8, period: 30 } : { algorithm: 'SHA512', digits: 6, period: 60 };
      const args = [
        `--totp=${params.algorithm.toLowerCase()}`,
        `--digits=${params.digits}`,
        `--time-step-size=${params.period}s`,
        '-b',
        base32(secret),
        '-N',
        `@${seconds}`,
      ];
      const expected = execFileSync('oathtool', args, { encoding: 'utf8' }).trim();
      assert.match(expected, /^[0-9]+$/);
      assert.equal(totpCode(secret, seconds * 1000, params), expected, `oathtool ${args.join(' ')}`);
      assert.equal(verifyTotp(secret, expected, seconds * 1000, params).ok, true);
    }
  });
});

describe('TOTP: provisioning', () => {
  const secret = Buffer.from('12345678901234567890', 'ascii');

  test('base32 is RFC 4648 without padding; display groups of four', () => {
    assert.equal(base32(secret), 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    assert.equal(base32(Buffer.from('foobar')), 'MZXW6YTBOI'); // RFC 4648 §10 vector, padding dropped
    assert.equal(formatKeyForDisplay('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'), 'GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ');
    assert.equal(formatKeyForDisplay('MZXW6YTBOI'), 'MZXW 6YTB OI');
  });

  test('otpauth URI: exact shape with defaults written out', () => {
    assert.equal(
      otpauthUri({ issuer: 'Acme', account: 'alice@example.com', secret }),
      'otpauth://totp/Acme:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme&algorithm=SHA1&digits=6&period=30',
    );
  });

  test('otpauth URI: issuer with spaces and account with + and @ are percent-encoded', () => {
    const uri = otpauthUri({
      issuer: 'Acme Mail & Co',
      account: 'bob+2fa@example.com',
      secret,
      params: { algorithm: 'SHA256', digits: 8, period: 60 },
    });
    assert.equal(
      uri,
      'otpauth://totp/Acme%20Mail%20%26%20Co:bob%2B2fa%40example.com' +
        '?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Mail%20%26%20Co&algorithm=SHA256&digits=8&period=60',
    );
    assert.ok(!uri.includes(' ') && !uri.includes('+'), 'no raw spaces and no "+" (which would decode as a space)');
    const parsed = new URL(uri);
    assert.equal(parsed.protocol, 'otpauth:');
    assert.equal(parsed.host, 'totp');
    assert.equal(decodeURIComponent(parsed.pathname), '/Acme Mail & Co:bob+2fa@example.com');
    assert.equal(parsed.searchParams.get('issuer'), 'Acme Mail & Co');
    assert.equal(parsed.searchParams.get('secret'), base32(secret));
  });

  test('otpauth URI: colons and empty names are refused', () => {
    assert.throws(() => otpauthUri({ issuer: 'Acme:Evil', account: 'a@example.com', secret }), RangeError);
    assert.throws(() => otpauthUri({ issuer: 'Acme', account: 'a:b@example.com', secret }), RangeError);
    assert.throws(() => otpauthUri({ issuer: '', account: 'a@example.com', secret }), RangeError);
  });

  test('qrSvg returns an SVG document', async () => {
    const svg = await qrSvg(otpauthUri({ issuer: 'Acme', account: 'alice@example.com', secret }));
    assert.match(svg, /^<svg[\s>]/);
    assert.match(svg, /<\/svg>\s*$/);
    assert.match(svg, /<path/);
  });
});
