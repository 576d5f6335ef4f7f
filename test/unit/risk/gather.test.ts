import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assessRisk } from '../../../src/risk/assess.ts';
import { newDeviceId, signDeviceId, verifyDeviceId } from '../../../src/risk/device.ts';
import { gatherFacts, MAX_STORED_USER_AGENT, recordVerifiedLogin, type RiskCounters } from '../../../src/risk/gather.ts';
import { MemoryRiskHistory, type RiskHistoryStore } from '../../../src/risk/history.ts';
import type { LoginRecord } from '../../../src/store/records.ts';
import { defaultRiskConfig, riskSchema } from '../../../src/config/schema/risk.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { type Random } from '../../../src/core/random.ts';

const CONFIG = defaultRiskConfig();
const USER = 'merchant@example.com';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0';

/** Counters with fixed answers that record the windows they were asked about. */
function fixedCounters(values: { login?: number; verification?: number; sensitive?: number } = {}): RiskCounters & { windows: Record<string, number> } {
  const windows: Record<string, number> = {};
  return {
    windows,
    loginFailures: async (_user, windowMs) => ((windows.login = windowMs), values.login ?? 0),
    verificationFailures: async (_user, windowMs) => ((windows.verification = windowMs), values.verification ?? 0),
    sensitiveOperations: async (_user, windowMs) => ((windows.sensitive = windowMs), values.sensitive ?? 0),
  };
}

/** Sensitive operations per user in a sliding window, timed by the injected clock. */
class OperationLog {
  private readonly at = new Map<string, number[]>();
  constructor(private readonly clock: ManualClock) {}
  record(user: string): void {
    this.at.set(user, [...(this.at.get(user) ?? []), this.clock.now()]);
  }
  counters(): RiskCounters {
    return {
      loginFailures: async () => 0,
      verificationFailures: async () => 0,
      sensitiveOperations: async (user, windowMs) => (this.at.get(user) ?? []).filter((t) => t > this.clock.now() - windowMs).length,
    };
  }
}

const boom = (): never => {
  throw new Error('store unreachable');
};

const throwingHistory: RiskHistoryStore = {
  knownDevice: async () => boom(),
  rememberDevice: async () => boom(),
  recentLogins: async () => boom(),
  recordLogin: async () => boom(),
};

test('gatherFacts reads the history and the counters', async () => {
  const clock = new ManualClock();
  const history = new MemoryRiskHistory();
  await recordVerifiedLogin({ history, clock, user: USER, deviceId: 'device-one-0000000', clientAddress: '198.51.100.7', userAgent: CHROME });
  clock.advance(60_000);
  await recordVerifiedLogin({ history, clock, user: USER, deviceId: 'device-one-0000000', clientAddress: '2001:db8:1::5', userAgent: FIREFOX });
  const counters = fixedCounters({ login: 1, verification: 2, sensitive: 3 });
  const facts = await gatherFacts({ config: CONFIG, history, counters, user: USER, deviceId: 'device-one-0000000', clientAddress: '198.51.100.9', userAgent: CHROME });
  assert.deepEqual(facts, {
    deviceKnown: true,
    network: '198.51.100.9',
    recentNetworks: ['2001:db8:1::/48', '198.51.100.0/24'],
    recentLoginFailures: 1,
    recentVerificationFailures: 2,
    sensitiveOperationsInWindow: 3,
    userAgent: CHROME,
    previousUserAgent: FIREFOX,
  });
  assert.deepEqual(counters.windows, { login: 3_600_000, verification: 3_600_000, sensitive: 600_000 });
  const other = await gatherFacts({ config: CONFIG, history, counters, user: USER, deviceId: 'device-two-0000000', clientAddress: '198.51.100.9', userAgent: CHROME });
  assert.equal(other.deviceKnown, false);
});

test('gatherFacts: no device cookie is an unknown device without asking the store', async () => {
  const facts = await gatherFacts({ config: CONFIG, history: throwingHistory, counters: fixedCounters(), user: USER, deviceId: null, clientAddress: '198.51.100.9', userAgent: CHROME });
  assert.equal(facts.deviceKnown, false);
  assert.equal(facts.recentNetworks, 'unknown');
});

test('gatherFacts compares with the last N logins only', async () => {
  const clock = new ManualClock();
  const history = new MemoryRiskHistory();
  const config = riskSchema.parse({ history: { logins: 2 } });
  for (const address of ['203.0.113.1', '198.51.100.1', '192.0.2.1']) {
    await recordVerifiedLogin({ history, clock, user: USER, deviceId: 'device-one-0000000', clientAddress: address, userAgent: CHROME });
    clock.advance(1000);
  }
  const facts = await gatherFacts({ config, history, counters: fixedCounters(), user: USER, deviceId: 'device-one-0000000', clientAddress: '203.0.113.50', userAgent: CHROME });
  assert.deepEqual(facts.recentNetworks, ['192.0.2.0/24', '198.51.100.0/24']);
  assert.deepEqual(assessRisk(config, facts).signals.map((s) => s.name), ['new_network']);
});

test('gatherFacts: every failing read becomes unknown for its fact only', async () => {
  const clock = new ManualClock();
  const history = new MemoryRiskHistory();
  await recordVerifiedLogin({ history, clock, user: USER, deviceId: 'device-one-0000000', clientAddress: '198.51.100.7', userAgent: CHROME });
  const base = { config: CONFIG, user: USER, deviceId: 'device-one-0000000', clientAddress: '198.51.100.9', userAgent: CHROME };
  const counters = fixedCounters();
  const failing: Array<[string, RiskHistoryStore, RiskCounters, readonly string[]]> = [
    ['knownDevice rejects', { ...bind(history), knownDevice: async () => boom() }, counters, ['deviceKnown']],
    ['knownDevice throws synchronously', { ...bind(history), knownDevice: () => boom() }, counters, ['deviceKnown']],
    ['knownDevice answers a non-boolean', { ...bind(history), knownDevice: async () => 'yes' as unknown as boolean }, counters, ['deviceKnown']],
    ['recentLogins rejects', { ...bind(history), recentLogins: async () => boom() }, counters, ['recentNetworks', 'previousUserAgent']],
    ['recentLogins answers garbage', { ...bind(history), recentLogins: async () => [{ at: 1 }] as unknown as LoginRecord[] }, counters, ['recentNetworks', 'previousUserAgent']],
    ['loginFailures rejects', history, { ...counters, loginFailures: async () => boom() }, ['recentLoginFailures']],
    ['verificationFailures throws', history, { ...counters, verificationFailures: () => boom() }, ['recentVerificationFailures']],
    ['sensitiveOperations rejects', history, { ...counters, sensitiveOperations: async () => boom() }, ['sensitiveOperationsInWindow']],
    ['a counter answers NaN', history, { ...counters, loginFailures: async () => Number.NaN }, ['recentLoginFailures']],
    ['a counter answers a negative count', history, { ...counters, sensitiveOperations: async () => -1 }, ['sensitiveOperationsInWindow']],
    ['a counter answers a string', history, { ...counters, verificationFailures: async () => '3' as unknown as number }, ['recentVerificationFailures']],
  ];
  for (const [name, store, reader, unknownFacts] of failing) {
    const facts = await gatherFacts({ ...base, history: store, counters: reader });
    const actual = Object.entries(facts).filter(([, value]) => value === 'unknown').map(([key]) => key);
    assert.deepEqual(actual, unknownFacts, name);
    const a = assessRisk(CONFIG, facts);
    assert.ok(a.signals.length > 0 && a.signals.every((s) => !s.evaluated && s.weight === 50), name);
    assert.notEqual(a.level, 'low', name);
  }
});

test('gatherFacts: with every store down, the assessment is high risk and says why', async () => {
  const counters: RiskCounters = { loginFailures: async () => boom(), verificationFailures: async () => boom(), sensitiveOperations: async () => boom() };
  const facts = await gatherFacts({ config: CONFIG, history: throwingHistory, counters, user: USER, deviceId: 'device-one-0000000', clientAddress: '198.51.100.9', userAgent: CHROME });
  const a = assessRisk(CONFIG, facts);
  assert.equal(a.level, 'high');
  assert.deepEqual(
    a.signals.map((s) => [s.name, s.evaluated]),
    [
      ['unknown_device', false],
      ['new_network', false],
      ['recent_login_failures', false],
      ['recent_verification_failures', false],
      ['sensitive_burst', false],
      ['user_agent_change', false],
    ],
  );
});

test('recordVerifiedLogin stores the network prefix, a bounded user agent and the clock time', async () => {
  const clock = new ManualClock(1_767_225_600_000);
  const history = new MemoryRiskHistory();
  await recordVerifiedLogin({ history, clock, user: USER, deviceId: 'device-one-0000000', clientAddress: '::ffff:198.51.100.7', userAgent: 'x'.repeat(2000) });
  const [entry] = await history.recentLogins(USER, 10);
  assert.deepEqual(entry, { network: '198.51.100.0/24', userAgent: 'x'.repeat(MAX_STORED_USER_AGENT), at: 1_767_225_600_000 });
  assert.equal(await history.knownDevice(USER, 'device-one-0000000'), true);
  await assert.rejects(recordVerifiedLogin({ history: throwingHistory, clock, user: USER, deviceId: 'device-one-0000000', clientAddress: '198.51.100.7', userAgent: CHROME }), /store unreachable/);
});

test('MemoryRiskHistory: newest logins first, bounded per user, users kept apart', async () => {
  const history = new MemoryRiskHistory({ maxLoginsPerUser: 3 });
  for (let i = 0; i < 5; i++) await history.recordLogin(USER, { network: `198.51.${i}.0/24`, userAgent: CHROME, at: i });
  assert.deepEqual((await history.recentLogins(USER, 10)).map((e) => e.at), [4, 3, 2]);
  assert.deepEqual((await history.recentLogins(USER, 2)).map((e) => e.at), [4, 3]);
  assert.deepEqual(await history.recentLogins(USER, 0), []);
  assert.deepEqual(await history.recentLogins('owner@example.com', 10), []);
  // Callers cannot change the stored records through what they were given.
  const [first] = await history.recentLogins(USER, 1);
  (first as { at: number }).at = 99;
  assert.equal((await history.recentLogins(USER, 1))[0]?.at, 4);
});

test('MemoryRiskHistory: devices are bounded per user, least recently used forgotten first', async () => {
  const history = new MemoryRiskHistory({ maxDevicesPerUser: 2 });
  await history.rememberDevice(USER, 'a', 1);
  await history.rememberDevice(USER, 'b', 2);
  await history.rememberDevice(USER, 'a', 3); // a is used again
  await history.rememberDevice(USER, 'c', 4); // b goes
  assert.deepEqual(
    await Promise.all(['a', 'b', 'c'].map((d) => history.knownDevice(USER, d))),
    [true, false, true],
  );
  assert.equal(await history.knownDevice('owner@example.com', 'a'), false);
});

test('MemoryRiskHistory: the number of users is bounded too', async () => {
  const history = new MemoryRiskHistory({ maxUsers: 2 });
  await history.rememberDevice('u1', 'a', 1);
  await history.rememberDevice('u2', 'a', 1);
  await history.recordLogin('u1', { network: '198.51.100.0/24', userAgent: CHROME, at: 2 }); // u1 touched
  await history.rememberDevice('u3', 'a', 3); // u2 goes
  assert.deepEqual(await Promise.all(['u1', 'u2', 'u3'].map((u) => history.knownDevice(u, 'a'))), [true, false, true]);
  assert.throws(() => new MemoryRiskHistory({ maxUsers: 0 }), RangeError);
});

test('the demo: a new browser on its first login is medium; the same browser next time is low', async () => {
  const clock = new ManualClock();
  const history = new MemoryRiskHistory();
  const key = Buffer.alloc(32, 3);
  let n = 0;
  const random: Random = { bytes: (length) => Buffer.alloc(length, ++n) };
  // First visit: no device cookie, no history.
  const first = await gatherFacts({ config: CONFIG, history, counters: fixedCounters(), user: USER, deviceId: verifyDeviceId(key, undefined), clientAddress: '127.0.0.1', userAgent: CHROME });
  const firstRisk = assessRisk(CONFIG, first, clock.now());
  assert.equal(firstRisk.level, 'medium');
  assert.deepEqual(firstRisk.signals.map((s) => s.name), ['unknown_device']);
  // The login completes (email code): the browser gets a device cookie and the login is recorded.
  const cookie = signDeviceId(key, newDeviceId(random));
  const deviceId = verifyDeviceId(key, cookie);
  assert.ok(deviceId !== null);
  await recordVerifiedLogin({ history, clock, user: USER, deviceId, clientAddress: '127.0.0.1', userAgent: CHROME });
  clock.advance(86_400_000);
  const second = await gatherFacts({ config: CONFIG, history, counters: fixedCounters(), user: USER, deviceId: verifyDeviceId(key, cookie), clientAddress: '127.0.0.1', userAgent: CHROME });
  assert.equal(assessRisk(CONFIG, second).level, 'low');
  // Another browser of the same user, same network: medium again (unknown device + browser change).
  const other = await gatherFacts({ config: CONFIG, history, counters: fixedCounters(), user: USER, deviceId: null, clientAddress: '127.0.0.1', userAgent: FIREFOX });
  const otherRisk = assessRisk(CONFIG, other);
  assert.equal(otherRisk.level, 'medium');
  assert.deepEqual(otherRisk.signals.map((s) => s.name), ['unknown_device', 'user_agent_change']);
});

test('the demo: more than 3 exports within 10 minutes by one user is high risk', async () => {
  const clock = new ManualClock();
  const history = new MemoryRiskHistory();
  for (const user of [USER, 'owner@example.com']) {
    await recordVerifiedLogin({ history, clock, user, deviceId: 'device-one-0000000', clientAddress: '127.0.0.1', userAgent: CHROME });
  }
  const log = new OperationLog(clock);
  const exportRisk = async (user: string) => {
    log.record(user);
    const facts = await gatherFacts({ config: CONFIG, history, counters: log.counters(), user, deviceId: 'device-one-0000000', clientAddress: '127.0.0.1', userAgent: CHROME });
    return assessRisk(CONFIG, facts).level;
  };
  const levels = [];
  for (let i = 0; i < 4; i++) {
    levels.push(await exportRisk(USER));
    clock.advance(2 * 60_000);
  }
  assert.deepEqual(levels, ['low', 'low', 'low', 'high']);
  // Another user's exports do not count for this one.
  assert.equal(await exportRisk('owner@example.com'), 'low');
  // Once the window has passed, the burst is over.
  clock.advance(10 * 60_000);
  assert.equal(await exportRisk(USER), 'low');
});

function bind(store: RiskHistoryStore): RiskHistoryStore {
  return {
    knownDevice: (u, d) => store.knownDevice(u, d),
    rememberDevice: (u, d, now) => store.rememberDevice(u, d, now),
    recentLogins: (u, n) => store.recentLogins(u, n),
    recordLogin: (u, e) => store.recordLogin(u, e),
  };
}
