import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { loadPolicy } from '../../../src/policy/load.ts';
import { PolicyError } from '../../../src/policy/policy-error.ts';
import { formatTestReport, runPolicyTests } from '../../../src/policy/policy-test.ts';

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;
const repoFile = (path: string): string => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

describe('policy test runner', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'policy-tests-'));
    await writeFile(
      join(dir, 'app.yaml'),
      yaml(
        'version: 1',
        'intercept: { login: { paths: ["/login"], methods: [POST] } }',
        'rules:',
        '  - { name: assets, paths: ["/assets/**"], methods: [GET], access: public }',
        '  - name: export',
        '    paths: ["/export/:id"]',
        '    access: authenticated',
        '    sensitive: { category: export, fresh_for: 5m }',
      ),
    );
    await writeFile(join(dir, 'open.yaml'), yaml('version: 1', 'default: { access: public }'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('passes cases that hold', async () => {
    const file = join(dir, 'ok.test.yaml');
    await writeFile(
      file,
      yaml(
        'policy: app.yaml',
        'cases:',
        '  - { name: assets, method: GET, path: /assets/a.css, expect: { rule: assets, decision: pass } }',
        '  - { method: HEAD, path: /ASSETS/a.css, expect: { rule: assets, decision: pass } }',
        '  - { method: POST, path: /login, expect: { decision: intercept_login } }',
        '  - { method: GET, path: //assets/a.css, expect: { decision: reject } }',
        '  - { method: GET, path: /export/7, user: anonymous, expect: { decision: login_required, params: { id: "7" } } }',
        '  - method: GET',
        '    path: /export/7',
        '    user: { two_factor: true, risk: high }',
        '    expect: { rule: export, decision: step_up_required, action: fresh_code }',
        '  - { method: GET, path: /export/7, user: { two_factor: true, risk: high, fresh: true }, expect: { decision: pass } }',
        '  - { method: GET, path: /other, user: authenticated, expect: { rule: default, decision: pass } }',
        '  - { method: MOVE, path: /other, expect: { rule: "builtin:unknown-method", decision: deny } }',
      ),
    );
    const report = await runPolicyTests(file);
    assert.equal(report.failed, 0, formatTestReport(report));
    assert.equal(report.passed, 9);
    assert.equal(report.results[0]?.name, 'assets');
    assert.equal(report.results[1]?.name, 'HEAD /ASSETS/a.css');
    assert.deepEqual(report.results[5]?.location, { file, line: 8, column: 5 });
    assert.equal(report.policy, join(dir, 'app.yaml'));
  });

  it('reports failing cases with their location and what differs', async () => {
    const file = join(dir, 'fail.test.yaml');
    await writeFile(
      file,
      yaml(
        'policy: app.yaml',
        'cases:',
        '  - name: wrong decision',
        '    method: GET',
        '    path: /export/1',
        '    expect: { decision: pass }',
        '  - name: wrong rule',
        '    method: GET',
        '    path: /assets/x',
        '    expect: { rule: export, decision: pass }',
        '  - name: wrong action',
        '    method: GET',
        '    path: /export/1',
        '    user: { two_factor: false }',
        '    expect: { decision: step_up_required, action: fresh_code }',
        '  - name: not rejected',
        '    method: GET',
        '    path: /assets/x',
        '    expect: { decision: reject }',
        '  - name: wrong params',
        '    method: GET',
        '    path: /export/1',
        '    expect: { decision: login_required, params: { id: "2" } }',
        '  - name: right',
        '    method: GET',
        '    path: /assets/x',
        '    expect: { decision: pass }',
      ),
    );
    const report = await runPolicyTests(file);
    assert.equal(report.passed, 1);
    assert.equal(report.failed, 5);
    const byName = new Map(report.results.map((r) => [r.name, r]));
    assert.equal(byName.get('wrong decision')?.message, 'expected decision pass, got login_required by rule "export"');
    assert.deepEqual(byName.get('wrong decision')?.location, { file, line: 3, column: 5 });
    assert.equal(byName.get('wrong decision')?.actual.decision, 'login_required');
    assert.equal(byName.get('wrong decision')?.expected.decision, 'pass');
    assert.equal(byName.get('wrong rule')?.message, 'expected rule "export", got "assets"');
    assert.equal(byName.get('wrong action')?.message, 'expected action fresh_code, got email_code');
    assert.equal(byName.get('not rejected')?.message, 'expected decision reject, got pass by rule "assets"');
    assert.equal(byName.get('wrong params')?.message, 'expected params {"id":"2"}, got {"id":"1"}');
    assert.equal(byName.get('right')?.ok, true);
    const text = formatTestReport(report);
    assert.match(text, new RegExp(`FAIL  wrong decision\\n +${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:5: expected decision pass`));
    assert.match(text, /1 passed, 5 failed/);
  });

  it('the policy can be overridden by path or by a compiled policy', async () => {
    const file = join(dir, 'override.test.yaml');
    await writeFile(file, yaml('policy: app.yaml', 'cases:', '  - { method: GET, path: /other, expect: { decision: pass } }'));
    assert.equal((await runPolicyTests(file)).failed, 1);
    assert.equal((await runPolicyTests(file, { policyPath: join(dir, 'open.yaml') })).failed, 0);
    assert.equal((await runPolicyTests(file, { policy: await loadPolicy(join(dir, 'open.yaml')) })).failed, 0);
  });

  it('refuses an invalid test file with located errors', async () => {
    const file = join(dir, 'bad.test.yaml');
    await writeFile(
      file,
      yaml(
        'policy: app.yaml',
        'cases:',
        '  - method: GET',
        '    path: /x',
        '    user: anon',
        '    expect: { decision: pass, action: email_code }',
        '  - method: get',
        '    path: /x',
        '    expected: { decision: pass }',
      ),
    );
    await assert.rejects(runPolicyTests(file), (error: unknown) => {
      assert.ok(error instanceof PolicyError);
      assert.deepEqual(
        error.issues.map((i) => `${i.line}:${i.column}: ${i.message}`),
        [
          '5:11: cases[0].user must be anonymous, authenticated, or a mapping such as {authenticated: true, two_factor: true, risk: high, fresh: false} (got "anon")',
          '6:39: cases[0].expect.action must only be given with decision: step_up_required',
          '7:5: cases[1].expect is required',
          '7:13: cases[1].method must be an upper-case HTTP method name such as GET (got "get")',
          '9:5: cases[1] has unknown key "expected" (did you mean "expect"?)',
        ],
      );
      return true;
    });
  });

  it('refuses a test file without a policy, and reports a broken policy', async () => {
    const file = join(dir, 'nopolicy.test.yaml');
    await writeFile(file, yaml('cases:', '  - { method: GET, path: /x, expect: { decision: pass } }'));
    await assert.rejects(runPolicyTests(file), /nopolicy\.test\.yaml:1:1: the test file names no policy/);
    await writeFile(join(dir, 'broken.yaml'), yaml('version: 1', 'rules: [{ name: a, paths: ["/a/**/b"], access: public }]'));
    await assert.rejects(runPolicyTests(file, { policyPath: join(dir, 'broken.yaml') }), /broken\.yaml:2:\d+: rules\[0\]\.paths\[0\] may use "\*\*" only as the last segment/);
  });
});

describe('the shipped demo policy', () => {
  it('passes policies/smartpush.test.yaml and the tests cover every rule', async () => {
    const report = await runPolicyTests(repoFile('policies/smartpush.test.yaml'));
    assert.equal(report.failed, 0, formatTestReport(report));
    assert.ok(report.passed >= 30, `only ${report.passed} cases`);
    const policy = await loadPolicy(repoFile('policies/smartpush.yaml'));
    const covered = new Set(report.results.map((r) => r.actual.rule));
    for (const rule of [...policy.rules, policy.defaultRule, policy.unknownMethodRule]) {
      assert.ok(covered.has(rule.name), `no test case reaches rule ${rule.name}`);
    }
    const decisions = new Set(report.results.map((r) => r.actual.decision));
    for (const d of ['pass', 'login_required', 'deny', 'reject', 'intercept_login', 'intercept_logout', 'step_up_required'] as const) {
      assert.ok(decisions.has(d), `no test case decides ${d}`);
    }
  });

  it('is what the design describes', async () => {
    const policy = await loadPolicy(repoFile('policies/smartpush.yaml'));
    assert.deepEqual(
      policy.rules.map((r) => r.name),
      ['intercept:login', 'intercept:logout', 'static-assets', 'password-reset', 'campaign-export', 'contact-export'],
    );
    assert.equal(policy.defaultRule.access, 'authenticated');
    for (const name of ['campaign-export', 'contact-export']) {
      const rule = policy.rules.find((r) => r.name === name);
      const { description, ...sensitive } = rule?.sensitive ?? {};
      assert.deepEqual(sensitive, {
        category: name,
        freshForMs: 600_000,
        withoutTwoFactor: { low: 'email_code', medium: 'email_code', high: 'email_code' },
        withTwoFactor: { low: 'pass', medium: 'pass', high: 'fresh_code' },
        nudgeEnableTwoFactor: true,
      });
      // The step-up page says what the operation is, in both languages (issue 12: no more one text for every route).
      assert.match(typeof description === 'object' ? String(description.en) : '', /^This operation exports your data/);
      assert.ok(typeof description === 'object' && description['zh-cn']?.startsWith('此操作会导出您的数据'));
      assert.deepEqual(rule?.methods, new Set(['GET', 'POST']));
    }
    // the demo's debug helpers stay behind a session in the demo policy
    for (const path of ['/debug/request', '/api/headers', '/api/slow']) {
      assert.equal(policy.match('GET', path).rule.name, 'default', path);
    }
  });
});
