import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicySource } from '../../../src/policy/load.ts';
import { PolicyError } from '../../../src/policy/policy-error.ts';
import { diffPolicies } from '../../../src/policy/diff.ts';
import { explainRequest, formatExplanation } from '../../../src/policy/explain.ts';
import { runPolicyTestCases } from '../../../src/policy/policy-test.ts';
import { honouredUntil, rememberAllowance, returnRule } from '../../../src/policy/remember-browser-policy.ts';

/**
 * The policy's `remember_browser:` key: shape and compile-time checks (with positions), the
 * narrowing rule (config off wins, days = min), the rule a return_to lands on, the shorter window,
 * weakening detection on reload, and explain.
 */

const DAY = 86_400_000;
const FILE = 'policies/app.yaml';
const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;
const BASE = [
  'version: 1',
  'rules:',
  '  - name: public-page',
  '    paths: ["/pub/**"]',
  '    access: public',
  '  - name: admin-area',
  '    paths: ["/admin/**"]',
  '    access: authenticated',
  '  - name: reports',
  '    paths: ["/reports"]',
  '    query: { kind: csv }',
  '    access: authenticated',
];
const compile = (...lines: string[]) => compilePolicySource(yaml(...BASE, ...lines), FILE);

function issuesOf(...lines: string[]): string {
  try {
    compile(...lines);
  } catch (error) {
    assert.ok(error instanceof PolicyError, String(error));
    return error.message;
  }
  assert.fail('the policy compiled, but an error was expected');
}

describe('remember_browser: shape and compile checks', () => {
  it('compiles: enabled defaults to true, days optional, except_rules deduplicated', () => {
    assert.deepEqual(compile('remember_browser:', '  days: 7').rememberBrowser, { enabled: true, days: 7, exceptRules: [] });
    assert.deepEqual(compile('remember_browser:', '  enabled: false').rememberBrowser, { enabled: false, days: null, exceptRules: [] });
    assert.deepEqual(compile('remember_browser:', '  except_rules: [admin-area, admin-area, default]').rememberBrowser, {
      enabled: true,
      days: null,
      exceptRules: ['admin-area', 'default'],
    });
    assert.equal(compile().rememberBrowser, null, 'absent: as configured');
  });

  it('refuses bad values with the position of the offending value', () => {
    // BASE has 12 lines: the key is on line 13, its first value on 14.
    assert.match(issuesOf('remember_browser:', '  except_rules: [admin-aera]'), /app\.yaml:14:\d+.*remember_browser\.except_rules\[0\] "admin-aera" is not the name of a rule in this policy/s);
    assert.match(issuesOf('remember_browser:', '  days: 0'), /app\.yaml:14:\d+.*must be at least 1/s);
    assert.match(issuesOf('remember_browser:', '  days: 1.5'), /must be a whole number of days/);
    assert.match(issuesOf('remember_browser:', '  days: 366'), /must be at most 365/);
    assert.match(issuesOf('remember_browser:', '  enabled: "no"'), /must be true or false/);
    assert.match(issuesOf('remember_browser:', '  except_rules: []'), /must list at least one rule name/);
    assert.match(issuesOf('remember_browser:', '  dayz: 3'), /dayz/);
  });
});

describe('remember_browser: the policy only narrows the config', () => {
  const on = { enabled: true, days: 30 };
  const off = { enabled: false, days: 30 };
  const spec = (s: Partial<{ enabled: boolean; days: number | null; exceptRules: string[] }>) => ({ enabled: true, days: null, exceptRules: [], ...s });

  it('config off: off whatever the policy says', () => {
    assert.deepEqual(rememberAllowance(off, spec({ enabled: true, days: 7 }), 'x'), { allowed: false, reason: 'config_off' });
    assert.deepEqual(rememberAllowance(off, null, 'x'), { allowed: false, reason: 'config_off' });
  });
  it('days: the shorter wins', () => {
    assert.deepEqual(rememberAllowance(on, spec({ days: 7 }), 'x'), { allowed: true, days: 7 });
    assert.deepEqual(rememberAllowance(on, spec({ days: 90 }), 'x'), { allowed: true, days: 30 });
    assert.deepEqual(rememberAllowance(on, spec({}), 'x'), { allowed: true, days: 30 });
    assert.deepEqual(rememberAllowance(on, null, null), { allowed: true, days: 30 });
  });
  it('policy off, and excepted rules (an undecidable return_to counts as excepted)', () => {
    assert.deepEqual(rememberAllowance(on, spec({ enabled: false }), 'x'), { allowed: false, reason: 'policy_off' });
    assert.deepEqual(rememberAllowance(on, spec({ exceptRules: ['admin-area'] }), 'admin-area'), { allowed: false, reason: 'excepted_rule' });
    assert.deepEqual(rememberAllowance(on, spec({ exceptRules: ['admin-area'] }), null), { allowed: false, reason: 'excepted_rule' });
    assert.deepEqual(rememberAllowance(on, spec({ exceptRules: ['admin-area'] }), 'reports'), { allowed: true, days: 30 });
  });
  it('the shorter window: honoured until the earlier of its own expiry and made + days now', () => {
    const record = { createdAt: 1_000, expiresAt: 1_000 + 30 * DAY };
    assert.equal(honouredUntil(record, 7), 1_000 + 7 * DAY);
    assert.equal(honouredUntil(record, 60), 1_000 + 30 * DAY, 'never longer than when it was made');
  });
  it('the rule a return_to lands on (path, query, default; undecidable → null)', () => {
    const policy = compile('remember_browser:', '  except_rules: [admin-area]');
    assert.equal(returnRule(policy, '/admin/users?page=2', 'app.example.com'), 'admin-area');
    assert.equal(returnRule(policy, '/reports?kind=csv', 'app.example.com'), 'reports');
    assert.equal(returnRule(policy, '/reports?kind=pdf', 'app.example.com'), 'default');
    assert.equal(returnRule(policy, '/reports?kind=csv&kind=pdf', 'app.example.com'), null, 'an ambiguous consulted parameter');
  });
});

describe('remember_browser: reload weakenings', () => {
  const weakened = (before: string[], after: string[]): readonly string[] => diffPolicies(compile(...before), compile(...after)).weakened;

  it('widening is a weakening: enabled again, longer days, an exception removed, the key removed', () => {
    assert.deepEqual(weakened(['remember_browser:', '  enabled: false'], ['remember_browser:', '  enabled: true']), ['remember_browser is enabled again (it was off)']);
    assert.deepEqual(weakened(['remember_browser:', '  days: 7'], ['remember_browser:', '  days: 14']), ['remember_browser.days 7 → 14']);
    assert.deepEqual(weakened(['remember_browser:', '  days: 7'], ['remember_browser:', '  enabled: true']), ["remember_browser.days 7 → the config's days"]);
    assert.deepEqual(weakened(['remember_browser:', '  except_rules: [admin-area, reports]'], ['remember_browser:', '  except_rules: [reports]']), [
      'remember_browser.except_rules no longer lists "admin-area"',
    ]);
    assert.deepEqual(weakened(['remember_browser:', '  enabled: false'], []), ['remember_browser was removed: remembering browsers is as the config allows']);
  });
  it('narrowing is not', () => {
    assert.deepEqual(weakened([], ['remember_browser:', '  enabled: false']), []);
    assert.deepEqual(weakened(['remember_browser:', '  days: 14'], ['remember_browser:', '  days: 7']), []);
    assert.deepEqual(weakened(['remember_browser:', '  enabled: true'], ['remember_browser:', '  enabled: false']), []);
    assert.deepEqual(weakened(['remember_browser:', '  except_rules: [reports]'], ['remember_browser:', '  except_rules: [reports, admin-area]']), []);
  });
});

describe('remember_browser: explain', () => {
  it('says what a sign-in returning to the rule gets', () => {
    const policy = compile('remember_browser:', '  days: 7', '  except_rules: [admin-area]');
    const admin = explainRequest(policy, { method: 'GET', rawPath: '/admin/x', user: { authenticated: true } });
    assert.match(formatExplanation(admin), /remember: +off for rule "admin-area"/);
    const reports = explainRequest(policy, { method: 'GET', rawPath: '/reports?kind=csv', user: { authenticated: true } });
    assert.match(formatExplanation(reports), /remember: +allowed when the config allows it, for at most 7 days/);
    const none = explainRequest(compile(), { method: 'GET', rawPath: '/reports', user: { authenticated: true } });
    assert.doesNotMatch(formatExplanation(none), /remember:/);
  });
});

describe('remember_browser: policy test can assert it', () => {
  it('expect.remember holds for the rule the case lands on', () => {
    const policy = compile('remember_browser:', '  except_rules: [admin-area]');
    const at = () => ({ file: 'tests.yaml', line: 1, column: 1 });
    const cases = [
      { method: 'GET', path: '/admin/x', expect: { decision: 'login_required' as const, remember: false } },
      { method: 'GET', path: '/reports?kind=csv', expect: { decision: 'login_required' as const, remember: true } },
      { method: 'GET', path: '/admin/y', expect: { decision: 'login_required' as const, remember: true } },
    ];
    const results = runPolicyTestCases(policy, cases, at);
    assert.deepEqual(results.map((r) => r.ok), [true, true, false]);
    assert.match(results[2]?.message ?? '', /expected remember true, got false \(remember_browser\)/);
    const off = runPolicyTestCases(compile('remember_browser:', '  enabled: false'), [cases[1]!], at);
    assert.equal(off[0]?.ok, false, 'off: nothing may be remembered');
  });
});
