import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trustedProxyList } from '../../../src/config/schema.ts';
import { clientFacts } from '../../../src/proxy/client-address.ts';

const trusted = trustedProxyList(['10.0.0.0/8', 'fd00::/8', '192.0.2.7']);
const spoof = { host: 'app.example.com:8080', 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' };

test('an untrusted peer is the client, whatever it claims', () => {
  const f = clientFacts('203.0.113.5', false, spoof, trusted, true);
  assert.equal(f.address, '203.0.113.5');
  assert.equal(f.forwardedFor, '203.0.113.5');
  assert.equal(f.proto, 'http');
  assert.equal(f.host, 'app.example.com:8080');
  assert.equal(f.hostname, 'app.example.com');
});

test('with no trusted proxies configured, forwarded headers are ignored even from private peers', () => {
  const f = clientFacts('10.1.2.3', false, spoof, trustedProxyList([]), false);
  assert.equal(f.address, '10.1.2.3');
  assert.equal(f.proto, 'http');
});

test('a trusted peer: the rightmost untrusted hop is the client', () => {
  const f = clientFacts('10.0.0.2', false, { host: 'h', 'x-forwarded-for': '6.6.6.6, 198.51.100.4, 10.0.0.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com' }, trusted, true);
  assert.equal(f.address, '198.51.100.4');
  assert.equal(f.forwardedFor, '6.6.6.6, 198.51.100.4, 10.0.0.9, 10.0.0.2');
  assert.equal(f.proto, 'https');
  assert.equal(f.host, 'app.example.com');
});

test('IPv4-mapped IPv6 peers are matched as IPv4; garbage in X-Forwarded-For is dropped', () => {
  const f = clientFacts('::ffff:192.0.2.7', false, { host: 'h', 'x-forwarded-for': 'not-an-ip, 198.51.100.4' }, trusted, true);
  assert.equal(f.address, '198.51.100.4');
  assert.equal(f.forwardedFor, '198.51.100.4, 192.0.2.7');
});

test('IPv6 trusted range and host with brackets', () => {
  const f = clientFacts('fd00::1', true, { host: '[::1]:8443', 'x-forwarded-for': '2001:db8::5' }, trusted, true);
  assert.equal(f.address, '2001:db8::5');
  assert.equal(f.proto, 'https');
  assert.equal(f.hostname, '[::1]');
});

test('the host is canonical (case, trailing dot, port, IDNA); an invalid one is named, never guessed', () => {
  const none = trustedProxyList([]);
  const f = clientFacts('203.0.113.5', false, { host: 'App.Example.COM.:0443' }, none, false);
  assert.equal(f.host, 'app.example.com:443');
  assert.equal(f.hostname, 'app.example.com');
  assert.equal(f.hostProblem, undefined);
  const bad = clientFacts('203.0.113.5', false, { host: 'user@app.example.com' }, none, false);
  assert.equal(bad.hostname, '');
  assert.match(bad.hostProblem ?? '', /Host header/);
  // A trusted proxy's X-Forwarded-Host is canonicalised the same way; an invalid one is not believed.
  const viaProxy = clientFacts('10.0.0.2', false, { host: 'internal:8080', 'x-forwarded-host': 'APP.example.com.' }, trusted, true);
  assert.equal(viaProxy.hostname, 'app.example.com');
  const invalidForwarded = clientFacts('10.0.0.2', false, { host: 'internal:8080', 'x-forwarded-host': 'a b' }, trusted, true);
  assert.equal(invalidForwarded.host, 'internal:8080');
});
