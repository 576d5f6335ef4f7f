import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trustedNetwork } from '../../../../src/risk/signals/trusted-network.ts';
import { assertQuiet, config, DEFAULTS, run } from '../../../helpers/risk-signal.ts';

const NETS = config({ networks: { risky: ['203.0.113.0/24'], trusted: ['198.51.100.0/24', '10.0.0.0/8'] } });

test('trusted_network: no list, or an address outside it, is quiet', () => {
  assertQuiet(trustedNetwork, { network: '198.51.100.7' }, DEFAULTS);
  assertQuiet(trustedNetwork, { network: '192.0.2.1' }, NETS);
});

test('trusted_network: an address in networks.trusted lowers the score, never below 0', () => {
  const r = run(trustedNetwork, { network: '::ffff:198.51.100.7' }, NETS);
  assert.deepEqual(r.assessment.signals, [{ name: 'trusted_network', weight: -30, detail: '198.51.100.7 is in a trusted network', evaluated: true }]);
  assert.equal(r.assessment.score, 0);
  assert.equal(r.assessment.level, 'low');
  assert.deepEqual(r.lines, ['Trusted network (-30): 198.51.100.7 is in a trusted network.']);
});

test('trusted_network: an address also listed as risky is not trusted', () => {
  const both = config({ networks: { risky: ['198.51.100.0/25'], trusted: ['198.51.100.0/24'] } });
  assertQuiet(trustedNetwork, { network: '198.51.100.7' }, both);
  assert.deepEqual(run(trustedNetwork, { network: '198.51.100.200' }, both).lines, ['Trusted network (-30): 198.51.100.200 is in a trusted network.']);
  // Also when the risky signal itself is switched off: the lists decide, not the weights.
  const riskyOff = config({ signals: { risky_network: { weight: 0 } }, networks: { risky: ['198.51.100.0/25'], trusted: ['198.51.100.0/24'] } });
  assertQuiet(trustedNetwork, { network: '198.51.100.7' }, riskyOff);
});

test('trusted_network: fail safe, an address that is not one is never trusted nor counted by this signal', () => {
  const r = run(trustedNetwork, { network: 'not-an-ip' }, NETS);
  assert.deepEqual(r.outcome, { kind: 'quiet' });
  assert.deepEqual(r.assessment.signals, []);
});

test('trusted_network: its weight is the configured one; 0 switches it off', () => {
  const light = config({ signals: { trusted_network: { weight: -5 } }, networks: { trusted: ['10.0.0.0/8'] } });
  assert.deepEqual(run(trustedNetwork, { network: '10.1.2.3' }, light).lines, ['Trusted network (-5): 10.1.2.3 is in a trusted network.']);
  const off = config({ signals: { trusted_network: { weight: 0 } }, networks: { trusted: ['10.0.0.0/8'] } });
  assert.deepEqual(run(trustedNetwork, { network: '10.1.2.3' }, off).assessment.signals, []);
});
