import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assessRisk, explainRisk } from '../../../../src/risk/assess.ts';
import { RISK_SIGNALS } from '../../../../src/config/schema/risk.ts';
import { RISK_SIGNAL_REGISTRY } from '../../../../src/risk/signals/index.ts';
import { fired, QUIET, unevaluable, type RiskSignal } from '../../../../src/risk/signals/signal.ts';
import { CALM, config, declaredOnly, DEFAULTS, FIREFOX_LINUX } from '../../../helpers/risk-signal.ts';

test('registry: every configured signal once, in RISK_SIGNALS order, each with a label and its configured weight', () => {
  assert.deepEqual(RISK_SIGNAL_REGISTRY.map((s) => s.name), [...RISK_SIGNALS]);
  const tuned = config({ signals: { unknown_device: { weight: 1 }, new_network: { weight: 2 }, risky_network: { weight: 3 }, trusted_network: { weight: -4 }, recent_login_failures: { weight: 5 }, recent_verification_failures: { weight: 6 }, sensitive_burst: { weight: 7 }, user_agent_change: { weight: 8 } } });
  for (const signal of RISK_SIGNAL_REGISTRY) {
    assert.ok(signal.label.length > 0, signal.name);
    assert.ok(signal.facts.length > 0, signal.name);
    assert.equal(signal.weight(DEFAULTS), DEFAULTS.signals[signal.name].weight, signal.name);
    assert.equal(signal.weight(tuned), tuned.signals[signal.name].weight, signal.name);
  }
  assert.equal(new Set(RISK_SIGNAL_REGISTRY.map((s) => s.label)).size, RISK_SIGNAL_REGISTRY.length);
});

test('registry: every signal reads only the facts it declares', () => {
  const variations = [{}, { deviceKnown: false, network: 'not-an-ip', recentNetworks: 'unknown', userAgent: FIREFOX_LINUX, recentLoginFailures: 9 }] as const;
  const nets = config({ networks: { risky: ['203.0.113.0/24'], trusted: ['198.51.100.0/24'] } });
  for (const signal of RISK_SIGNAL_REGISTRY) {
    for (const changes of variations) signal.evaluate(declaredOnly(signal, changes), nets);
  }
  // The check itself bites: a signal reading an undeclared fact fails the test.
  const sneaky: RiskSignal = { name: 'sneaky', label: 'Sneaky', facts: ['network'], weight: () => 1, evaluate: (facts) => (facts.deviceKnown ? QUIET : fired('x')) };
  assert.throws(() => sneaky.evaluate(declaredOnly(sneaky), DEFAULTS), /sneaky read the fact deviceKnown it does not declare/);
});

test('registry: the default assessment is the built-in registry', () => {
  const facts = { ...CALM, deviceKnown: false, network: '203.0.113.9', userAgent: FIREFOX_LINUX };
  assert.deepEqual(assessRisk(DEFAULTS, facts, 5), assessRisk(DEFAULTS, facts, 5, RISK_SIGNAL_REGISTRY));
});

/** A signal that lives only in this test: no other file knows it. */
const nightOwl: RiskSignal<'night_owl'> = {
  name: 'night_owl',
  label: 'Night owl',
  facts: ['recentLoginFailures'],
  weight: () => 12,
  evaluate(facts) {
    if (facts.recentLoginFailures === 'unknown') return unevaluable('the owl could not be asked');
    return facts.recentLoginFailures === 1 ? fired('one failed login, at night') : QUIET;
  },
};

test('registry: an extra signal passed to assessRisk is scored and explained after the built-in ones', () => {
  const registry = [...RISK_SIGNAL_REGISTRY, nightOwl];
  const a = assessRisk(DEFAULTS, { ...CALM, deviceKnown: false, recentLoginFailures: 1 }, undefined, registry);
  assert.deepEqual(a.signals.map((s) => [s.name, s.weight, s.evaluated]), [['unknown_device', 40, true], ['night_owl', 12, true]]);
  assert.equal(a.score, 52);
  assert.equal(a.level, 'medium');
  assert.deepEqual(explainRisk(a, registry), [
    'Unknown device (+40): this device has not signed in to the account before.',
    'Night owl (+12): one failed login, at night.',
  ]);
  // Quiet: the built-in result exactly.
  assert.deepEqual(assessRisk(DEFAULTS, CALM, undefined, registry), assessRisk(DEFAULTS, CALM));
});

test('registry: an extra signal gets the same fail-safe treatment as the built-in ones', () => {
  const a = assessRisk(config({ unevaluable_weight: 33 }), { ...CALM, recentLoginFailures: 'unknown' }, undefined, [nightOwl]);
  assert.deepEqual(a.signals, [{ name: 'night_owl', weight: 33, detail: 'could not be evaluated: the owl could not be asked', evaluated: false }]);
  assert.deepEqual(explainRisk(a, [nightOwl]), ['Night owl (+33): could not be evaluated: the owl could not be asked, so it counts as risky.']);
  // A signal that lowers the score is never counted when it cannot be evaluated, and never takes the score below 0.
  const lowering: RiskSignal = { ...nightOwl, name: 'lowering', weight: () => -20 };
  assert.deepEqual(assessRisk(DEFAULTS, { ...CALM, recentLoginFailures: 'unknown' }, undefined, [lowering]).signals, []);
  const low = assessRisk(DEFAULTS, { ...CALM, recentLoginFailures: 1 }, undefined, [lowering]);
  assert.deepEqual([low.score, low.signals.map((s) => s.weight)], [0, [-20]]);
  // Weight 0 switches it off.
  assert.deepEqual(assessRisk(DEFAULTS, { ...CALM, recentLoginFailures: 1 }, undefined, [{ ...nightOwl, weight: () => 0 }]).signals, []);
});

test('explainRisk: a signal missing from the registry it is given is named by its key', () => {
  const a = assessRisk(DEFAULTS, { ...CALM, recentLoginFailures: 1 }, undefined, [nightOwl]);
  assert.deepEqual(explainRisk(a), ['night_owl (+12): one failed login, at night.']);
});
