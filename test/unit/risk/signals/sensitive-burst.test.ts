import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sensitiveBurst } from '../../../../src/risk/signals/sensitive-burst.ts';
import { assertQuiet, config, run } from '../../../helpers/risk-signal.ts';

test('sensitive_burst: up to max operations in the window is quiet', () => {
  assertQuiet(sensitiveBurst, { sensitiveOperationsInWindow: 0 });
  assertQuiet(sensitiveBurst, { sensitiveOperationsInWindow: 3 });
});

test('sensitive_burst: more than max scores its weight (high on its own), with its explanation', () => {
  const r = run(sensitiveBurst, { sensitiveOperationsInWindow: 4 });
  assert.deepEqual(r.assessment.signals, [
    { name: 'sensitive_burst', weight: 60, detail: '4 sensitive operations within 10 minutes (more than 3)', evaluated: true },
  ]);
  assert.equal(r.assessment.level, 'high');
  assert.deepEqual(r.lines, ['Burst of sensitive operations (+60): 4 sensitive operations within 10 minutes (more than 3).']);
  const tuned = config({ signals: { sensitive_burst: { weight: 11, max: 1, window: '5m' } } });
  assert.deepEqual(run(sensitiveBurst, { sensitiveOperationsInWindow: 2 }, tuned).lines, [
    'Burst of sensitive operations (+11): 2 sensitive operations within 5 minutes (more than 1).',
  ]);
});

test('sensitive_burst: an unreadable or impossible count counts as risky', () => {
  for (const count of ['unknown', 1.5, -1] as const) {
    const r = run(sensitiveBurst, { sensitiveOperationsInWindow: count });
    assert.deepEqual(r.outcome, { kind: 'unknown', why: 'the count of sensitive operations could not be read' }, String(count));
    assert.deepEqual(r.lines, ['Burst of sensitive operations (+50): could not be evaluated: the count of sensitive operations could not be read, so it counts as risky.']);
  }
});

test('sensitive_burst: 0 switches it off', () => {
  const off = config({ signals: { sensitive_burst: { weight: 0 } } });
  assert.deepEqual(run(sensitiveBurst, { sensitiveOperationsInWindow: 40 }, off).assessment.signals, []);
  assert.deepEqual(run(sensitiveBurst, { sensitiveOperationsInWindow: 'unknown' }, off).assessment.signals, []);
});
