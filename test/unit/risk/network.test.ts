import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkPrefix, unmapAddress } from '../../../src/risk/network.ts';

test('networkPrefix: the /24 of an IPv4 address', () => {
  const cases: Array<[string, string]> = [
    ['198.51.100.7', '198.51.100.0/24'],
    ['198.51.100.255', '198.51.100.0/24'],
    ['203.0.113.0', '203.0.113.0/24'],
    ['10.1.2.3', '10.1.2.0/24'],
    ['0.0.0.0', '0.0.0.0/24'],
  ];
  for (const [address, prefix] of cases) assert.equal(networkPrefix(address), prefix, address);
  assert.notEqual(networkPrefix('198.51.100.7'), networkPrefix('198.51.101.7'));
});

test('networkPrefix: the /48 of an IPv6 address, whatever its spelling', () => {
  const cases: Array<[string, string]> = [
    ['2001:db8:1:2::5', '2001:db8:1::/48'],
    ['2001:0db8:0001:ffff:0000:0000:0000:0001', '2001:db8:1::/48'],
    ['2001:DB8:1:2:3:4:5:6', '2001:db8:1::/48'],
    ['2001:db8::1', '2001:db8::/48'],
    ['2001::1', '2001::/48'],
    ['::1', '::/48'],
    ['::', '::/48'],
    ['fe80::1%eth0', 'fe80::/48'],
    ['2001:db8:abcd:12::192.0.2.1', '2001:db8:abcd::/48'],
    ['64:ff9b::192.0.2.1', '64:ff9b::/48'],
    ['1:2:3:4:5:6:7:8', '1:2:3::/48'],
  ];
  for (const [address, prefix] of cases) assert.equal(networkPrefix(address), prefix, address);
  assert.equal(networkPrefix('2001:db8:1::9'), networkPrefix('2001:0db8:0001:0000:ffff::'));
  assert.notEqual(networkPrefix('2001:db8:1::9'), networkPrefix('2001:db8:2::9'));
});

test('networkPrefix: IPv4-mapped IPv6 counts as the IPv4 address it carries', () => {
  assert.equal(networkPrefix('::ffff:198.51.100.7'), '198.51.100.0/24');
  assert.equal(networkPrefix('::FFFF:198.51.100.7'), '198.51.100.0/24');
  assert.equal(networkPrefix('::ffff:c633:6407'), '198.51.100.0/24');
  assert.equal(networkPrefix('0:0:0:0:0:ffff:198.51.100.7'), '198.51.100.0/24');
  assert.equal(unmapAddress('::ffff:c633:6407'), '198.51.100.7');
  assert.equal(unmapAddress('::ffff:198.51.100.7'), '198.51.100.7');
  assert.equal(unmapAddress('2001:db8::1'), '2001:db8::1');
  assert.equal(unmapAddress('198.51.100.7'), '198.51.100.7');
  // IPv4-compatible (::a.b.c.d, deprecated) is not mapped: it stays IPv6.
  assert.equal(networkPrefix('::198.51.100.7'), '::/48');
});

test('networkPrefix: a prefix it produced is returned unchanged; anything else is null', () => {
  for (const address of ['198.51.100.7', '2001:db8:1:2::5', '::ffff:198.51.100.7', '::1']) {
    const prefix = networkPrefix(address);
    assert.ok(prefix !== null);
    assert.equal(networkPrefix(prefix), prefix, address);
  }
  assert.equal(networkPrefix('198.51.100.9/24'), '198.51.100.0/24');
  for (const bad of ['', 'localhost', '198.51.100', '198.51.100.256', '1.2.3.4.5', '2001:db8:::1', '198.51.100.0/16', '2001:db8::/64', '198.51.100.0/24/1', 'x/24', '::ffff:1.2.3.4/48', ' 198.51.100.7']) {
    assert.equal(networkPrefix(bad), null, JSON.stringify(bad));
  }
});
