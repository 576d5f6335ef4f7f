import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide } from '../../../src/policy/decide.ts';
import { diffPolicies } from '../../../src/policy/diff.ts';
import { compilePolicySource } from '../../../src/policy/load.ts';

const source = (high: string): string =>
  [
    'version: 1',
    'rules:',
    '  - name: admin-users',
    '    paths: ["/admin/**"]',
    '    access: authenticated',
    '    sensitive:',
    '      category: admin',
    '      fresh_for: 10m',
    `      with_2fa: { low: pass, medium: fresh_code, high: ${high} }`,
    '',
  ].join('\n');

const policy = compilePolicySource(source('phishing_resistant'), 'policies/p.yaml');
const match = policy.match('GET', '/admin/users');

describe('decide: with_2fa phishing_resistant', () => {
  it('asks for a passkey step-up when none is fresh, even when a code step-up is', () => {
    assert.deepEqual(decide(match, { authenticated: true, twoFactorEnabled: true, risk: 'high' }).decision, { kind: 'step_up_required', action: 'phishing_resistant' });
    assert.deepEqual(decide(match, { authenticated: true, twoFactorEnabled: true, risk: 'high', fresh: true, freshPhishingResistant: false }).decision, {
      kind: 'step_up_required',
      action: 'phishing_resistant',
    });
  });
  it('passes when a passkey verification is fresh; other levels keep their actions', () => {
    assert.deepEqual(decide(match, { authenticated: true, twoFactorEnabled: true, risk: 'high', fresh: true, freshPhishingResistant: true }).decision, { kind: 'pass' });
    assert.deepEqual(decide(match, { authenticated: true, twoFactorEnabled: true, risk: 'medium' }).decision, { kind: 'step_up_required', action: 'fresh_code' });
  });
  it('is not possible without 2FA, and replacing it by fresh_code counts as a weakening', () => {
    assert.throws(() => compilePolicySource(source('pass').replace('with_2fa', 'without_2fa').replace('fresh_code', 'email_code').replace('pass }', 'phishing_resistant }'), 'policies/p.yaml'));
    const weaker = compilePolicySource(source('fresh_code'), 'policies/p.yaml');
    assert.ok(diffPolicies(policy, weaker).weakened.length > 0);
  });
});
