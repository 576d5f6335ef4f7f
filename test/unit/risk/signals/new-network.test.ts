import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newNetwork } from '../../../../src/risk/signals/new-network.ts';
import { assertQuiet, config, run } from '../../../helpers/risk-signal.ts';

test('new_network: a network among the last logins is quiet, however it is spelt', () => {
  assertQuiet(newNetwork, { network: '198.51.100.200' });
  assertQuiet(newNetwork, { network: '::ffff:198.51.100.8' });
  assertQuiet(newNetwork, { network: '198.51.100.7', recentNetworks: ['198.51.100.0/24'] });
  assertQuiet(newNetwork, { network: '2001:db8:1:ff::1', recentNetworks: ['2001:0db8:0001::9'] });
});

test('new_network: never on a first login (no history to compare with)', () => {
  assertQuiet(newNetwork, { network: '203.0.113.9', recentNetworks: [] });
});

test('new_network: another /24 or /48 scores its weight, with its explanation', () => {
  const r = run(newNetwork, { network: '203.0.113.9' });
  assert.deepEqual(r.assessment.signals, [
    { name: 'new_network', weight: 25, detail: "network 203.0.113.0/24 is not among the account's last 2 logins", evaluated: true },
  ]);
  assert.equal(r.assessment.level, 'low');
  assert.deepEqual(r.lines, ["New network (+25): network 203.0.113.0/24 is not among the account's last 2 logins."]);
  const v6 = run(newNetwork, { network: '2001:db8:2::1', recentNetworks: ['2001:db8:1::9'] });
  assert.deepEqual(v6.lines, ["New network (+25): network 2001:db8:2::/48 is not among the account's last 1 login."]);
});

test('new_network: an unreadable history or an address that is not one counts as risky', () => {
  const history = run(newNetwork, { recentNetworks: 'unknown' });
  assert.deepEqual(history.outcome, { kind: 'unknown', why: 'the login history could not be read' });
  assert.deepEqual(history.lines, ['New network (+50): could not be evaluated: the login history could not be read, so it counts as risky.']);
  const address = run(newNetwork, { network: 'not-an-ip', recentNetworks: 'unknown' });
  assert.deepEqual(address.lines, ['New network (+50): could not be evaluated: the client address is not an IP address, so it counts as risky.']);
  assert.equal(address.assessment.signals[0]?.evaluated, false);
});

test('new_network: its weight is the configured one; 0 switches it off', () => {
  assert.equal(run(newNetwork, { network: '203.0.113.9' }, config({ signals: { new_network: { weight: 9 } } })).assessment.score, 9);
  const off = config({ signals: { new_network: { weight: 0 } } });
  assert.deepEqual(run(newNetwork, { network: '203.0.113.9' }, off).assessment.signals, []);
  assert.deepEqual(run(newNetwork, { recentNetworks: 'unknown' }, off).assessment.signals, []);
});
