import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assessRisk, explainRisk, levelFor, type RiskAssessment } from '../../../src/risk/assess.ts';
import { defaultRiskConfig, riskSchema, type RiskConfig, type RiskConfigInput } from '../../../src/config/schema/risk.ts';
import type { RiskFacts } from '../../../src/risk/facts.ts';

const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const CHROME_WINDOWS_NEWER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36';
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0';

/** A returning user on a known device from a familiar network: nothing fires. */
const CALM: RiskFacts = {
  deviceKnown: true,
  network: '198.51.100.7',
  recentNetworks: ['198.51.100.20', '192.0.2.1'],
  recentLoginFailures: 0,
  recentVerificationFailures: 0,
  sensitiveOperationsInWindow: 1,
  userAgent: CHROME_WINDOWS,
  previousUserAgent: CHROME_WINDOWS,
};

const DEFAULTS = defaultRiskConfig();
const withNetworks = (networks: RiskConfigInput['networks'], rest: RiskConfigInput = {}): RiskConfig => riskSchema.parse({ ...rest, networks });
const NETS = withNetworks({ risky: ['203.0.113.0/24', '2001:db8:bad::/48'], trusted: ['198.51.100.0/24', '192.0.2.0/24', '10.0.0.0/8'] });
const BOTH = withNetworks({ risky: ['198.51.100.0/25'], trusted: ['198.51.100.0/24'] });

const names = (a: RiskAssessment): string[] => a.signals.map((s) => s.name);

interface Case {
  readonly name: string;
  readonly facts: Partial<RiskFacts>;
  readonly config?: RiskConfig;
  readonly score: number;
  readonly level: 'low' | 'medium' | 'high';
  readonly signals: ReadonlyArray<readonly [string, number]>;
}

const CASES: readonly Case[] = [
  { name: 'nothing fires', facts: {}, score: 0, level: 'low', signals: [] },
  // each signal alone
  { name: 'unknown device', facts: { deviceKnown: false }, score: 40, level: 'medium', signals: [['unknown_device', 40]] },
  { name: 'new network', facts: { network: '203.0.113.9' }, score: 25, level: 'low', signals: [['new_network', 25]] },
  { name: 'login failures at the threshold', facts: { recentLoginFailures: 3 }, score: 20, level: 'low', signals: [['recent_login_failures', 20]] },
  { name: 'login failures below the threshold', facts: { recentLoginFailures: 2 }, score: 0, level: 'low', signals: [] },
  { name: 'verification failures at the threshold', facts: { recentVerificationFailures: 3 }, score: 20, level: 'low', signals: [['recent_verification_failures', 20]] },
  { name: 'verification failures below the threshold', facts: { recentVerificationFailures: 2 }, score: 0, level: 'low', signals: [] },
  { name: 'sensitive burst: 4 > max 3', facts: { sensitiveOperationsInWindow: 4 }, score: 60, level: 'high', signals: [['sensitive_burst', 60]] },
  { name: 'no burst: 3 = max 3', facts: { sensitiveOperationsInWindow: 3 }, score: 0, level: 'low', signals: [] },
  { name: 'browser family change', facts: { userAgent: FIREFOX_LINUX }, score: 15, level: 'low', signals: [['user_agent_change', 15]] },
  { name: 'browser update is no change', facts: { userAgent: CHROME_WINDOWS_NEWER }, score: 0, level: 'low', signals: [] },
  { name: 'no previous login: no change', facts: { previousUserAgent: null, userAgent: FIREFOX_LINUX }, score: 0, level: 'low', signals: [] },
  { name: 'no login history: the network is not called new', facts: { recentNetworks: [], network: '203.0.113.9' }, score: 0, level: 'low', signals: [] },
  { name: 'same /24, other host: not new', facts: { network: '198.51.100.200' }, score: 0, level: 'low', signals: [] },
  { name: 'mapped IPv6 of a familiar network: not new', facts: { network: '::ffff:198.51.100.8' }, score: 0, level: 'low', signals: [] },
  { name: 'IPv6 in a familiar /48: not new', facts: { network: '2001:db8:1:ff::1', recentNetworks: ['2001:0db8:0001::9'] }, score: 0, level: 'low', signals: [] },
  { name: 'IPv6 in another /48: new', facts: { network: '2001:db8:2::1', recentNetworks: ['2001:db8:1::9'] }, score: 25, level: 'low', signals: [['new_network', 25]] },
  { name: 'history kept as prefixes', facts: { network: '198.51.100.7', recentNetworks: ['198.51.100.0/24'] }, score: 0, level: 'low', signals: [] },
  { name: 'risky network', config: NETS, facts: { network: '203.0.113.9', recentNetworks: ['203.0.113.1'] }, score: 50, level: 'medium', signals: [['risky_network', 50]] },
  { name: 'risky IPv6 network', config: NETS, facts: { network: '2001:db8:bad:1::1', recentNetworks: ['2001:db8:bad::2'] }, score: 50, level: 'medium', signals: [['risky_network', 50]] },
  { name: 'risky network, mapped address', config: NETS, facts: { network: '::ffff:203.0.113.9', recentNetworks: ['203.0.113.1'] }, score: 50, level: 'medium', signals: [['risky_network', 50]] },
  // trusted networks lower the score, never below 0
  { name: 'trusted alone clamps at 0', config: NETS, facts: {}, score: 0, level: 'low', signals: [['trusted_network', -30]] },
  { name: 'trusted lowers unknown device to low', config: NETS, facts: { deviceKnown: false }, score: 10, level: 'low', signals: [['unknown_device', 40], ['trusted_network', -30]] },
  { name: 'trusted lowers a burst to medium (exactly 30)', config: NETS, facts: { sensitiveOperationsInWindow: 4 }, score: 30, level: 'medium', signals: [['trusted_network', -30], ['sensitive_burst', 60]] },
  { name: 'trusted: new network still fires', config: NETS, facts: { network: '10.9.9.9' }, score: 0, level: 'low', signals: [['new_network', 25], ['trusted_network', -30]] },
  // in both lists: risky, never trusted
  { name: 'both lists count as risky', config: BOTH, facts: {}, score: 50, level: 'medium', signals: [['risky_network', 50]] },
  { name: 'both lists with unknown device', config: BOTH, facts: { deviceKnown: false }, score: 90, level: 'high', signals: [['unknown_device', 40], ['risky_network', 50]] },
  { name: 'trusted part outside the risky range is trusted', config: BOTH, facts: { network: '198.51.100.200' }, score: 0, level: 'low', signals: [['trusted_network', -30]] },
  // combinations
  { name: 'unknown device + new network', facts: { deviceKnown: false, network: '203.0.113.9' }, score: 65, level: 'high', signals: [['unknown_device', 40], ['new_network', 25]] },
  { name: 'unknown device + login failures = exactly 60', facts: { deviceKnown: false, recentLoginFailures: 5 }, score: 60, level: 'high', signals: [['unknown_device', 40], ['recent_login_failures', 20]] },
  { name: 'new network + browser change', facts: { network: '203.0.113.9', userAgent: FIREFOX_LINUX }, score: 40, level: 'medium', signals: [['new_network', 25], ['user_agent_change', 15]] },
  { name: 'both failure kinds', facts: { recentLoginFailures: 3, recentVerificationFailures: 9 }, score: 40, level: 'medium', signals: [['recent_login_failures', 20], ['recent_verification_failures', 20]] },
  {
    name: 'everything at once',
    config: NETS,
    facts: { deviceKnown: false, network: '203.0.113.9', recentLoginFailures: 3, recentVerificationFailures: 3, sensitiveOperationsInWindow: 10, userAgent: FIREFOX_LINUX },
    score: 230,
    level: 'high',
    signals: [['unknown_device', 40], ['new_network', 25], ['risky_network', 50], ['recent_login_failures', 20], ['recent_verification_failures', 20], ['sensitive_burst', 60], ['user_agent_change', 15]],
  },
];

for (const c of CASES) {
  test(`scoring: ${c.name}`, () => {
    const a = assessRisk(c.config ?? DEFAULTS, { ...CALM, ...c.facts });
    assert.deepEqual(a.signals.map((s) => [s.name, s.weight]), c.signals);
    assert.equal(a.score, c.score);
    assert.equal(a.level, c.level);
    for (const s of a.signals) {
      assert.equal(s.evaluated, true, s.name);
      assert.ok(s.detail.length > 0);
    }
  });
}

test('a mapped IPv6 client address is reported as the IPv4 address it carries', () => {
  const risky = assessRisk(NETS, { ...CALM, network: '::ffff:203.0.113.9', recentNetworks: ['203.0.113.1'] });
  assert.equal(risky.signals[0]?.detail, '203.0.113.9 is in a risky network');
  const trusted = assessRisk(NETS, { ...CALM, network: '::ffff:198.51.100.7' });
  assert.equal(trusted.signals[0]?.detail, '198.51.100.7 is in a trusted network');
});

test('network lists may name IPv4 ranges in their IPv4-mapped IPv6 form', () => {
  const config = withNetworks({ risky: ['::ffff:203.0.113.0/120'], trusted: ['::ffff:198.51.100.7'] });
  assert.deepEqual(assessRisk(config, { ...CALM, network: '203.0.113.9', recentNetworks: ['203.0.113.1'] }).signals.map((s) => s.name), ['risky_network']);
  assert.deepEqual(assessRisk(config, { ...CALM, network: '203.0.114.9', recentNetworks: ['203.0.114.1'] }).signals.map((s) => s.name), []);
  assert.deepEqual(assessRisk(config, CALM).signals.map((s) => s.name), ['trusted_network']);
});

test('levels: exactly at a threshold is that level, one below is the level under it', () => {
  const levels = (medium: number, high: number): RiskConfig => riskSchema.parse({ levels: { medium, high } });
  const cases: Array<[RiskConfig, Partial<RiskFacts>, number, string]> = [
    [levels(40, 65), { deviceKnown: false }, 40, 'medium'],
    [levels(41, 65), { deviceKnown: false }, 40, 'low'],
    [levels(40, 65), { deviceKnown: false, network: '203.0.113.9' }, 65, 'high'],
    [levels(40, 66), { deviceKnown: false, network: '203.0.113.9' }, 65, 'medium'],
    [DEFAULTS, { sensitiveOperationsInWindow: 4 }, 60, 'high'],
    [levels(30, 61), { sensitiveOperationsInWindow: 4 }, 60, 'medium'],
  ];
  for (const [config, facts, score, level] of cases) {
    const a = assessRisk(config, { ...CALM, ...facts });
    assert.equal(a.score, score);
    assert.equal(a.level, level, `score ${score} with medium ${config.levels.medium}, high ${config.levels.high}`);
  }
  assert.equal(levelFor(DEFAULTS, 29), 'low');
  assert.equal(levelFor(DEFAULTS, 30), 'medium');
  assert.equal(levelFor(DEFAULTS, 59), 'medium');
  assert.equal(levelFor(DEFAULTS, 60), 'high');
  assert.equal(levelFor(DEFAULTS, 0), 'low');
});

test('configured weights and parameters are the ones used', () => {
  const config = riskSchema.parse({
    signals: {
      unknown_device: { weight: 7 },
      sensitive_burst: { weight: 11, max: 1, window: '5m' },
      recent_login_failures: { weight: 13, threshold: 1 },
      user_agent_change: { weight: 0 },
    },
  });
  const a = assessRisk(config, { ...CALM, deviceKnown: false, sensitiveOperationsInWindow: 2, recentLoginFailures: 1, userAgent: FIREFOX_LINUX });
  assert.deepEqual(a.signals.map((s) => [s.name, s.weight]), [['unknown_device', 7], ['recent_login_failures', 13], ['sensitive_burst', 11]]);
  assert.equal(a.score, 31);
  assert.match(a.signals[2]?.detail ?? '', /2 sensitive operations within 5 minutes \(more than 1\)/);
});

test('a switched-off signal (weight 0) is not reported, even when its fact is unknown', () => {
  const config = riskSchema.parse({ signals: { unknown_device: { weight: 0 }, trusted_network: { weight: 0 } }, networks: { trusted: ['198.51.100.0/24'] } });
  assert.deepEqual(assessRisk(config, { ...CALM, deviceKnown: false }).signals, []);
  assert.deepEqual(assessRisk(config, { ...CALM, deviceKnown: 'unknown' }).signals, []);
});

const UNKNOWN_FACTS: ReadonlyArray<readonly [string, Partial<RiskFacts>, readonly string[]]> = [
  ['deviceKnown', { deviceKnown: 'unknown' }, ['unknown_device']],
  ['recentNetworks', { recentNetworks: 'unknown' }, ['new_network']],
  ['recentLoginFailures', { recentLoginFailures: 'unknown' }, ['recent_login_failures']],
  ['recentVerificationFailures', { recentVerificationFailures: 'unknown' }, ['recent_verification_failures']],
  ['sensitiveOperationsInWindow', { sensitiveOperationsInWindow: 'unknown' }, ['sensitive_burst']],
  ['previousUserAgent', { previousUserAgent: 'unknown' }, ['user_agent_change']],
  ['network (not an address)', { network: 'not-an-ip' }, ['new_network', 'risky_network']],
  ['a negative count', { recentLoginFailures: -1 }, ['recent_login_failures']],
  ['a fractional count', { sensitiveOperationsInWindow: 1.5 }, ['sensitive_burst']],
  ['NaN', { recentVerificationFailures: Number.NaN }, ['recent_verification_failures']],
];

for (const [fact, facts, expected] of UNKNOWN_FACTS) {
  test(`fail safe: ${fact} unknown adds the unevaluable weight`, () => {
    const a = assessRisk(DEFAULTS, { ...CALM, ...facts });
    assert.deepEqual(names(a), expected);
    for (const s of a.signals) {
      assert.equal(s.evaluated, false);
      assert.equal(s.weight, 50);
      assert.match(s.detail, /could not be evaluated/);
    }
    assert.equal(a.score, 50 * expected.length);
    assert.notEqual(a.level, 'low');
  });
}

test('fail safe: the unevaluable weight is the configured one, and everything unknown is high', () => {
  const config = riskSchema.parse({ unevaluable_weight: 35 });
  const all: RiskFacts = {
    ...CALM,
    deviceKnown: 'unknown',
    recentNetworks: 'unknown',
    recentLoginFailures: 'unknown',
    recentVerificationFailures: 'unknown',
    sensitiveOperationsInWindow: 'unknown',
    previousUserAgent: 'unknown',
  };
  const a = assessRisk(config, all);
  assert.equal(a.signals.length, 6);
  assert.ok(a.signals.every((s) => s.weight === 35 && !s.evaluated));
  assert.equal(a.score, 210);
  assert.equal(a.level, 'high');
  // A trusted network still lowers, but an unknown fact is never read as safe.
  const trusted = assessRisk(withNetworks({ trusted: ['198.51.100.0/24'] }), { ...CALM, deviceKnown: 'unknown' });
  assert.deepEqual(trusted.signals.map((s) => [s.name, s.weight, s.evaluated]), [['unknown_device', 50, false], ['trusted_network', -30, true]]);
  assert.equal(trusted.score, 20);
});

test('the demo: a new browser on its first login is medium risk', () => {
  const a = assessRisk(DEFAULTS, {
    deviceKnown: false,
    network: '127.0.0.1',
    recentNetworks: [],
    recentLoginFailures: 0,
    recentVerificationFailures: 0,
    sensitiveOperationsInWindow: 0,
    userAgent: CHROME_WINDOWS,
    previousUserAgent: null,
  });
  assert.equal(a.level, 'medium');
  assert.deepEqual(names(a), ['unknown_device']);
});

test('the demo: a new browser of a returning user from the same network is medium risk', () => {
  const a = assessRisk(DEFAULTS, { ...CALM, deviceKnown: false, userAgent: FIREFOX_LINUX });
  assert.equal(a.score, 55);
  assert.equal(a.level, 'medium');
});

test('the demo: the 4th export within 10 minutes is high risk, the 3rd is not', () => {
  assert.equal(assessRisk(DEFAULTS, { ...CALM, sensitiveOperationsInWindow: 3 }).level, 'low');
  const fourth = assessRisk(DEFAULTS, { ...CALM, sensitiveOperationsInWindow: 4 });
  assert.equal(fourth.level, 'high');
  assert.match(fourth.signals[0]?.detail ?? '', /4 sensitive operations within 10 minutes \(more than 3\)/);
});

test('assessments are deterministic and do not touch their inputs', () => {
  const facts: RiskFacts = Object.freeze({ ...CALM, deviceKnown: false, network: '203.0.113.9', recentNetworks: Object.freeze(['198.51.100.1']) });
  const first = assessRisk(NETS, facts);
  const second = assessRisk(NETS, facts);
  assert.deepEqual(second, first);
  assert.equal('assessedAt' in first, false);
  assert.equal(assessRisk(NETS, facts, 1_767_225_600_000).assessedAt, 1_767_225_600_000);
});

test('explainRisk: one plain sentence per signal', () => {
  const a = assessRisk(NETS, { ...CALM, deviceKnown: false, recentLoginFailures: 'unknown' });
  const lines = explainRisk(a);
  assert.equal(lines.length, a.signals.length);
  assert.deepEqual(lines, [
    'Unknown device (+40): this device has not signed in to the account before.',
    'Trusted network (-30): 198.51.100.7 is in a trusted network.',
    'Recent login failures (+50): could not be evaluated: the count of failed logins could not be read, so it counts as risky.',
  ]);
  assert.deepEqual(explainRisk(assessRisk(DEFAULTS, CALM)), []);
  assert.match(explainRisk(assessRisk(BOTH, CALM))[0] ?? '', /also listed as trusted: counted as risky/);
  assert.match(explainRisk(assessRisk(DEFAULTS, { ...CALM, network: '203.0.113.9' }))[0] ?? '', /network 203\.0\.113\.0\/24 is not among the account's last 2 logins/);
  assert.match(explainRisk(assessRisk(DEFAULTS, { ...CALM, userAgent: FIREFOX_LINUX }))[0] ?? '', /from chrome on windows to firefox on linux/);
});
