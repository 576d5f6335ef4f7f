import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDemoApp } from '../../demo/app.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAudit } from '../../src/audit/audit.ts';
import { pageWithCsrf, postForm, submitForm } from '../helpers/step-up.ts';
import {
  enrollDirectly,
  factorsConfig,
  GENEROUS_BUDGETS,
  expectStatus,
  GuardClient,
  lastCode,
  MERCHANT,
  startClockedStack,
  type ClockedStack,
} from '../helpers/two-factor.ts';

/**
 * "Remember this browser" end to end over the JSON API (issue 17): sign in with a code and
 * `remember: true`, sign out, sign in again with the password only; and every way the record must
 * stop serving: another device cookie, a factor change, revocation (user and support), expiry,
 * a high-risk sign-in, and a password changed at the upstream.
 */

const ADMIN_TOKEN = 'remember-browser-admin-token-0123456789abcdef';
const DAY = 86_400_000;

/** Password, then the emailed code with `remember`; the verify reply. */
async function signInWithCode(s: ClockedStack, client: GuardClient, remember: boolean, password?: string): Promise<ReturnType<GuardClient['verify']>> {
  s.clock.advance(61_000);
  const login = expectStatus(await client.login(MERCHANT, password), 200, 'login');
  assert.equal(login.body['status'], 'verification_required', 'the code is asked');
  const reply = expectStatus(await client.post('/_guard/api/login/verify', { code: lastCode(s.stack.outboxFile, MERCHANT), remember }), 200, 'verify');
  assert.equal(reply.body['status'], 'authenticated');
  return reply;
}

const rbCookie = (client: GuardClient): string | undefined => client.cookies.get('spg_rb');

/** Signs out and in again with the password; the login reply's status. */
async function again(client: GuardClient, password?: string): Promise<string> {
  clockOf.get(client.url)?.advance(61_000);
  expectStatus(await client.logout(), 200, 'logout');
  const login = expectStatus(await client.login(MERCHANT, password), 200, 'login again');
  return String(login.body['status']);
}

/** The sign-in page's form token. */
async function formToken(client: GuardClient, path: string): Promise<{ _csrf: string }> {
  return { _csrf: (await pageWithCsrf(client, path)).csrf };
}

/** The stack's clock by its URL, so `again` can move past resend cooldowns. */
const clockOf = new Map<string, ManualClock>();

function tokenFile(token: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'spg-rb-token-')), 'token');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return file;
}

describe('remember this browser (JSON API)', () => {
  let s: ClockedStack;
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 9));
  const audit = new MemoryAudit(() => clock.now());
  before(async () => {
    s = await startClockedStack(
      {
        config: {
          factors: factorsConfig({ send_budget: GENEROUS_BUDGETS }).factors,
          admin: { host: '127.0.0.1', port: 0, tokens: [{ name: 'support', token: { file: tokenFile(ADMIN_TOKEN) } }] },
          risk: { levels: { medium: 10, high: 15 } },
        },
        start: { audit },
      },
      clock,
    );
    clockOf.set(s.stack.url, clock);
  });
  after(() => s.stack.close());

  const freshEnrollment = async (): Promise<void> => {
    await s.stack.guard.durable.disable(MERCHANT);
    await enrollDirectly(s.stack, MERCHANT, 'email', MERCHANT, s.clock.now());
  };

  test('remembered: sign out, sign in again without a code; the token rotates on each use', async () => {
    await freshEnrollment();
    const client = new GuardClient(s.stack.url);
    const verify = await signInWithCode(s, client, true);
    const first = rbCookie(client);
    assert.ok(first, 'the browser got its remember cookie');
    const header = verify.setCookies.find((c) => c.startsWith('spg_rb='));
    assert.match(header ?? '', /HttpOnly/i);
    assert.match(header ?? '', /SameSite=Lax/i);
    assert.match(header ?? '', /Path=\//);
    assert.match(header ?? '', /Max-Age=2592000/, '30 days by default');
    assert.equal(await again(client), 'authenticated', 'no second factor');
    const second = rbCookie(client);
    assert.ok(second && second !== first, 'the token rotated');
    assert.equal(second.split('.')[0], first.split('.')[0], 'same record id');
    assert.equal(expectStatus(await client.me(), 200, 'upstream reachable').status, 200);
    // The old token is useless now (and presenting it drops the record: a copied token was used).
    const thief = client.clone();
    thief.cookies.set('spg_rb', first);
    expectStatus(await thief.logout(), 200, 'logout');
    const stolen = expectStatus(await thief.login(), 200, 'login with the old token');
    assert.equal(stolen.body['status'], 'verification_required');
    assert.equal(await again(client), 'verification_required', 'the record was dropped on reuse');
  });

  test('not ticked: asked again', async () => {
    await freshEnrollment();
    const client = new GuardClient(s.stack.url);
    await signInWithCode(s, client, false);
    assert.equal(rbCookie(client), undefined);
    assert.equal(await again(client), 'verification_required');
  });

  test('another browser (other device cookie) with the copied token is asked', async () => {
    await freshEnrollment();
    const client = new GuardClient(s.stack.url);
    await signInWithCode(s, client, true);
    const other = new GuardClient(s.stack.url);
    // The other browser has its own device cookie from its own earlier sign-in.
    await signInWithCode(s, other, false);
    other.cookies.set('spg_rb', rbCookie(client) as string);
    assert.equal(await again(other), 'verification_required');
    // A browser without any device cookie too.
    const bare = new GuardClient(s.stack.url);
    bare.cookies.set('spg_rb', rbCookie(client) as string);
    const login = expectStatus(await bare.login(), 200, 'login');
    assert.equal(login.body['status'], 'verification_required');
  });

  test('a factor change (2FA enabled again, other method) forgets it', async () => {
    await freshEnrollment();
    const client = new GuardClient(s.stack.url);
    await signInWithCode(s, client, true);
    // Support resets 2FA; the merchant's enrollment comes back (as if enabled again).
    const reset = await fetch(`${s.stack.adminUrl}/admin/users/${MERCHANT}/2fa/reset`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'ticket 17' }),
    });
    assert.equal(reset.status, 200, await reset.text());
    await enrollDirectly(s.stack, MERCHANT, 'email', MERCHANT, s.clock.now());
    assert.equal(await again(client), 'verification_required');
  });

  test('the user regenerating recovery codes (Login & Security flow) forgets every remembered browser', async () => {
    await freshEnrollment();
    const client = new GuardClient(s.stack.url);
    await signInWithCode(s, client, true);
    const other = new GuardClient(s.stack.url);
    await signInWithCode(s, other, true);
    s.clock.advance(61_000);
    expectStatus(await client.recoveryStart(), 200, 'recovery start');
    expectStatus(await client.recoveryConfirm(lastCode(s.stack.outboxFile, MERCHANT)), 200, 'recovery confirm');
    assert.equal(await again(other), 'verification_required', 'the other remembered browser is asked');
    const events = await audit.recent({ limit: 50, event: 'remembered_browsers_dropped' });
    assert.ok(events.some((e) => e.reason === 'recovery_codes_regenerated' && e.details?.['count'] === 2), JSON.stringify(events.slice(0, 3)));
  });

  test('a factor change not made through forgetRememberedBrowsers still voids the record (factor binding)', async () => {
    await freshEnrollment();
    const client = new GuardClient(s.stack.url);
    await signInWithCode(s, client, true);
    s.clock.advance(1000);
    await s.stack.guard.durable.disable(MERCHANT);
    await enrollDirectly(s.stack, MERCHANT, 'email', MERCHANT, s.clock.now());
    assert.equal(await again(client), 'verification_required');
  });

  test('listed, then revoked by the user (API): asked again', async () => {
    await freshEnrollment();
    const client = new GuardClient(s.stack.url);
    await signInWithCode(s, client, true);
    const list = expectStatus(await client.get('/_guard/api/remembered-browsers'), 200, 'list');
    const browsers = list.body['browsers'] as Array<Record<string, unknown>>;
    assert.equal(browsers.length, 1);
    assert.equal(browsers[0]?.['current'], true);
    assert.equal(list.body['days'], 30);
    const id = String(browsers[0]?.['id']);
    assert.equal(id, rbCookie(client)?.split('.')[0]);
    assert.equal(JSON.stringify(list.body).includes(rbCookie(client)?.split('.')[1] as string), false, 'the secret is never shown');
    const bad = await client.post('/_guard/api/remembered-browsers/revoke', { id: 5 });
    assert.equal(bad.status, 400);
    const gone = await client.request('/_guard/api/remembered-browsers/nope', { method: 'DELETE', headers: { 'content-type': 'application/json' } });
    assert.equal(gone.status, 404);
    // Cross-site calls change nothing.
    const forged = await client.request('/_guard/api/remembered-browsers', { method: 'DELETE', headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' } });
    assert.equal(forged.status, 403);
    assert.equal((expectStatus(await client.get('/_guard/api/remembered-browsers'), 200, 'list').body['browsers'] as unknown[]).length, 1);
    const revoked = expectStatus(await client.request(`/_guard/api/remembered-browsers/${id}`, { method: 'DELETE', headers: { 'content-type': 'application/json' } }), 200, 'revoke');
    assert.equal(revoked.body['count'], 1);
    assert.equal(await again(client), 'verification_required');
  });

  test('forget all (POST revoke {all: true})', async () => {
    await freshEnrollment();
    const a = new GuardClient(s.stack.url);
    const b = new GuardClient(s.stack.url);
    await signInWithCode(s, a, true);
    await signInWithCode(s, b, true);
    const all = expectStatus(await b.post('/_guard/api/remembered-browsers/revoke', { all: true }), 200, 'forget all');
    assert.equal(all.body['count'], 2);
    assert.equal(await again(a), 'verification_required');
  });

  test('support sees and drops them (admin API); session revoke and unlock drop them too', async () => {
    await freshEnrollment();
    const client = new GuardClient(s.stack.url);
    await signInWithCode(s, client, true);
    const admin = (path: string, init: RequestInit = {}) =>
      fetch(`${s.stack.adminUrl}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' } });
    const status = (await (await admin(`/admin/users/${MERCHANT}`)).json()) as Record<string, unknown>;
    const listed = status['remembered_browsers'] as Array<Record<string, unknown>>;
    assert.equal(listed.length, 1);
    assert.deepEqual(Object.keys(listed[0] ?? {}).sort(), ['created_at', 'expires_at', 'id', 'label', 'last_used_at']);
    const noReason = await admin(`/admin/users/${MERCHANT}/remembered-browsers/revoke`, { method: 'POST', body: '{}' });
    assert.equal(noReason.status, 400);
    const unknown = await admin(`/admin/users/${MERCHANT}/remembered-browsers/revoke`, { method: 'POST', body: JSON.stringify({ reason: 'x', id: 'nope' }) });
    assert.equal(unknown.status, 404);
    const dropped = await admin(`/admin/users/${MERCHANT}/remembered-browsers/revoke`, { method: 'POST', body: JSON.stringify({ reason: 'lost laptop' }) });
    assert.equal(dropped.status, 200);
    assert.equal(((await dropped.json()) as Record<string, unknown>)['revoked'], 1);
    assert.equal(await again(client), 'verification_required');

    for (const action of ['sessions/revoke', 'unlock']) {
      expectStatus(await client.logout(), 200, 'logout');
      await signInWithCode(s, client, true);
      const r = await admin(`/admin/users/${MERCHANT}/${action}`, { method: 'POST', body: JSON.stringify({ reason: 'ticket' }) });
      assert.equal(r.status, 200, action);
      assert.equal(await again(client), 'verification_required', `after ${action}`);
    }
  });

  test('expired after the configured days (injected clock)', async () => {
    await freshEnrollment();
    const client = new GuardClient(s.stack.url);
    await signInWithCode(s, client, true);
    s.clock.advance(29 * DAY);
    assert.equal(await again(client), 'authenticated', 'still remembered on day 29');
    s.clock.advance(DAY + 1000);
    assert.equal(await again(client), 'verification_required', 'expired after 30 days');
    // The code page may then remember it again; the expired record is gone from the list.
    const list = expectStatus(await client.get('/_guard/api/remembered-browsers'), 401, 'not signed in yet');
    assert.equal(list.body['error'], 'login_required');
  });

  test('a high-risk sign-in from the remembered browser asks for the code and drops the record', async () => {
    await freshEnrollment();
    const client = new GuardClient(s.stack.url);
    await signInWithCode(s, client, true);
    // Another user agent is a risk signal (15 ≥ high here).
    const moved = new GuardClient(s.stack.url, { 'user-agent': 'Mozilla/5.0 (Windows NT 10.0) Firefox/130.0' });
    for (const [k, v] of client.cookies) moved.cookies.set(k, v);
    expectStatus(await moved.logout(), 200, 'logout');
    const login = expectStatus(await moved.login(), 200, 'login');
    assert.equal(login.body['status'], 'verification_required');
    // And the record is gone: even the original browser is asked now.
    assert.equal(await again(client), 'verification_required');
  });

  test('audit: added, used, revoked and dropped (with reason); never the token', async () => {
    await freshEnrollment();
    const client = new GuardClient(s.stack.url);
    await signInWithCode(s, client, true);
    const token = rbCookie(client) as string;
    assert.equal(await again(client), 'authenticated');
    const id = token.split('.')[0] as string;
    expectStatus(await client.request(`/_guard/api/remembered-browsers/${id}`, { method: 'DELETE', headers: { 'content-type': 'application/json' } }), 200, 'revoke');
    const events = (await audit.recent({ limit: 10_000 })) as unknown as Array<Record<string, unknown>>;
    const text = JSON.stringify(events);
    const names = events.map((e) => e['event']);
    for (const name of ['remembered_browser_added', 'remembered_browser_used', 'remembered_browser_revoked', 'remembered_browsers_dropped']) {
      assert.ok(names.includes(name), `${name} recorded`);
    }
    const dropped = events.filter((e) => e['event'] === 'remembered_browsers_dropped').map((e) => e['reason']);
    assert.ok(dropped.includes('token_reuse') && dropped.includes('admin_2fa_reset'), `reasons: ${dropped.join(', ')}`);
    for (const secret of [token.split('.')[1] as string, rbCookie(client)?.split('.')[1] as string]) {
      assert.equal(text.includes(secret), false, 'no token in the audit');
      assert.equal(JSON.stringify(s.stack.logs).includes(secret), false, 'no token in the log');
    }
    const used = events.find((e) => e['event'] === 'login_success' && (e['details'] as Record<string, unknown> | undefined)?.['factors'] === 'password+remembered_browser');
    assert.ok(used, 'the sign-in says it was a remembered browser');
  });

  test('pages without JavaScript: the code page\'s checkbox remembers; Forget all on Login & Security (PRG with a notice)', async () => {
    await freshEnrollment();
    const client = new GuardClient(s.stack.url);
    s.clock.advance(61_000);
    const login = await postForm(client, '/_guard/login', { ...(await formToken(client, '/_guard/login')), email: MERCHANT, password: 'smartpush-demo' });
    assert.equal(login.status, 303);
    const { page, csrf } = await pageWithCsrf(client, '/_guard/verify');
    assert.match(page.text, /<input type="checkbox" id="remember" name="remember" value="1"/);
    assert.match(page.text, /Don&#39;t ask again on this browser for 30 days|Don't ask again on this browser for 30 days/);
    const verified = await postForm(client, '/_guard/verify', { _csrf: csrf, code: lastCode(s.stack.outboxFile, MERCHANT), remember: '1', action: 'verify' });
    assert.equal(verified.status, 303, verified.text);
    assert.ok(rbCookie(client), 'remembered');
    const security = await pageWithCsrf(client, '/_guard/security');
    assert.match(security.page.text, /Remembered browsers/);
    assert.match(security.page.text, /\(this browser\)/);
    const done = await submitForm(client, '/_guard/security/remembered-browsers/forget', { _csrf: security.csrf, all: '1' });
    assert.equal(done.status, 200);
    assert.match(done.text, /1 browser is forgotten/);
    assert.match(done.text, /No browser is remembered\./);
    // Reload: the notice was shown once (Post/Redirect/Get).
    const reload = await client.request('/_guard/security', { headers: { accept: 'text/html' } });
    assert.doesNotMatch(reload.text, /1 browser is forgotten/);
    assert.equal(await again(client), 'verification_required');
  });

  test('remember must be a boolean', async () => {
    await freshEnrollment();
    const client = new GuardClient(s.stack.url);
    expectStatus(await client.login(), 200, 'login');
    const bad = await client.post('/_guard/api/login/verify', { code: lastCode(s.stack.outboxFile, MERCHANT), remember: 'yes' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body['error'], 'invalid_remember');
  });
});

describe('remember this browser: a password changed at the upstream forgets every remembered browser', () => {
  test('sign-in with the new password asks for the code', async () => {
    const oldApp = await startDemoApp({ host: '127.0.0.1', port: 0, accounts: [{ email: MERCHANT, password: 'old-password-1', name: 'Mia' }] } as never);
    const newApp = await startDemoApp({ host: '127.0.0.1', port: 0, accounts: [{ email: MERCHANT, password: 'new-password-2', name: 'Mia' }] } as never);
    let target = new URL(oldApp.url);
    // The upstream as the sidecar sees it: one address whose password changes when `target` does.
    const proxy = http.createServer((req, res) => {
      const out = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      out.on('error', () => res.destroy());
      req.pipe(out);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const s = await startClockedStack({
      upstreamUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      config: { factors: factorsConfig({ send_budget: GENEROUS_BUDGETS }).factors },
    });
    clockOf.set(s.stack.url, s.clock);
    try {
      await enrollDirectly(s.stack, MERCHANT, 'email', MERCHANT, s.clock.now());
      const client = new GuardClient(s.stack.url);
      await signInWithCode(s, client, true, 'old-password-1');
      assert.equal(await again(client, 'old-password-1'), 'authenticated', 'same password: remembered');
      target = new URL(newApp.url);
      assert.equal(await again(client, 'new-password-2'), 'verification_required', 'new password: asked');
      // Remembered again under the new password, it serves again.
      expectStatus(await client.verify(lastCode(s.stack.outboxFile, MERCHANT)), 200, 'verify');
      expectStatus(await client.logout(), 200, 'logout');
      await signInWithCode(s, client, true, 'new-password-2');
      assert.equal(await again(client, 'new-password-2'), 'authenticated');
    } finally {
      await s.stack.close();
      proxy.close();
      await oldApp.close();
      await newApp.close();
    }
  });
});

describe('remember this browser: switched off (factors.remember_browser.enabled: false)', () => {
  test('no checkbox, `remember: true` is ignored, and nothing is listed', async () => {
    const s = await startClockedStack({ config: { factors: factorsConfig({ send_budget: GENEROUS_BUDGETS, remember_browser: { enabled: false } }).factors } });
    clockOf.set(s.stack.url, s.clock);
    try {
      await enrollDirectly(s.stack, MERCHANT, 'email', MERCHANT, s.clock.now());
      const client = new GuardClient(s.stack.url);
      expectStatus(await client.login(), 200, 'login');
      const { page } = await pageWithCsrf(client, '/_guard/verify');
      assert.doesNotMatch(page.text, /name="remember"/);
      expectStatus(await client.post('/_guard/api/login/verify', { code: lastCode(s.stack.outboxFile, MERCHANT), remember: true }), 200, 'verify');
      assert.equal(rbCookie(client), undefined);
      const list = expectStatus(await client.get('/_guard/api/remembered-browsers'), 200, 'list');
      assert.deepEqual(list.body, { enabled: false, days: 30, browsers: [] });
      const security = await pageWithCsrf(client, '/_guard/security');
      assert.doesNotMatch(security.page.text, /Remembered browsers/);
      assert.equal(await again(client), 'verification_required');
    } finally {
      await s.stack.close();
    }
  });
});
