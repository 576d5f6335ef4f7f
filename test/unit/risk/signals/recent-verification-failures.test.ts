import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recentVerificationFailures } from '../../../../src/risk/signals/recent-verification-failures.ts';
import { assertQuiet, config, run } from '../../../helpers/risk-signal.ts';

test('recent_verification_failures: below the threshold is quiet', () => {
  assertQuiet(recentVerificationFailures, { recentVerificationFailures: 2 });
});

test('recent_verification_failures: at or above the threshold scores its weight, with its explanation', () => {
  const r = run(recentVerificationFailures, { recentVerificationFailures: 9 });
  assert.deepEqual(r.assessment.signals, [
    { name: 'recent_verification_failures', weight: 20, detail: '9 wrong verification codes within 1 hour (threshold 3)', evaluated: true },
  ]);
  assert.deepEqual(r.lines, ['Recent verification failures (+20): 9 wrong verification codes within 1 hour (threshold 3).']);
  const tuned = config({ signals: { recent_verification_failures: { weight: 5, threshold: 2, window: '1d' } } });
  assert.deepEqual(run(recentVerificationFailures, { recentVerificationFailures: 2 }, tuned).lines, [
    'Recent verification failures (+5): 2 wrong verification codes within 1 day (threshold 2).',
  ]);
});

test('recent_verification_failures: an unreadable or impossible count counts as risky', () => {
  for (const count of ['unknown', -3, Number.NaN, Number.POSITIVE_INFINITY] as const) {
    const r = run(recentVerificationFailures, { recentVerificationFailures: count });
    assert.deepEqual(r.lines, [
      'Recent verification failures (+50): could not be evaluated: the count of wrong verification codes could not be read, so it counts as risky.',
    ], String(count));
  }
});

test('recent_verification_failures: 0 switches it off', () => {
  const off = config({ signals: { recent_verification_failures: { weight: 0 } } });
  assert.deepEqual(run(recentVerificationFailures, { recentVerificationFailures: 9 }, off).assessment.signals, []);
  assert.deepEqual(run(recentVerificationFailures, { recentVerificationFailures: 'unknown' }, off).assessment.signals, []);
});
