import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
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

/** A request as the body watch sees it: events, `complete`, and its socket's byte count. */
function bodyRequest(complete = false): IncomingMessage & EventEmitter {
  return Object.assign(new EventEmitter(), { complete, socket: { bytesRead: 0 }, readableFlowing: null, readableLength: 0 }) as unknown as IncomingMessage & EventEmitter;
}

test('a body watch tells its owner once when it ends: body in, request closed, already complete, or stalled', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const limits = new ClientLimits(OPTIONS, trustedProxyList([]), false);
  const count = (req: IncomingMessage & EventEmitter): { stops: number; stalls: number; watch: ReturnType<ClientLimits['watchBody']> } => {
    const seen = { stops: 0, stalls: 0 } as { stops: number; stalls: number; watch: ReturnType<ClientLimits['watchBody']> };
    seen.watch = limits.watchBody(req, () => seen.stalls++, () => seen.stops++);
    return seen;
  };

  const ended = bodyRequest();
  const a = count(ended);
  assert.equal(a.watch.stopped(), false);
  ended.emit('end');
  ended.emit('close');
  a.watch.stop();
  assert.deepEqual([a.stops, a.stalls, a.watch.stopped()], [1, 0, true], 'the end, the close and a stop after them: one notice');

  const closed = bodyRequest();
  const b = count(closed);
  closed.emit('close');
  assert.deepEqual([b.stops, b.stalls], [1, 0]);

  const b2 = count(bodyRequest(true));
  assert.deepEqual([b2.stops, b2.watch.stopped()], [1, true], 'a body already in: the watch ends at once');

  const slow = bodyRequest();
  const c = count(slow);
  t.mock.timers.tick(OPTIONS.bodyTimeoutMs);
  assert.deepEqual([c.stops, c.stalls, c.watch.stopped()], [1, 1, true], 'a stall ends the watch too');
  slow.emit('end');
  assert.equal(c.stops, 1);
});
