import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { ClientLimits } from '../../../src/entry/client-limits.ts';
import { trustedProxyList } from '../../../src/config/schema.ts';

/** THREATS T17: connections are capped per client address, IPv6 per /64, trusted proxies aside. */

function socketFrom(remoteAddress: string): Socket & EventEmitter {
  return Object.assign(new EventEmitter(), { remoteAddress }) as unknown as Socket & EventEmitter;
}

const OPTIONS = { bodyTimeoutMs: 1000, bodyMinRate: 500, connectionsPerAddress: 2 };

test('IPv6 addresses of one /64 share one count; another /64 has its own', () => {
  const limits = new ClientLimits(OPTIONS, trustedProxyList([]), false);
  const a = socketFrom('2001:db8:1:2::1');
  const b = socketFrom('2001:db8:1:2:ffff::9');
  const c = socketFrom('2001:0db8:0001:0002:0:0:0:7');
  const other = socketFrom('2001:db8:1:3::1');
  for (const s of [a, b, c, other]) limits.accept(s);
  assert.equal(limits.overConnectionCap(a), false);
  assert.equal(limits.overConnectionCap(b), false);
  assert.equal(limits.overConnectionCap(c), true, 'the third connection from the same /64 is over the cap');
  assert.equal(limits.overConnectionCap(other), false);
  a.emit('close');
  const d = socketFrom('2001:db8:1:2::abcd');
  limits.accept(d);
  assert.equal(limits.overConnectionCap(d), false, 'a closed connection frees its place');
});

test('IPv4-mapped peers count as their IPv4 address; a trusted proxy is not capped', () => {
  const limits = new ClientLimits(OPTIONS, trustedProxyList(['10.0.0.0/8']), true);
  const sockets = ['192.0.2.7', '::ffff:192.0.2.7', '192.0.2.7'].map(socketFrom);
  for (const s of sockets) limits.accept(s);
  assert.deepEqual(sockets.map((s) => limits.overConnectionCap(s)), [false, false, true]);
  const proxy = Array.from({ length: 5 }, () => socketFrom('10.1.2.3'));
  for (const s of proxy) limits.accept(s);
  assert.ok(proxy.every((s) => !limits.overConnectionCap(s)), 'the proxy carries many clients; they are capped per request');
  assert.equal(limits.openConnections('10.1.2.3'), 0);
});
