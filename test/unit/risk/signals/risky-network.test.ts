import { test } from 'node:test';
import assert from 'node:assert/strict';
import { riskyNetwork } from '../../../../src/risk/signals/risky-network.ts';
import { assertQuiet, config, DEFAULTS, run } from '../../../helpers/risk-signal.ts';

const NETS = config({ networks: { risky: ['203.0.113.0/24', '2001:db8:bad::/48'], trusted: ['198.51.100.0/24'] } });

test('risky_network: no list, or an address outside it, is quiet', () => {
  assertQuiet(riskyNetwork, { network: '203.0.113.9' }, DEFAULTS);
  assertQuiet(riskyNetwork, { network: '198.51.100.7' }, NETS);
  assertQuiet(riskyNetwork, { network: '203.0.114.9' }, NETS);
});

test('risky_network: an address in networks.risky scores its weight, with its explanation', () => {
  const r = run(riskyNetwork, { network: '203.0.113.9' }, NETS);
  assert.deepEqual(r.assessment.signals, [{ name: 'risky_network', weight: 50, detail: '203.0.113.9 is in a risky network', evaluated: true }]);
  assert.equal(r.assessment.level, 'medium');
  assert.deepEqual(r.lines, ['Risky network (+50): 203.0.113.9 is in a risky network.']);
  assert.deepEqual(run(riskyNetwork, { network: '::ffff:203.0.113.9' }, NETS).lines, ['Risky network (+50): 203.0.113.9 is in a risky network.']);
  assert.deepEqual(run(riskyNetwork, { network: '2001:db8:bad:1::1' }, NETS).lines, ['Risky network (+50): 2001:db8:bad:1::1 is in a risky network.']);
});

test('risky_network: an address in both lists is risky, and says so', () => {
  const both = config({ networks: { risky: ['198.51.100.0/25'], trusted: ['198.51.100.0/24'] } });
  assert.deepEqual(run(riskyNetwork, { network: '198.51.100.7' }, both).lines, [
    'Risky network (+50): 198.51.100.7 is in a risky network (also listed as trusted: counted as risky).',
  ]);
});

test('risky_network: an address that is not one counts as risky', () => {
  const r = run(riskyNetwork, { network: 'not-an-ip' }, DEFAULTS);
  assert.deepEqual(r.outcome, { kind: 'unknown', why: 'the client address is not an IP address' });
  assert.deepEqual(r.lines, ['Risky network (+50): could not be evaluated: the client address is not an IP address, so it counts as risky.']);
});

test('risky_network: its weight is the configured one; 0 switches it off', () => {
  const light = config({ signals: { risky_network: { weight: 11 } }, networks: { risky: ['203.0.113.0/24'] } });
  assert.equal(run(riskyNetwork, { network: '203.0.113.9' }, light).assessment.score, 11);
  const off = config({ signals: { risky_network: { weight: 0 } }, networks: { risky: ['203.0.113.0/24'] } });
  assert.deepEqual(run(riskyNetwork, { network: '203.0.113.9' }, off).assessment.signals, []);
  assert.deepEqual(run(riskyNetwork, { network: 'not-an-ip' }, off).assessment.signals, []);
});
