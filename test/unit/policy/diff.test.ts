import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffPolicies } from '../../../src/policy/diff.ts';
import { compilePolicySource } from '../../../src/policy/load.ts';

const BASE = `version: 1
default: { access: authenticated }
rules:
  - name: static
    paths: ["/static/**"]
    access: public
  - name: export
    paths: ["/api/export", "/api/export.csv"]
    hosts: ["app.example.com", "shop.example.com"]
    access: authenticated
    sensitive:
      category: export
      fresh_for: 10m
      without_2fa: { low: email_code, medium: email_code, high: deny }
      with_2fa: { low: pass, medium: pass, high: fresh_code }
`;
const policy = (text: string) => compilePolicySource(text, 'p.yaml');

test('an unchanged policy has an empty diff', () => {
  assert.deepEqual(diffPolicies(policy(BASE), policy(BASE)), { added: [], removed: [], changed: [], weakened: [] });
});

test('added, removed and changed rules are listed; strengthening is not a weakening', () => {
  const next = BASE.replace('  - name: static\n    paths: ["/static/**"]\n    access: public\n', '').replace('high: deny', 'high: deny') + '  - name: later\n    paths: ["/later"]\n    access: deny\n';
  const diff = diffPolicies(policy(BASE), policy(next.replace('fresh_for: 10m', 'fresh_for: 5m')));
  assert.deepEqual(diff.added, ['later']);
  assert.deepEqual(diff.removed, ['static']);
  assert.deepEqual(diff.changed, ['export']);
  assert.deepEqual(diff.weakened, []);
});

test('each way of weakening a sensitive rule is named', () => {
  const next = policy(
    BASE.replace('paths: ["/api/export", "/api/export.csv"]', 'paths: ["/api/export"]')
      .replace('hosts: ["app.example.com", "shop.example.com"]', 'hosts: ["app.example.com"]')
      .replace('fresh_for: 10m', 'fresh_for: 1h')
      .replace('high: deny', 'high: email_code')
      .replace('default: { access: authenticated }', 'default: { access: public }')
      .replace('rules:\n', 'rules:\n  - name: api-open\n    paths: ["/api/**"]\n    access: public\n'),
  );
  assert.deepEqual(diffPolicies(policy(BASE), next).weakened, [
    'sensitive rule "export": no longer covers /api/export.csv',
    'sensitive rule "export": no longer covers hosts shop.example.com',
    'sensitive rule "export": a verification stays fresh 3600s instead of 600s',
    'sensitive rule "export": without_2fa.high deny → email_code',
    'sensitive rule "export": now comes after "api-open", which may match its requests first',
    'default access authenticated → public',
  ]);
});
