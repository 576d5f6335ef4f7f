import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicySource } from '../../../src/policy/load.ts';
import { PolicyError } from '../../../src/policy/policy-error.ts';
import { decide } from '../../../src/policy/decide.ts';
import { explainRequest, formatExplanation } from '../../../src/policy/explain.ts';
import { runPolicyTests } from '../../../src/policy/policy-test.ts';
import { graceStatus, NO_GRACE, type GraceSpec } from '../../../src/policy/require-two-factor.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { provenByIdentity, refuseSameChannel } from '../../../src/flows/same-channel.ts';
import { FlowError } from '../../../src/flows/flow-error.ts';
import { rolesOf } from '../../../src/directory/values.ts';
import { diffPolicies } from '../../../src/policy/diff.ts';
import { ProfileDirectory, HtmlDirectory } from '../../../src/directory/page.ts';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * require_2fa (issue 17): the grace computation on an injected clock (deadline, skips, days), the
 * policy's shape and compile-time checks, the one decision (with explain and policy test), and
 * the same-channel rule's predicate.
 */

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-02T09:00:00Z');
const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;
const FILE = 'policies/app.yaml';

const BASE = [
  'version: 1',
  'rules:',
  '  - name: public-page',
  '    paths: ["/pub/**"]',
  '    access: public',
  '  - name: reports',
  '    paths: ["/reports/**"]',
  '    access: authenticated',
  '  - name: dashboard',
  '    paths: ["/dashboard"]',
  '    access: authenticated',
];

const compile = (...requireLines: string[]) => compilePolicySource(yaml(...BASE, ...requireLines), FILE);

function issuesOf(...requireLines: string[]): string {
  try {
    compile(...requireLines);
  } catch (error) {
    assert.ok(error instanceof PolicyError, String(error));
    return error.message;
  }
  assert.fail('the policy compiled, but an error was expected');
}

describe('require_2fa: the grace period on an injected clock', () => {
  const grace = (g: Partial<GraceSpec>): GraceSpec => ({ untilMs: null, skips: null, days: null, ...g });

  it('no grace: closed at once', () => {
    assert.deepEqual(graceStatus(NO_GRACE, null, T0), { open: false, reason: 'no_grace' });
    assert.deepEqual(graceStatus(grace({}), null, T0), { open: false, reason: 'no_grace' });
  });

  it('skips: open while fewer than the limit were used; the count left is shown', () => {
    const g = grace({ skips: 3 });
    assert.deepEqual(graceStatus(g, null, T0), { open: true, skipsLeft: 3, daysLeft: null, endsAt: null });
    assert.deepEqual(graceStatus(g, { firstPromptAt: T0, skips: 2 }, T0), { open: true, skipsLeft: 1, daysLeft: null, endsAt: null });
    assert.deepEqual(graceStatus(g, { firstPromptAt: T0, skips: 3 }, T0), { open: false, reason: 'skips' });
    assert.deepEqual(graceStatus(grace({ skips: 0, days: 10 }), null, T0), { open: false, reason: 'skips' }, 'skips: 0 with days: no "Not now" at all');
  });

  it('days: counted from the first prompt, rounded up; over at exactly the end', () => {
    const clock = new ManualClock(T0);
    const g = grace({ days: 14 });
    const record = { firstPromptAt: T0, skips: 5 };
    assert.deepEqual(graceStatus(g, null, clock.now()), { open: true, skipsLeft: null, daysLeft: 14, endsAt: T0 + 14 * DAY }, 'never prompted: starts now');
    clock.advance(DAY + 1);
    assert.equal((graceStatus(g, record, clock.now()) as { daysLeft: number }).daysLeft, 13);
    clock.set(T0 + 14 * DAY - 1);
    assert.equal((graceStatus(g, record, clock.now()) as { daysLeft: number }).daysLeft, 1);
    clock.set(T0 + 14 * DAY);
    assert.deepEqual(graceStatus(g, record, clock.now()), { open: false, reason: 'days' });
  });

  it('deadline: over from the deadline on, whatever the skips and days', () => {
    const until = Date.parse('2026-07-01T00:00:00Z');
    const g = grace({ untilMs: until, skips: 10, days: 365 });
    assert.deepEqual(graceStatus(g, { firstPromptAt: T0, skips: 0 }, until - 1), { open: true, skipsLeft: 10, daysLeft: 1, endsAt: until });
    assert.deepEqual(graceStatus(g, { firstPromptAt: T0, skips: 0 }, until), { open: false, reason: 'deadline' });
  });

  it('several limits: over as soon as ANY is reached; the earliest end is shown', () => {
    const g = grace({ untilMs: T0 + 30 * DAY, skips: 2, days: 7 });
    const open = graceStatus(g, { firstPromptAt: T0, skips: 1 }, T0 + DAY);
    assert.deepEqual(open, { open: true, skipsLeft: 1, daysLeft: 6, endsAt: T0 + 7 * DAY });
    assert.deepEqual(graceStatus(g, { firstPromptAt: T0, skips: 2 }, T0 + DAY), { open: false, reason: 'skips' });
    assert.deepEqual(graceStatus(g, { firstPromptAt: T0, skips: 0 }, T0 + 7 * DAY), { open: false, reason: 'days' });
  });
});

describe('require_2fa: the policy document', () => {
  it('compiles for: all over every authenticated rule (and the default), not public ones', () => {
    const policy = compile('default:', '  access: authenticated', 'require_2fa:', '  for: all', '  grace: { skips: 3, days: 14, until: 2026-12-31 }');
    assert.equal(policy.rules.find((r) => r.name === 'reports')?.requireTwoFactor, true);
    assert.equal(policy.rules.find((r) => r.name === 'public-page')?.requireTwoFactor, undefined);
    assert.equal(policy.defaultRule.requireTwoFactor, true);
    assert.deepEqual(policy.requireTwoFactor?.grace, { untilMs: Date.parse('2026-12-31T00:00:00Z'), skips: 3, days: 14 });
    assert.equal(policy.requireTwoFactor?.all, true);
    assert.equal(policy.requireTwoFactor?.roles, null);
  });

  it('compiles a list of rules and lower-cased roles', () => {
    const policy = compile('require_2fa:', '  for: [reports]', '  roles: [Admin, finance]');
    assert.equal(policy.rules.find((r) => r.name === 'reports')?.requireTwoFactor, true);
    assert.equal(policy.rules.find((r) => r.name === 'dashboard')?.requireTwoFactor, undefined);
    assert.deepEqual(policy.requireTwoFactor?.roles, ['admin', 'finance']);
    assert.deepEqual(policy.requireTwoFactor?.grace, NO_GRACE);
  });

  it('refuses a misspelt or public rule, an empty grace, a bad date and unknown keys, each with a clear message', () => {
    assert.match(issuesOf('require_2fa:', '  for: [report]'), /require_2fa\.for\[0\] "report" is not the name of a rule in this policy/);
    assert.match(issuesOf('require_2fa:', '  for: [public-page]'), /"public-page" has access: public; only rules with access: authenticated can require 2FA/);
    assert.match(issuesOf('require_2fa:', '  for: all', '  grace: {}'), /must give at least one of until, skips, days/);
    assert.match(issuesOf('require_2fa:', '  for: all', '  grace: { until: next-week }'), /must be a date \(2026-12-31/);
    assert.match(issuesOf('require_2fa:', '  for: all', '  grace: { skips: -1 }'), /must be 0 or more/);
    assert.match(issuesOf('require_2fa:', '  for: everything'), /must be all, or a list of rule names/);
    assert.match(issuesOf('require_2fa:', '  for: all', '  grace: { skip: 2 }'), /unknown key "skip"/);
  });
});

describe('require_2fa: the decision', () => {
  const policy = compile('require_2fa:', '  for: [reports]', '  grace: { skips: 2 }');
  const reports = policy.match('GET', '/reports/x');
  const dashboard = policy.match('GET', '/dashboard');

  it('a covered rule: prompt → two_factor_required with grace; over (or unknown) → without; skipped/exempt/2FA on → pass', () => {
    assert.deepEqual(decide(reports, { authenticated: true, twoFactorEnabled: false, twoFactorGrace: 'prompt' }).decision, { kind: 'two_factor_required', grace: true });
    assert.deepEqual(decide(reports, { authenticated: true, twoFactorEnabled: false, twoFactorGrace: 'over' }).decision, { kind: 'two_factor_required', grace: false });
    assert.deepEqual(decide(reports, { authenticated: true, twoFactorEnabled: false }).decision, { kind: 'two_factor_required', grace: false }, 'fail closed');
    assert.deepEqual(decide(reports, { authenticated: true, twoFactorEnabled: false, twoFactorGrace: 'skipped' }).decision, { kind: 'pass' });
    assert.deepEqual(decide(reports, { authenticated: true, twoFactorEnabled: false, twoFactorGrace: 'exempt' }).decision, { kind: 'pass' });
    assert.deepEqual(decide(reports, { authenticated: true, twoFactorEnabled: true }).decision, { kind: 'pass' });
    assert.deepEqual(decide(reports, { authenticated: false }).decision, { kind: 'login_required' }, 'sign-in first');
    assert.deepEqual(decide(dashboard, { authenticated: true, twoFactorEnabled: false }).decision, { kind: 'pass' }, 'not covered');
  });

  it('policy explain shows the mandate and the reason', () => {
    const result = explainRequest(policy, { method: 'GET', rawPath: '/reports/x', user: { authenticated: true, twoFactorEnabled: false, twoFactorGrace: 'over' } });
    const text = formatExplanation(result, { authenticated: true, twoFactorEnabled: false, twoFactorGrace: 'over' });
    assert.match(text, /decision: +two_factor_required \(no grace left\)/);
    assert.match(text, /require_2fa: +2FA required for rules reports, every account; grace period: 2 "Not now" skips/);
    assert.match(text, /grace period over → 2FA required/);
  });

  it('policy test cases can expect two_factor_required (with or without grace)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spg-req2fa-'));
    const file = join(dir, 'cases.yaml');
    await writeFile(
      file,
      yaml(
        'cases:',
        '  - request: GET /reports/x',
        '    user: { two_factor: false, grace: prompt }',
        '    expect: { decision: two_factor_required, grace: true, rule: reports }',
        '  - request: GET /reports/x',
        '    user: { two_factor: false }',
        '    expect: { decision: two_factor_required, grace: false }',
        '  - request: GET /reports/x',
        '    user: { two_factor: true }',
        '    expect: { decision: pass }',
      ),
    );
    const report = await runPolicyTests(file, { policy });
    assert.equal(report.failed, 0, JSON.stringify(report.results.filter((r) => !r.ok).map((r) => r.message)));
    assert.equal(report.passed, 3);
  });
});

describe('the same-channel rule (Kratos #4317)', () => {
  const email = { channel: 'email' as const, destination: 'Mia@example.com' };
  it('the destination that proved identity cannot be enrolled as the second step; another one, another channel or TOTP can', () => {
    assert.equal(provenByIdentity(email, 'email', 'mia@example.com'), true, 'case-insensitive address');
    assert.equal(provenByIdentity(email, 'email', null), true, 'unknown destination counts as the same');
    assert.equal(provenByIdentity(email, 'sms', '+15555550189'), false);
    assert.equal(provenByIdentity(email, 'totp', null), false);
    assert.equal(provenByIdentity({ channel: 'sms', destination: '+15555550189' }, 'sms', '+15555550189'), true);
    assert.equal(provenByIdentity({ channel: 'sms', destination: '+15555550189' }, 'sms', '+12025550142'), false);
    assert.equal(provenByIdentity(null, 'email', 'mia@example.com'), false, 'no identity proof yet');
    assert.throws(() => refuseSameChannel(email, 'email', 'mia@example.com'), (e: unknown) => e instanceof FlowError && e.code === 'same_channel' && e.status === 400);
  });
});

describe('directory roles', () => {
  it('a list or a separated string, lower-cased and trimmed; anything else is no role', () => {
    assert.deepEqual(rolesOf(['Admin', ' finance ', '', 3]), ['admin', 'finance']);
    assert.deepEqual(rolesOf('Finance, Admin;ops\nstaff'), ['finance', 'admin', 'ops', 'staff']);
    assert.deepEqual(rolesOf(null), []);
    assert.deepEqual(rolesOf({ admin: true }), []);
  });
});

describe('require_2fa: a reload that weakens it is reported (and held, like sensitive rules)', () => {
  const strict = compile('require_2fa:', '  for: all', '  grace: { skips: 2 }');
  it('removing it, uncovering a rule, narrowing to roles, lengthening the grace period', () => {
    assert.deepEqual(diffPolicies(strict, compile()).weakened, ['require_2fa was removed: 2FA is no longer required']);
    assert.deepEqual(diffPolicies(strict, compile('require_2fa:', '  for: [reports]', '  grace: { skips: 2 }')).weakened, ['require_2fa no longer covers "dashboard"', 'require_2fa no longer covers the default']);
    assert.deepEqual(diffPolicies(strict, compile('require_2fa:', '  for: all', '  roles: [admin]', '  grace: { skips: 2 }')).weakened, ['require_2fa now covers only roles admin']);
    assert.deepEqual(diffPolicies(strict, compile('require_2fa:', '  for: all', '  grace: { skips: 5 }')).weakened, ['require_2fa grace.skips is larger or removed']);
    assert.deepEqual(diffPolicies(compile('require_2fa:', '  for: all'), strict).weakened, ['require_2fa now has a grace period (it had none)']);
    assert.deepEqual(diffPolicies(strict, compile('require_2fa:', '  for: all', '  grace: { skips: 1 }')).weakened, [], 'a shorter grace period is stronger');
    assert.deepEqual(diffPolicies(compile(), strict).weakened, [], 'adding the mandate is stronger');
  });
});

describe('directory roles from the profile and html kinds', () => {
  const fetcher = (body: string) => ({ fetchWithSession: async () => ({ status: 200, body: Buffer.from(body) }) });
  const cookies = { upstreamCookies: { sp_session: 'x' } };
  it('profile: roles_field (a list or a string); without it the directory gives no roles', async () => {
    const json = JSON.stringify({ email: 'mia@example.com', user: { groups: ['Admin', 'Finance'] } });
    const withRoles = new ProfileDirectory(fetcher(json), { path: '/api/me', emailField: 'email', rolesField: 'user.groups' }, (s) => s);
    assert.equal(withRoles.providesRoles, true);
    assert.deepEqual(await withRoles.lookup('mia@example.com', cookies), { ok: true, entry: { email: 'mia@example.com', phone: null, roles: ['admin', 'finance'] } });
    const without = new ProfileDirectory(fetcher(json), { path: '/api/me', emailField: 'email' }, (s) => s);
    assert.equal(without.providesRoles, false);
    assert.deepEqual(await without.lookup('mia@example.com', cookies), { ok: true, entry: { email: 'mia@example.com', phone: null } });
    const missing = new ProfileDirectory(fetcher(JSON.stringify({ email: 'mia@example.com' })), { path: '/api/me', emailField: 'email', rolesField: 'roles' }, (s) => s);
    assert.deepEqual(await missing.lookup('mia@example.com', cookies), { ok: true, entry: { email: 'mia@example.com', phone: null, roles: [] } }, 'no roles held: none');
  });
  it('html: a roles extract, comma-separated', async () => {
    const page = '<p class="email">mia@example.com</p><p class="groups">Staff, Admin</p>';
    const dir = new HtmlDirectory(fetcher(page), { path: '/account', email: { selector: '.email' }, roles: { selector: '.groups' } }, (s) => s);
    assert.equal(dir.providesRoles, true);
    assert.deepEqual(await dir.lookup('mia@example.com', cookies), { ok: true, entry: { email: 'mia@example.com', phone: null, roles: ['staff', 'admin'] } });
  });
});
