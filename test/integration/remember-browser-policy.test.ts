import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../src/core/clock.ts';
import { pageWithCsrf, postForm } from '../helpers/step-up.ts';
import { enrollDirectly, factorsConfig, GENEROUS_BUDGETS, expectStatus, GuardClient, lastCode, MERCHANT, startClockedStack, type ClockedStack } from '../helpers/two-factor.ts';

/**
 * The policy's `remember_browser:` over "Remember this browser" (config 30 days): off → no
 * checkbox, `remember: true` ignored, an existing remembered browser asked for a code (and honoured
 * again, untouched, when the policy allows it); days shortened → new records get the shorter days
 * and older ones are honoured only within them; an excepted rule as return_to → no checkbox and no
 * skip; a widening reload is held when it comes from the watcher.
 */

const DAY = 86_400_000;
const DEMO_POLICY = readFileSync(join(process.cwd(), 'policies', 'smartpush.yaml'), 'utf8');
const withRemember = (...lines: string[]): string => (lines.length === 0 ? DEMO_POLICY : `${DEMO_POLICY.trimEnd()}\nremember_browser:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
const rbCookie = (client: GuardClient): string | undefined => client.cookies.get('spg_rb');

describe('remember this browser: narrowed by the policy (remember_browser)', () => {
  let s: ClockedStack;
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 9));
  before(async () => {
    s = await startClockedStack({ config: { factors: factorsConfig({ send_budget: GENEROUS_BUDGETS }).factors }, policy: withRemember() }, clock);
  });
  after(() => s.stack.close());

  /** Writes the policy file and reloads it explicitly (the confirmation a held reload needs). */
  const setPolicy = async (...lines: string[]): Promise<void> => {
    writeFileSync(s.stack.policyFile, withRemember(...lines));
    const result = await s.stack.guard.policy.reload();
    assert.equal(result.ok, true, 'the policy reloaded');
  };
  const freshEnrollment = async (): Promise<void> => {
    await s.stack.guard.durable.disable(MERCHANT);
    await enrollDirectly(s.stack, MERCHANT, 'email', MERCHANT, s.clock.now());
  };
  /** Password, then the code with `remember` over the JSON API; the verify reply's Set-Cookie headers. */
  const signInWithCode = async (client: GuardClient, remember: boolean): Promise<readonly string[]> => {
    s.clock.advance(61_000);
    const login = expectStatus(await client.login(MERCHANT), 200, 'login');
    assert.equal(login.body['status'], 'verification_required', 'the code is asked');
    const reply = expectStatus(await client.post('/_guard/api/login/verify', { code: lastCode(s.stack.outboxFile, MERCHANT), remember }), 200, 'verify');
    return reply.setCookies;
  };
  const again = async (client: GuardClient): Promise<string> => {
    s.clock.advance(61_000);
    expectStatus(await client.logout(), 200, 'logout');
    return String(expectStatus(await client.login(MERCHANT), 200, 'login again').body['status']);
  };
  /** The HTML sign-in returning to `returnTo`; the code page's text and form token. */
  const htmlSignIn = async (client: GuardClient, returnTo: string): Promise<{ text: string; csrf: string; status: number }> => {
    s.clock.advance(61_000);
    const token = (await pageWithCsrf(client, `/_guard/login?return_to=${encodeURIComponent(returnTo)}`)).csrf;
    const login = await postForm(client, '/_guard/login', { _csrf: token, email: MERCHANT, password: 'smartpush-demo', return_to: returnTo });
    assert.equal(login.status, 303);
    const location = login.headers['location'] ?? '';
    if (!String(location).startsWith('/_guard/verify')) return { text: '', csrf: '', status: 0 };
    const { page, csrf } = await pageWithCsrf(client, String(location));
    return { text: page.text, csrf, status: 1 };
  };

  test('enabled: false → no checkbox, remember:true ignored, an existing remembered browser asked for a code; kept and honoured again when re-enabled', async () => {
    await setPolicy();
    await freshEnrollment();
    const client = new GuardClient(s.stack.url);
    await signInWithCode(client, true);
    const cookie = rbCookie(client);
    assert.ok(cookie, 'remembered while the policy allows it');
    await setPolicy('enabled: false');
    assert.equal(await again(client), 'verification_required', 'not honoured while the policy is off');
    assert.equal(rbCookie(client), cookie, 'the cookie is left alone');
    expectStatus(await client.post('/_guard/api/login/verify', { code: lastCode(s.stack.outboxFile, MERCHANT), remember: true }), 200, 'verify with remember:true');
    assert.equal(rbCookie(client), cookie, 'remember:true was ignored: no new record, no new cookie');
    const list = expectStatus(await client.get('/_guard/api/remembered-browsers'), 200, 'list');
    assert.equal((list.body['browsers'] as unknown[]).length, 1, 'the existing record is not deleted');
    expectStatus(await client.logout(), 200, 'logout');
    const page = await htmlSignIn(new GuardClient(s.stack.url), '/');
    assert.equal(page.status, 1);
    assert.doesNotMatch(page.text, /name="remember"/, 'no checkbox');
    await setPolicy('enabled: true');
    s.clock.advance(61_000);
    assert.equal(String(expectStatus(await client.login(MERCHANT), 200, 'login').body['status']), 'authenticated', 'honoured again');
  });

  test('days shortened: new records get the shorter days; older ones are honoured only within them', async () => {
    await setPolicy();
    await freshEnrollment();
    const old = new GuardClient(s.stack.url);
    await signInWithCode(old, true); // made under 30 days
    s.clock.advance(2 * DAY);
    await setPolicy('days: 7');
    const fresh = new GuardClient(s.stack.url);
    const page = await htmlSignIn(fresh, '/');
    assert.match(page.text, /Don&#39;t ask again on this browser for 7 days|Don't ask again on this browser for 7 days/);
    assert.doesNotMatch(page.text, /30 days/);
    const verified = await postForm(fresh, '/_guard/verify', { _csrf: page.csrf, code: lastCode(s.stack.outboxFile, MERCHANT), remember: '1', action: 'verify', return_to: '/' });
    assert.equal(verified.status, 303);
    assert.ok(rbCookie(fresh), 'remembered for 7 days');
    assert.equal(await again(old), 'authenticated', 'made 2 days ago: honoured');
    s.clock.advance(5 * DAY + 60_000);
    assert.equal(await again(old), 'verification_required', 'made more than 7 days ago: not honoured now (its own 30 days are not over)');
    assert.equal(await again(fresh), 'authenticated', 'the new record, within its 7 days');
    s.clock.advance(2 * DAY);
    assert.equal(await again(fresh), 'verification_required', 'the new record expired after 7 days');
  });

  test('except_rules: a sign-in returning to an excepted rule gets no checkbox and no skip; others do', async () => {
    await setPolicy();
    await freshEnrollment();
    const client = new GuardClient(s.stack.url);
    await signInWithCode(client, true);
    assert.ok(rbCookie(client));
    await setPolicy('except_rules: [contact-export]');
    expectStatus(await client.logout(), 200, 'logout');
    const excepted = await htmlSignIn(client, '/api/contacts/export');
    assert.equal(excepted.status, 1, 'the code is asked although the browser is remembered');
    assert.doesNotMatch(excepted.text, /name="remember"/, 'no checkbox');
    // Ticking anyway (a crafted form) remembers nothing.
    const cookie = rbCookie(client);
    const verified = await postForm(client, '/_guard/verify', { _csrf: excepted.csrf, code: lastCode(s.stack.outboxFile, MERCHANT), remember: '1', action: 'verify', return_to: '/api/contacts/export' });
    assert.equal(verified.status, 303);
    assert.equal(rbCookie(client), cookie, 'no new record');
    expectStatus(await client.logout(), 200, 'logout');
    const elsewhere = await htmlSignIn(client, '/campaigns');
    assert.equal(elsewhere.status, 0, 'returning elsewhere: the remembered browser serves');
  });

  test('a watched reload that widens remember_browser is held until confirmed', async () => {
    await setPolicy('enabled: false');
    writeFileSync(s.stack.policyFile, withRemember('enabled: true'));
    const held = await s.stack.guard.policy.reload('watch');
    assert.equal(held.ok, false);
    assert.ok('held' in held && held.held === true, 'held');
    assert.ok('diff' in held && held.diff.weakened.includes('remember_browser is enabled again (it was off)'));
    assert.equal(s.stack.guard.policy.current.rememberBrowser?.enabled, false, 'still off');
    writeFileSync(s.stack.policyFile, withRemember('days: 3'));
    assert.equal((await s.stack.guard.policy.reload('watch')).ok, false, 'enabled with 3 days is still a widening of "off"');
    writeFileSync(s.stack.policyFile, withRemember('enabled: false', 'days: 3'));
    assert.equal((await s.stack.guard.policy.reload('watch')).ok, true, 'a narrowing is not held');
  });
});
