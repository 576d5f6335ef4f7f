import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unknownDevice } from '../../../../src/risk/signals/unknown-device.ts';
import { assertQuiet, config, run } from '../../../helpers/risk-signal.ts';

test('unknown_device: a known device is quiet', () => {
  assertQuiet(unknownDevice, { deviceKnown: true });
});

test('unknown_device: a device new to the account scores its weight, with its explanation', () => {
  const r = run(unknownDevice, { deviceKnown: false });
  assert.deepEqual(r.outcome, { kind: 'fired', detail: 'this device has not signed in to the account before' });
  assert.deepEqual(r.assessment.signals, [{ name: 'unknown_device', weight: 40, detail: 'this device has not signed in to the account before', evaluated: true }]);
  assert.equal(r.assessment.score, 40);
  assert.equal(r.assessment.level, 'medium');
  assert.deepEqual(r.lines, ['Unknown device (+40): this device has not signed in to the account before.']);
});

test('unknown_device: unknown known devices count as risky with the unevaluable weight', () => {
  const r = run(unknownDevice, { deviceKnown: 'unknown' });
  assert.deepEqual(r.outcome, { kind: 'unknown', why: 'the known devices could not be read' });
  assert.deepEqual(r.assessment.signals, [{ name: 'unknown_device', weight: 50, detail: 'could not be evaluated: the known devices could not be read', evaluated: false }]);
  assert.deepEqual(r.lines, ['Unknown device (+50): could not be evaluated: the known devices could not be read, so it counts as risky.']);
  assert.equal(run(unknownDevice, { deviceKnown: 'unknown' }, config({ unevaluable_weight: 35 })).assessment.score, 35);
});

test('unknown_device: its weight is the configured one; 0 switches it off, unknown included', () => {
  assert.equal(unknownDevice.weight(config({ signals: { unknown_device: { weight: 7 } } })), 7);
  assert.deepEqual(run(unknownDevice, { deviceKnown: false }, config({ signals: { unknown_device: { weight: 7 } } })).lines, [
    'Unknown device (+7): this device has not signed in to the account before.',
  ]);
  const off = config({ signals: { unknown_device: { weight: 0 } } });
  assert.deepEqual(run(unknownDevice, { deviceKnown: false }, off).assessment.signals, []);
  assert.deepEqual(run(unknownDevice, { deviceKnown: 'unknown' }, off).assessment.signals, []);
});
