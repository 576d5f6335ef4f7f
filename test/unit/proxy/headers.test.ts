import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import {
  BUILTIN_STRIPPED_HEADERS,
  compileHeaderFilter,
  filterCookieHeader,
  sanitiseRequestHeaders,
  sanitiseResponseHeaders,
} from '../../../src/proxy/headers.ts';
import { headerList } from '../../../src/proxy/message-head.ts';

const facts = { forwardedFor: '203.0.113.9', proto: 'http', host: 'app.example.com', requestId: 'req-1', requestIdHeader: 'x-request-id' } as const;
const own = (name: string): boolean => /^(__Host-)?spg_/.test(name);
const stripped = compileHeaderFilter(BUILTIN_STRIPPED_HEADERS);

test('identity headers are stripped in every spelling', () => {
  for (const name of ['X-Auth-User', 'x_auth_user', 'X.Auth.User', 'x-authenticated-user', 'X.Authenticated.User', 'x-original-url', 'X-Rewrite-URL', 'x_forwarded_for', 'forwarded', 'x-real-ip', 'remote-user', 'x-remote-user', 'x-http-method-override', 'x-guard-user']) {
    assert.equal(stripped(name), true, name);
  }
  for (const name of ['accept', 'content-type', 'x-requested-with', 'authorization', 'cookie', 'x-csrf-token']) {
    assert.equal(stripped(name), false, name);
  }
});

test('configured patterns extend the list; a * only at the end', () => {
  const f = compileHeaderFilter(['x-tenant-*', 'x-role']);
  assert.equal(f('X_Tenant_Id'), true);
  assert.equal(f('x-role'), true);
  assert.equal(f('x-roles'), false);
  assert.throws(() => compileHeaderFilter(['x-*-id']), /only at the end/);
});

test('request: hop-by-hop, Connection-listed and spoofed headers go; ours are written', () => {
  const h: IncomingHttpHeaders = {
    host: 'app.example.com',
    connection: 'keep-alive, X-Custom, Cookie',
    'keep-alive': 'timeout=5',
    'x-custom': '1',
    te: 'trailers',
    upgrade: 'h2c',
    'proxy-authorization': 'Basic xyz',
    'x-forwarded-for': '1.2.3.4',
    'x-forwarded-host': 'evil',
    'x-forwarded-proto': 'https',
    'x-request-id': 'spoofed',
    cookie: 'sp_session=abc',
    accept: 'text/html',
  };
  sanitiseRequestHeaders(h, facts, { stripped, ownCookie: own });
  // Removed headers are left undefined (the object stays fast); the upstream gets the list.
  // (A header the sidecar writes over a client's keeps the client's place in the list.)
  assert.deepEqual(headerList(h), [
    'host', 'app.example.com',
    'x-forwarded-for', '203.0.113.9',
    'x-forwarded-host', 'app.example.com',
    'x-forwarded-proto', 'http',
    'x-request-id', 'req-1',
    'accept', 'text/html',
  ]);
  for (const name of ['connection', 'keep-alive', 'x-custom', 'te', 'upgrade', 'proxy-authorization', 'cookie']) assert.equal(h[name], undefined, name);
});

test('Connection: keep-alive, the common case, and a header named like the close option', () => {
  const kept: IncomingHttpHeaders = { host: 'h', connection: 'keep-alive', 'keep-alive': 'timeout=5', accept: '*/*' };
  sanitiseRequestHeaders(kept, facts, { stripped, ownCookie: own });
  assert.deepEqual(headerList(kept), ['host', 'app.example.com', 'accept', '*/*', 'x-forwarded-for', '203.0.113.9', 'x-forwarded-proto', 'http', 'x-forwarded-host', 'app.example.com', 'x-request-id', 'req-1']);
  // A field a client names in Connection goes, even one called like a connection option.
  const close: IncomingHttpHeaders = { host: 'h', connection: 'close', close: 'x', accept: '*/*' };
  sanitiseRequestHeaders(close, facts, { stripped, ownCookie: own });
  assert.equal(close['close'], undefined);
  assert.deepEqual(headerList(close).filter((_, i) => i % 2 === 0), ['host', 'accept', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id']);
});

test('request framing survives Connection tricks and is exactly one of CL or chunked', () => {
  const cl: IncomingHttpHeaders = { host: 'h', connection: 'content-length, host, transfer-encoding', 'content-length': '5' };
  sanitiseRequestHeaders(cl, facts, { stripped, ownCookie: own });
  assert.equal(cl['content-length'], '5');
  assert.equal(cl.host, 'app.example.com', 'Host stays, in the canonical form the policy decided on');
  assert.equal(cl['transfer-encoding'], undefined);
  const chunked: IncomingHttpHeaders = { host: 'h', 'transfer-encoding': 'chunked', 'content-length': '5' };
  sanitiseRequestHeaders(chunked, facts, { stripped, ownCookie: own });
  assert.equal(chunked['transfer-encoding'], 'chunked');
  assert.equal(chunked['content-length'], undefined);
});

test('the sidecar cookies never reach the upstream; the others keep their order', () => {
  assert.equal(filterCookieHeader('a=1; spg_session=x; __Host-spg_session=y; b=2;c=3', own), 'a=1; b=2; c=3');
  assert.equal(filterCookieHeader('spg_session=x', own), '');
  const h: IncomingHttpHeaders = { host: 'h', cookie: 'spg_session=x' };
  sanitiseRequestHeaders(h, facts, { stripped, ownCookie: own });
  assert.equal(h.cookie, undefined);
});

test('websocket hand-shakes keep exactly the upgrade headers', () => {
  const h: IncomingHttpHeaders = { host: 'h', connection: 'Upgrade, X-Secret', upgrade: 'websocket', 'x-secret': 's', 'sec-websocket-key': 'k' };
  sanitiseRequestHeaders(h, facts, { stripped, ownCookie: own, websocket: true });
  assert.equal(h.connection, 'Upgrade');
  assert.equal(h.upgrade, 'websocket');
  assert.equal(h['x-secret'], undefined);
  assert.equal(h['sec-websocket-key'], 'k');
  // http-proxy-3 sets every header it finds: on this path removed ones are gone, not undefined.
  assert.equal(Object.values(h).includes(undefined), false);
  assert.equal('x-secret' in h, false);
});

test('response: upstream cookies cannot overwrite the sidecar cookies, ours are merged in', () => {
  const h: IncomingHttpHeaders = {
    connection: 'close, x-internal',
    'x-internal': 'secret',
    'keep-alive': 'timeout=5',
    'set-cookie': ['sp_session=1; Path=/', 'spg_session=evil; Path=/', '__Host-spg_session=evil; Path=/'],
    'content-type': 'text/plain',
  };
  sanitiseResponseHeaders(h, ['spg_session=ours; HttpOnly'], own, true);
  assert.deepEqual(h['set-cookie'], ['sp_session=1; Path=/', 'spg_session=ours; HttpOnly']);
  assert.equal(h['x-internal'], undefined);
  assert.equal(h['keep-alive'], undefined);
  assert.equal(h.connection, 'keep-alive');
  assert.equal(h['content-type'], 'text/plain');
});

test('response, proxied path: removed headers are left undefined (never written), the same ones as with delete', () => {
  const make = (): IncomingHttpHeaders => ({
    connection: 'close, x-internal',
    'x-internal': 'secret',
    'keep-alive': 'timeout=5',
    'proxy-connection': 'keep-alive',
    'set-cookie': ['spg_session=evil; Path=/'],
    'content-type': 'text/plain',
  });
  const deleted = make();
  const unset = make();
  sanitiseResponseHeaders(deleted, [], own, false);
  sanitiseResponseHeaders(unset, [], own, false, 'unset');
  const present = (h: IncomingHttpHeaders): Record<string, unknown> => Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined));
  assert.deepEqual(present(unset), present(deleted));
  assert.deepEqual(present(unset), { connection: 'close', 'content-type': 'text/plain' });
  assert.ok('x-internal' in unset && unset['x-internal'] === undefined, 'unset, not deleted');
});
