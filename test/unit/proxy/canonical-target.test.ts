import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicaliseTarget } from '../../../src/proxy/canonical-target.ts';

const opts = { pathParameters: 'reject', host: 'app.example.com' } as const;
const ok = (raw: string): string => {
  const r = canonicaliseTarget(raw, opts);
  assert.ok(r.ok, `${raw} should be accepted, got ${r.ok ? '' : r.reason}`);
  return r.target.forwarded;
};
const rejected = (raw: string, reason: RegExp): void => {
  const r = canonicaliseTarget(raw, opts);
  assert.equal(r.ok, false, `${raw} should be refused`);
  if (!r.ok) assert.match(r.reason, reason);
};

test('plain paths and queries pass unchanged', () => {
  assert.equal(ok('/'), '/');
  assert.equal(ok('/api/contacts/export'), '/api/contacts/export');
  assert.equal(ok('/api/contacts/export?rows=10&x=/y?z'), '/api/contacts/export?rows=10&x=/y?z');
  assert.equal(ok('/x/'), '/x/');
});

test('dot segments are resolved, including encoded ones', () => {
  assert.equal(ok('/./api/me'), '/api/me');
  assert.equal(ok('/static/../api/me'), '/api/me');
  assert.equal(ok('/static/%2e%2e/api/me'), '/api/me');
  assert.equal(ok('/static/%2E./api/me'), '/api/me');
  assert.equal(ok('/a/b/..'), '/a/');
  assert.equal(ok('/a/.'), '/a/');
});

test('climbing above the root is refused, not clamped', () => {
  rejected('/..', /above the root/);
  rejected('/../api/me', /above the root/);
  rejected('/%2e%2e/api/me', /above the root/);
});

test('unreserved escapes are decoded and the rest upper-cased', () => {
  assert.equal(ok('/%61pi/me'), '/api/me');
  assert.equal(ok('/a%7e%2D'), '/a~-');
  assert.equal(ok('/caf%c3%a9'), '/caf%C3%A9');
  assert.equal(ok('/a%20b'), '/a%20b');
});

test('ambiguous paths are refused with a reason', () => {
  rejected('//api/contacts/export', /empty path segment/);
  rejected('/api//contacts', /empty path segment/);
  rejected('/api/%2fcontacts', /encoded slash/);
  rejected('/api%2Fcontacts', /encoded slash/);
  rejected('/api%5ccontacts', /encoded slash or backslash/);
  rejected('/api\\contacts', /backslash/);
  rejected('/api/me%00', /control character/);
  rejected('/api/me%0a', /control character/);
  rejected('/api;jsessionid=1/me', /path parameters/);
  rejected('/%C0%AE%C0%AE/api', /not valid UTF-8/);
  rejected('/%E0%80%AF', /not valid UTF-8/);
  rejected('/%ff', /not valid UTF-8/);
  rejected('/api/me%', /malformed/);
  rejected('/api/me%4', /malformed/);
  rejected('/api/me%zz', /malformed/);
  rejected('/api/me.', /dot or space/);
  rejected('/api/me%20', /dot or space/);
  rejected('/api/me#frag', /fragment/);
  rejected('*', /asterisk/);
  rejected('', /empty/);
  rejected('api/me', /absolute path/);
  rejected('/a b', /percent-encoded/);
  rejected('/a\tb', /percent-encoded/);
  rejected('/é', /percent-encoded/);
  rejected('/x?a=\u0001', /query/);
});

test('path parameters can be allowed by the policy', () => {
  const r = canonicaliseTarget('/a;b', { pathParameters: 'allow' });
  assert.ok(r.ok);
  assert.equal(r.target.path, '/a;b');
});

test('absolute-form is accepted only for our own host', () => {
  assert.equal(ok('http://app.example.com/api/me?x=1'), '/api/me?x=1');
  assert.equal(ok('http://APP.example.com:8080/api/me'), '/api/me');
  assert.equal(ok('https://app.example.com'), '/');
  rejected('http://evil.example/api/me', /another host/);
  rejected('http://user@app.example.com/api/me', /userinfo/);
  rejected('ftp://app.example.com/x', /absolute path/);
  const noHost = canonicaliseTarget('http://app.example.com/x', { pathParameters: 'reject' });
  assert.equal(noHost.ok, false);
});

test('an empty query is dropped so the forwarded target has one spelling', () => {
  assert.equal(ok('/api/me?'), '/api/me');
  const r = canonicaliseTarget('/api/me?a=1', opts);
  assert.ok(r.ok);
  assert.equal(r.target.query, 'a=1');
  assert.equal(r.target.path, '/api/me');
});
