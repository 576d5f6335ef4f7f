import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryAudit } from '../../../src/audit/audit.ts';
import { browserLabel, forgetRememberedBrowsers, hashSecret, RememberedBrowsers } from '../../../src/flows/remember-browser.ts';
import { browserLabelParts } from '../../../src/flows/browser-label.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { cryptoRandom } from '../../../src/core/random.ts';
import { MemoryRememberedBrowsers, type RememberedBrowserStore } from '../../../src/store/remembered-browsers.ts';

const T0 = Date.UTC(2026, 5, 1);
const DAY = 86_400_000;
const KEY_A = Buffer.alloc(32, 1);
const KEY_B = Buffer.alloc(32, 2);
const CHROME_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

function setup(options: { days?: number; keys?: Buffer[]; store?: RememberedBrowserStore } = {}) {
  const clock = new ManualClock(T0);
  const audit = new MemoryAudit(() => clock.now());
  const store = options.store ?? new MemoryRememberedBrowsers();
  const remembered = new RememberedBrowsers({
    store,
    config: { enabled: true, days: options.days ?? 30 },
    clock,
    random: cryptoRandom,
    audit,
    logger: createLogger('silent'),
    keys: options.keys ?? [KEY_A],
  });
  return { clock, audit, store, remembered };
}

const issue = (r: RememberedBrowsers, deviceId = 'device-1', factors = 'f1') =>
  r.issue({ user: 'zoe@example.com', deviceId, userAgent: CHROME_LINUX, factors, verifiedAt: T0 });

describe('RememberedBrowsers', () => {
  test('issue: the cookie is <id>.<secret>; only the secret’s hash is stored, with device, factors and times', async () => {
    const { remembered, store } = setup();
    const cookie = await issue(remembered);
    assert.match(cookie, /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    const [id, secret] = cookie.split('.') as [string, string];
    const record = await store.get('zoe@example.com', id);
    assert.ok(record);
    assert.equal(record.tokenHash, hashSecret(secret));
    assert.equal(JSON.stringify(record).includes(secret), false, 'the secret is not stored');
    assert.equal(record.deviceId, 'device-1');
    assert.equal(record.factors, 'f1');
    assert.equal(record.label, 'Chrome on Linux');
    assert.equal(record.createdAt, T0);
    assert.equal(record.expiresAt, T0 + 30 * DAY);
  });

  test('check + use: the token rotates on each use (injected clock); the old one is refused and drops the record', async () => {
    const { remembered, clock, store } = setup();
    const first = await issue(remembered);
    clock.advance(DAY);
    const ok = await remembered.check({ user: 'zoe@example.com', cookie: first, deviceId: 'device-1', factors: 'f1' });
    assert.ok(ok.ok);
    const second = await remembered.use(ok.record, CHROME_LINUX);
    assert.ok(second && second !== first);
    assert.equal(second.split('.')[0], first.split('.')[0]);
    const record = await store.get('zoe@example.com', first.split('.')[0] as string);
    assert.equal(record?.lastUsedAt, T0 + DAY);
    assert.equal(record?.expiresAt, T0 + 30 * DAY, 'use does not extend the 30 days');
    // A second use of the record read before the rotation loses (compare-and-set).
    assert.equal(await remembered.use(ok.record, CHROME_LINUX), null);
    // The old token: refused as reuse, and the record is gone for everyone.
    const replay = await remembered.check({ user: 'zoe@example.com', cookie: first, deviceId: 'device-1', factors: 'f1' });
    assert.deepEqual(replay, { ok: false, reason: 'token_reuse' });
    assert.deepEqual(await remembered.check({ user: 'zoe@example.com', cookie: second, deviceId: 'device-1', factors: 'f1' }), { ok: false, reason: 'unknown' });
  });

  test('expiry: valid until the configured days have passed, then refused and dropped', async () => {
    const { remembered, clock } = setup({ days: 7 });
    const cookie = await issue(remembered);
    clock.advance(7 * DAY - 1);
    assert.equal((await remembered.check({ user: 'zoe@example.com', cookie, deviceId: 'device-1', factors: 'f1' })).ok, true);
    clock.advance(1);
    assert.deepEqual(await remembered.check({ user: 'zoe@example.com', cookie, deviceId: 'device-1', factors: 'f1' }), { ok: false, reason: 'expired' });
    assert.deepEqual(await remembered.list('zoe@example.com'), []);
  });

  test('device binding: another device id (or none) is refused', async () => {
    const { remembered } = setup();
    const cookie = await issue(remembered);
    assert.deepEqual(await remembered.check({ user: 'zoe@example.com', cookie, deviceId: 'device-2', factors: 'f1' }), { ok: false, reason: 'other_device' });
    const again = await issue(remembered);
    assert.deepEqual(await remembered.check({ user: 'zoe@example.com', cookie: again, deviceId: null, factors: 'f1' }), { ok: false, reason: 'other_device' });
  });

  test('factor binding, another account, malformed cookies', async () => {
    const { remembered } = setup();
    const cookie = await issue(remembered);
    assert.deepEqual(await remembered.check({ user: 'sam@example.com', cookie, deviceId: 'device-1', factors: 'f1' }), { ok: false, reason: 'unknown' });
    for (const bad of ['', 'x', `${cookie}.x`, cookie.replace('.', '_'), 'a'.repeat(22) + '.' + 'b'.repeat(42)]) {
      assert.deepEqual(await remembered.check({ user: 'zoe@example.com', cookie: bad, deviceId: 'device-1', factors: 'f1' }), { ok: false, reason: 'malformed' }, bad);
    }
    assert.deepEqual(await remembered.check({ user: 'zoe@example.com', cookie, deviceId: 'device-1', factors: 'f2' }), { ok: false, reason: 'factors_changed' });
  });

  test('forgetRememberedBrowsers drops every record, audited with the reason; never throws', async () => {
    const { remembered, audit } = setup();
    await issue(remembered, 'd1');
    await issue(remembered, 'd2');
    assert.equal(await forgetRememberedBrowsers(remembered, 'zoe@example.com', 'recovery_codes_regenerated'), 2);
    assert.deepEqual(await remembered.list('zoe@example.com'), []);
    const [event] = await audit.recent({ limit: 1, event: 'remembered_browsers_dropped' });
    assert.equal(event?.reason, 'recovery_codes_regenerated');
    assert.equal(event?.details?.['count'], 2);
    assert.equal(await forgetRememberedBrowsers(undefined, 'zoe@example.com', 'x'), 0);
    const broken = setup({ store: { ...new MemoryRememberedBrowsers(), removeAll: () => Promise.reject(new Error('down')) } as unknown as RememberedBrowserStore });
    assert.equal(await forgetRememberedBrowsers(broken.remembered, 'zoe@example.com', 'x'), 0);
  });

  test('password fingerprint: keyed (never the password), same password keeps, another drops all; survives a key rotation', async () => {
    const store = new MemoryRememberedBrowsers();
    const { remembered } = setup({ store, keys: [KEY_A] });
    await remembered.passwordAccepted('zoe@example.com', 'old secret pw');
    const fp = await store.passwordFingerprint('zoe@example.com');
    assert.ok(fp);
    assert.equal(fp.includes('old secret pw'), false);
    assert.notEqual(fp, hashSecret('old secret pw'), 'not an unkeyed hash');
    await issue(remembered);
    await remembered.passwordAccepted('zoe@example.com', 'old secret pw');
    assert.equal((await remembered.list('zoe@example.com')).length, 1, 'same password: kept');
    // A new key first (rotation): the old fingerprint still matches, and is rewritten under the new key.
    const rotated = setup({ store, keys: [KEY_B, KEY_A] });
    await rotated.remembered.passwordAccepted('zoe@example.com', 'old secret pw');
    assert.equal((await rotated.remembered.list('zoe@example.com')).length, 1, 'rotation alone forgets nothing');
    assert.notEqual(await store.passwordFingerprint('zoe@example.com'), fp);
    await rotated.remembered.passwordAccepted('zoe@example.com', 'NEW secret pw');
    assert.deepEqual(await rotated.remembered.list('zoe@example.com'), [], 'another password: all forgotten');
  });

  test('list: only unexpired records made under the current factors', async () => {
    const store = new MemoryRememberedBrowsers();
    let current: string | null = 'f1';
    const clock = new ManualClock(T0);
    const remembered = new RememberedBrowsers({
      store,
      config: { enabled: true, days: 30 },
      clock,
      random: cryptoRandom,
      audit: new MemoryAudit(() => clock.now()),
      logger: createLogger('silent'),
      keys: [KEY_A],
      currentFactors: async () => current,
    });
    await issue(remembered, 'd1', 'f1');
    await issue(remembered, 'd2', 'f0');
    assert.deepEqual((await remembered.list('zoe@example.com')).map((r) => r.deviceId), ['d1']);
    current = null;
    assert.deepEqual(await remembered.list('zoe@example.com'), [], '2FA off: nothing can serve');
  });

  test('the account keeps at most 20 records (least recently used go first)', async () => {
    const { remembered, clock } = setup();
    for (let i = 0; i < 25; i++) {
      clock.advance(1000);
      await issue(remembered, `d${i}`);
    }
    const left = await remembered.list('zoe@example.com');
    assert.equal(left.length, 20);
    assert.deepEqual(left.map((r) => r.deviceId), Array.from({ length: 20 }, (_, i) => `d${i + 5}`));
  });
});

describe('browserLabel: coarse browser and system', () => {
  const cases: Array<[string, string]> = [
    [CHROME_LINUX, 'Chrome on Linux'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:130.0) Gecko/20100101 Firefox/130.0', 'Firefox on Windows'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15', 'Safari on macOS'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1', 'Chrome on iOS'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0', 'Edge on Windows'],
    ['Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36', 'Chrome on Android'],
    ['curl/8.0', 'Unknown browser'],
    ['', 'Unknown browser'],
  ];
  for (const [ua, label] of cases) test(`${label} ← ${ua.slice(0, 40) || '(empty)'}`, () => assert.equal(browserLabel(ua), label));

  test('browserLabelParts reads a stored label back (unknown parts as null), for the page to say it in its language', () => {
    assert.deepEqual(browserLabelParts('Chrome on Linux'), { browser: 'Chrome', os: 'Linux' });
    assert.deepEqual(browserLabelParts('Unknown browser on iOS'), { browser: null, os: 'iOS' });
    assert.deepEqual(browserLabelParts('Firefox on unknown system'), { browser: 'Firefox', os: null });
    assert.deepEqual(browserLabelParts('Unknown browser'), { browser: null, os: null });
    assert.deepEqual(browserLabelParts('Safari'), { browser: 'Safari', os: null }, 'a label without a system');
  });
});
