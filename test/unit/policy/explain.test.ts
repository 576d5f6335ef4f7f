import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explainRequest, formatExplanation, normaliseHost } from '../../../src/policy/explain.ts';
import { compilePolicySource } from '../../../src/policy/load.ts';

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

const policy = compilePolicySource(
  yaml(
    'version: 1',
    'rules:',
    '  - { name: static, paths: ["/static/**"], methods: [GET], access: public }',
    '  - name: export',
    '    paths: ["/api/:kind/export"]',
    '    hosts: ["app.example.com"]',
    '    access: authenticated',
    '    sensitive: { category: export, fresh_for: 10m }',
  ),
  'p.yaml',
);
const anon = { authenticated: false };

describe('explainRequest', () => {
  const rejected: [string, RegExp][] = [
    ['//api/contacts/export', /empty path segment/],
    ['/api/contacts%2fexport', /encoded slash/],
    ['/api/contacts%5Cexport', /encoded slash or backslash/],
    ['/static\\..\\api/x/export', /backslash/],
    ['/../api/x/export', /climbs above the root/],
    ['/api/x/export;.css', /path parameters/],
    ['/api/x/export%00', /control character/],
    ['/api/x/%C0%AEexport', /not valid UTF-8/],
    ['/api/x/export.', /ends with a dot/],
    ['http://evil.example/api/x/export', /another host/],
    ['api/x/export', /absolute path/],
  ];
  for (const [rawPath, reason] of rejected) {
    it(`rejects ${rawPath} before any rule`, () => {
      const result = explainRequest(policy, { method: 'GET', rawPath, host: 'app.example.com', user: anon });
      assert.ok(result.rejected !== null, `expected a rejection, got rule ${'rule' in result ? result.rule.name : ''}`);
      assert.match(result.rejected, reason);
      assert.match(formatExplanation(result), /rejected with 400 before any rule is consulted/);
    });
  }

  it('decides on the canonical path', () => {
    const result = explainRequest(policy, {
      method: 'GET',
      rawPath: '/static/%2e%2e/API/Contacts/export/?x=1',
      host: 'App.Example.com:8080',
      user: anon,
    });
    assert.equal(result.rejected, null);
    if (result.rejected !== null) return;
    assert.equal(result.path, '/API/Contacts/export/');
    assert.equal(result.host, 'app.example.com');
    assert.equal(result.rule.name, 'export');
    assert.deepEqual(result.params, { kind: 'Contacts' });
    assert.deepEqual(result.decision, { kind: 'login_required' });
    const text = formatExplanation(result);
    assert.match(text, /canonical path: \/API\/Contacts\/export\//);
    assert.match(text, /rule: +export \(p\.yaml:4:5\)/);
    assert.match(text, /params: +kind=Contacts/);
    assert.match(text, /decision: +login_required/);
    assert.match(text, /- rule requires an authenticated session; none present/);
  });

  it('accepts absolute-form for its own host only', () => {
    const own = explainRequest(policy, { method: 'GET', rawPath: 'http://app.example.com/api/x/export', host: 'app.example.com', user: anon });
    assert.equal(own.rejected, null);
    assert.equal(own.rejected === null ? own.rule.name : '', 'export');
  });

  it('says when HEAD is decided as GET', () => {
    const result = explainRequest(policy, {
      method: 'HEAD',
      rawPath: '/api/x/export',
      host: 'app.example.com',
      user: { authenticated: true, twoFactorEnabled: true, risk: 'low' },
    });
    assert.equal(result.rejected, null);
    if (result.rejected !== null) return;
    assert.equal(result.decidedAs, 'GET');
    assert.equal(result.reasons[0], 'HEAD is decided as GET');
    assert.deepEqual(result.decision, { kind: 'pass' });
    assert.match(formatExplanation(result, { authenticated: true }), /user: +authenticated, 2FA off, risk not assessed/);
  });

  it('uses the host for host-bound rules', () => {
    const other = explainRequest(policy, { method: 'GET', rawPath: '/api/x/export', host: 'other.example.com', user: anon });
    assert.equal(other.rejected === null ? other.rule.name : 'rejected', 'default');
  });

  it('path_parameters: allow lets ";" through', () => {
    const lenient = compilePolicySource(yaml('version: 1', 'settings: { path_parameters: allow }', 'default: { access: public }'), 'l.yaml');
    const result = explainRequest(lenient, { method: 'GET', rawPath: '/a;b', user: anon });
    assert.equal(result.rejected, null);
  });

  it('normaliseHost drops case and port', () => {
    assert.equal(normaliseHost('App.Example.COM:8443'), 'app.example.com');
    assert.equal(normaliseHost('[::1]:8080'), '[::1]');
    assert.equal(normaliseHost('localhost'), 'localhost');
  });
});
