import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recentLoginFailures } from '../../../../src/risk/signals/recent-login-failures.ts';
import { assertQuiet, config, run } from '../../../helpers/risk-signal.ts';

test('recent_login_failures: below the threshold is quiet', () => {
  assertQuiet(recentLoginFailures, { recentLoginFailures: 0 });
  assertQuiet(recentLoginFailures, { recentLoginFailures: 2 });
});

test('recent_login_failures: at or above the threshold scores its weight, with its explanation', () => {
  const r = run(recentLoginFailures, { recentLoginFailures: 3 });
  assert.deepEqual(r.assessment.signals, [{ name: 'recent_login_failures', weight: 20, detail: '3 failed logins within 1 hour (threshold 3)', evaluated: true }]);
  assert.deepEqual(r.lines, ['Recent login failures (+20): 3 failed logins within 1 hour (threshold 3).']);
  const tuned = config({ signals: { recent_login_failures: { weight: 13, threshold: 1, window: '90s' } } });
  assert.deepEqual(run(recentLoginFailures, { recentLoginFailures: 1 }, tuned).lines, ['Recent login failures (+13): 1 failed login within 90 seconds (threshold 1).']);
});

test('recent_login_failures: an unreadable or impossible count counts as risky', () => {
  for (const count of ['unknown', -1, 1.5, Number.NaN] as const) {
    const r = run(recentLoginFailures, { recentLoginFailures: count });
    assert.deepEqual(r.outcome, { kind: 'unknown', why: 'the count of failed logins could not be read' }, String(count));
    assert.deepEqual(r.lines, ['Recent login failures (+50): could not be evaluated: the count of failed logins could not be read, so it counts as risky.']);
  }
});

test('recent_login_failures: 0 switches it off', () => {
  const off = config({ signals: { recent_login_failures: { weight: 0 } } });
  assert.deepEqual(run(recentLoginFailures, { recentLoginFailures: 9 }, off).assessment.signals, []);
  assert.deepEqual(run(recentLoginFailures, { recentLoginFailures: 'unknown' }, off).assessment.signals, []);
});
