import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ManualClock } from '../../src/core/clock.ts';
import { DEMO_LOGIN, startStack } from '../helpers/stack.ts';
import {
  MERCHANT,
  OWNER,
  MERCHANT_PHONE,
  csrfFrom,
  enableTotp,
  expectStatus,
  lastCode,
  totpAt,
  withClockedStack,
  type ClockedStack,
  type GuardClient,
} from '../helpers/two-factor.ts';
import { browserCall } from '../helpers/step-up.ts';

/**
 * Policy `require_2fa` end to end (issue 17) against the demo app: the interstitial after sign-in
 * and on covered pages, "Not now" counted durably, the grace period running out (skips, days,
 * deadline) so covered routes need 2FA (pages: the setup page without "Not now"; API: 403
 * 2fa_required, never the upstream), through after enabling, no turning the last factor off, and
 * the role filter with a directory that gives roles. Time moves on a ManualClock.
 */

const DAY = 86_400_000;
const { profile: _profile, ...DEMO_LOGIN_WITHOUT_PROFILE } = DEMO_LOGIN;
const T0 = Date.parse('2026-03-02T09:00:00Z');

const policyWith = (require2fa: string, rest = ''): string => `version: 1
intercept:
  login: { paths: ["/login"] }
  logout: { paths: ["/logout"] }
rules:
  - name: static-assets
    paths: ["/static/**", "/favicon.ico"]
    methods: [GET]
    access: public
  - name: reports
    paths: ["/reports/**"]
    access: authenticated
${rest}default:
  access: authenticated
require_2fa:
${require2fa}
`;

const GRACE_TWO_SKIPS = policyWith(`  for: all
  grace: { skips: 2, days: 14 }`);

const REQUIRED_PAGE = '/_guard/two-factor-required';

/** A page request (Accept: text/html) through the sidecar. */
const page = (client: GuardClient, path: string) => browserCall(client, path);

/** Asserts a 303 to the required page that comes back to `returnTo`. */
function assertToRequiredPage(reply: { status: number; headers: Record<string, unknown>; text: string }, returnTo: string, what: string): void {
  assert.equal(reply.status, 303, `${what}: ${reply.status} ${reply.text.slice(0, 200)}`);
  assert.equal(reply.headers['location'], `${REQUIRED_PAGE}?return_to=${encodeURIComponent(returnTo)}`, what);
}

async function notNow(client: GuardClient, returnTo: string) {
  const shown = await page(client, `${REQUIRED_PAGE}?return_to=${encodeURIComponent(returnTo)}`);
  assert.equal(shown.status, 200, shown.text.slice(0, 300));
  const body = new URLSearchParams({ _csrf: csrfFrom(shown.text), return_to: returnTo }).toString();
  return client.request(REQUIRED_PAGE, {
    method: 'POST',
    headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', origin: client.url, 'sec-fetch-site': 'same-origin' },
    body,
  });
}

const withRequired = <T>(policy: string, fn: (s: ClockedStack) => Promise<T>, clock = new ManualClock(T0)) => withClockedStack({ policy }, fn, clock);

describe('require_2fa: the interstitial and the grace period', () => {
  test('a user without 2FA signs in: the first page leads to the interstitial; "Not now" counts a skip and lets the session on', () =>
    withRequired(GRACE_TWO_SKIPS, async (s) => {
      const client = await s.signedIn(MERCHANT);
      assertToRequiredPage(await page(client, '/dashboard'), '/dashboard', 'first page after sign-in');
      const shown = await page(client, `${REQUIRED_PAGE}?return_to=%2Fdashboard`);
      assert.equal(shown.status, 200);
      assert.match(shown.text, /Your organisation requires two-step verification/);
      assert.match(shown.text, /href="\/_guard\/security\/enable\?return_to=%2Fdashboard"/, 'Set up now leads to the enable flow and back');
      assert.match(shown.text, /2 more times, for 14 more days/, 'the skips and days left are shown');
      assert.match(shown.text, />Not now</);
      assert.equal((await s.stack.guard.grace.get(MERCHANT))?.skips, 0, 'the first prompt is recorded');
      assert.equal((await s.stack.guard.grace.get(MERCHANT))?.firstPromptAt, T0);

      const skipped = await notNow(client, '/dashboard');
      assert.equal(skipped.status, 303, skipped.text.slice(0, 300));
      assert.equal(skipped.headers['location'], '/dashboard');
      assert.equal((await s.stack.guard.grace.get(MERCHANT))?.skips, 1, 'the skip is counted durably');
      const through = await page(client, '/dashboard');
      assert.equal(through.status, 200, 'the rest of the session goes on');
      assert.equal((await page(client, '/reports/weekly')).status !== 303, true, 'other covered pages too');
      assert.ok(s.stack.logs.some((l) => l['event'] === '2fa_required_skipped'));
    }));

  test('during the grace period API clients are not blocked (they cannot show the page)', () =>
    withRequired(GRACE_TWO_SKIPS, async (s) => {
      const client = await s.signedIn(MERCHANT);
      const me = await client.me();
      assert.equal(me.status, 200, me.text);
      assert.equal(me.body['email'], MERCHANT);
    }));

  test('skip, skip, then the grace period is over: pages go to the setup page without "Not now", the API gets 403 2fa_required, never the upstream', () =>
    withRequired(GRACE_TWO_SKIPS, async (s) => {
      for (let i = 0; i < 2; i++) {
        const client = await s.signedIn(MERCHANT);
        assertToRequiredPage(await page(client, '/dashboard'), '/dashboard', `sign-in ${i + 1}`);
        assert.equal((await notNow(client, '/dashboard')).status, 303, `skip ${i + 1}`);
      }
      const client = await s.signedIn(MERCHANT);
      assertToRequiredPage(await page(client, '/dashboard'), '/dashboard', 'after two skips');
      const shown = await page(client, `${REQUIRED_PAGE}?return_to=%2Fdashboard`);
      assert.equal(shown.status, 200);
      assert.doesNotMatch(shown.text, />Not now</, 'no "Not now" once the skips are used');
      assert.match(shown.text, /run out/);
      const api = await client.me();
      assert.equal(api.status, 403, api.text);
      assert.equal(api.body['error'], '2fa_required');
      assert.equal(api.body['enable_url'], '/_guard/security/enable?return_to=%2Fapi%2Fme');
      assert.equal(api.body['email'], undefined, 'nothing of the upstream');
      // A hand-made "Not now" (the page no longer offers one) cannot count a third skip.
      const csrf = csrfFrom((await page(client, '/_guard/security/enable')).text);
      const forced = await client.request(REQUIRED_PAGE, {
        method: 'POST',
        headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', origin: client.url, 'sec-fetch-site': 'same-origin' },
        body: new URLSearchParams({ _csrf: csrf, return_to: '/dashboard' }).toString(),
      });
      assert.equal(forced.status, 409);
      assert.equal((await s.stack.guard.grace.get(MERCHANT))?.skips, 2);
      // The sidecar's own pages stay reachable: the setup flow must work.
      assert.equal((await page(client, '/_guard/security')).status, 200);
    }));

  test('the grace period runs out by days since the first prompt, and by a deadline', async () => {
    const clock = new ManualClock(T0);
    await withRequired(
      GRACE_TWO_SKIPS,
      async (s) => {
        const client = await s.signedIn(MERCHANT);
        assertToRequiredPage(await page(client, '/dashboard'), '/dashboard', 'first prompt');
        clock.advance(14 * DAY);
        const later = await s.signedIn(MERCHANT);
        assert.equal((await later.me()).status, 403, '14 days after the first prompt the API is refused');
      },
      clock,
    );
    const deadline = new ManualClock(Date.parse('2026-06-30T23:59:00Z'));
    await withRequired(
      policyWith(`  for: all
  grace: { until: 2026-07-01 }`),
      async (s) => {
        const client = await s.signedIn(MERCHANT);
        assert.equal((await client.me()).status, 200, 'before the deadline the API passes');
        deadline.advance(60_000);
        assert.equal((await client.me()).status, 403, 'from the deadline on it is refused');
      },
      deadline,
    );
  });

  test('no grace at all: the first covered request already needs 2FA; rules not listed stay open', () =>
    withRequired(
      policyWith(`  for: [reports]`),
      async (s) => {
        const client = await s.signedIn(MERCHANT);
        assert.equal((await page(client, '/dashboard')).status, 200, 'the dashboard is not covered');
        assertToRequiredPage(await page(client, '/reports/weekly'), '/reports/weekly', 'a covered rule');
        const api = await client.request('/reports/weekly');
        assert.equal(api.status, 403);
        assert.equal(api.body['error'], '2fa_required');
      },
    ));

  test('after enabling TOTP (from "Set up now") the covered pages go through', () =>
    withRequired(GRACE_TWO_SKIPS, async (s) => {
      let client = await s.signedIn(MERCHANT);
      for (let i = 0; i < 2; i++) {
        assert.equal((await notNow(client, '/dashboard')).status, 303);
        client = await s.signedIn(MERCHANT);
      }
      assert.equal((await client.me()).status, 403, 'grace over');
      await enableTotp(client, s.enroll);
      assert.equal((await client.me()).status, 200, 'through with 2FA');
      assert.equal((await page(client, '/dashboard')).status, 200);
      assert.notEqual((await s.stack.guard.grace.get(MERCHANT))?.endedAt, null, 'enrolling ends the grace period for good');
    }));
});

describe('require_2fa: the last factor stays', () => {
  test('turning 2FA off is refused (API: 409 2fa_required_by_policy; page: the reason), and support reset leads to enrolling again with no new grace period', () =>
    withClockedStack({ policy: GRACE_TWO_SKIPS, config: { admin: adminConfig() } }, async (s) => {
      const client = await s.signedIn(MERCHANT);
      const enrolled = await enableTotp(client, s.enroll);
      const refused = await client.disableStart('smartpush-demo');
      assert.equal(refused.status, 409, refused.text);
      assert.equal(refused.body['error'], '2fa_required_by_policy');
      assert.match(String(refused.body['message']), /cannot be turned off/);
      assert.equal((await client.status()).body['enabled'], true);

      const security = await page(client, '/_guard/security');
      assert.match(security.text, /requires two-step verification, so it cannot be turned off/);
      const form = await page(client, '/_guard/security/disable');
      const posted = await client.request('/_guard/security/disable', {
        method: 'POST',
        headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', origin: client.url, 'sec-fetch-site': 'same-origin' },
        body: new URLSearchParams({ _csrf: csrfFrom(form.text), step: 'password', password: 'smartpush-demo' }).toString(),
      });
      assert.equal(posted.status, 303);
      const shown = await page(client, String(posted.headers['location']));
      assert.match(shown.text, /cannot be turned off/);
      assert.equal((await client.status()).body['enabled'], true, 'still on');

      // Support resets 2FA (a lost phone): allowed, and the next sign-in must enrol again at once.
      const reset = await fetch(`${s.stack.adminUrl}/admin/users/${encodeURIComponent(MERCHANT)}/2fa/reset`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SUPPORT_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'lost phone, ticket 42' }),
      });
      assert.equal(reset.status, 200, await reset.text());
      const again = await s.signedIn(MERCHANT);
      assertToRequiredPage(await page(again, '/dashboard'), '/dashboard', 'after the reset');
      const shownAgain = await page(again, `${REQUIRED_PAGE}?return_to=%2Fdashboard`);
      assert.doesNotMatch(shownAgain.text, />Not now</, 'no new grace period after a reset');
      assert.equal((await again.me()).status, 403);
      void enrolled;
    }, new ManualClock(T0)));

  test('changing the method stays possible: password, a code of the current method, then the new method replaces the old one', () =>
    withRequired(GRACE_TWO_SKIPS, async (s) => {
      const client = await s.signedIn(MERCHANT);
      const enrolled = await enableTotp(client, s.enroll);
      s.clock.advance(30_000);
      const started = await client.post('/_guard/api/2fa/change/start', { password: 'smartpush-demo' });
      assert.equal(started.status, 200, started.text);
      assert.equal(started.body['status'], 'code_required');
      const wrong = await client.post('/_guard/api/2fa/change/verify', { code: '000000' });
      assert.equal(wrong.status, 401, 'the current factor must be proven');
      const verified = await client.post('/_guard/api/2fa/change/verify', { code: totpAt(enrolled.secret, s.clock.now()) });
      assert.equal(verified.status, 200, verified.text);
      assert.ok((verified.body['methods'] as string[]).includes('sms'));
      expectStatus(await client.enableMethod('sms'), 200, 'enable/method sms');
      const confirmed = await client.enableConfirm(lastCode(s.stack.outboxFile, MERCHANT_PHONE));
      assert.equal(confirmed.status, 200, confirmed.text);
      const status = await client.status();
      assert.equal(status.body['enabled'], true);
      assert.equal(status.body['method'], 'sms', 'the method was replaced, 2FA never off');
      assert.equal((await client.me()).status, 200);
    }));

  test('changing the method on the pages: password, the current code, then the enable wizard at its method step', () =>
    withRequired(GRACE_TWO_SKIPS, async (s) => {
      const client = await s.signedIn(MERCHANT);
      const enrolled = await enableTotp(client, s.enroll);
      s.clock.advance(30_000);
      const form = (path: string, fields: Record<string, string>) =>
        client.request(path, {
          method: 'POST',
          headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', origin: client.url, 'sec-fetch-site': 'same-origin' },
          body: new URLSearchParams(fields).toString(),
        });
      const start = await page(client, '/_guard/security/change');
      assert.equal(start.status, 200);
      assert.match(start.text, /Change the verification method/);
      const password = await form('/_guard/security/change', { _csrf: csrfFrom(start.text), step: 'password', password: 'smartpush-demo' });
      assert.equal(password.status, 303);
      assert.equal(password.headers['location'], '/_guard/security/change?step=code');
      const codePage = await page(client, '/_guard/security/change?step=code');
      assert.match(codePage.text, /authenticator app/i);
      const verified = await form('/_guard/security/change', { _csrf: csrfFrom(codePage.text), step: 'code', code: totpAt(enrolled.secret, s.clock.now()) });
      assert.equal(verified.status, 303, verified.text.slice(0, 200));
      assert.match(String(verified.headers['location']), /^\/_guard\/security\/enable\?step=method&methods=totp%2Csms%2Cemail&sms=1$/);
      const methods = await page(client, String(verified.headers['location']));
      assert.equal(methods.status, 200);
      assert.match(methods.text, /name="method" value="sms"/);
      assert.equal((await client.status()).body['method'], 'totp', 'nothing changes until the new method is confirmed');
    }));

  test('without a policy that requires it, turning 2FA off works as before', () =>
    withRequired(policyWith(`  for: [reports]
  roles: [admin]`).replace(/require_2fa:[\s\S]*$/, ''), async (s) => {
      const client = await s.signedIn(OWNER);
      await enableTotp(client, s.enroll);
      const started = await client.disableStart('smartpush-demo');
      assert.equal(started.status, 200, started.text);
    }));
});

describe('require_2fa: forward-auth decides the same way', () => {
  test('an ingress asking for a covered page of a user without 2FA: pages are sent to the required page, API calls get 403 2fa_required', () =>
    withClockedStack(
      { policy: policyWith(`  for: all`), config: { forward_auth: { enabled: true, trusted: ['127.0.0.1/32'] } } },
      async (s) => {
        const client = await s.signedIn(MERCHANT);
        const ask = (accept: string) =>
          client.request('/_guard/forward-auth/traefik', {
            headers: { accept, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/dashboard', 'x-forwarded-host': new URL(client.url).host, 'x-forwarded-proto': 'http' },
          });
        const html = await ask('text/html');
        assert.equal(html.status, 302, html.text);
        assert.equal(html.headers['location'], `${REQUIRED_PAGE}?return_to=%2Fdashboard`);
        const api = await ask('application/json');
        assert.equal(api.status, 403, api.text);
        assert.equal(api.body['error'], '2fa_required');
      },
      new ManualClock(T0),
    ));
});

describe('require_2fa: the role filter', () => {
  test('with a directory that gives roles, only accounts with a listed role are covered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spg-roles-'));
    const file = join(dir, 'app.db');
    const db = new Database(file);
    db.exec("CREATE TABLE users (email TEXT, phone TEXT, groups TEXT); INSERT INTO users VALUES ('merchant@example.com', '+15555550189', 'Finance, Admin'), ('owner@example.com', NULL, 'staff')");
    db.close();
    const clock = new ManualClock(T0);
    await withClockedStack(
      {
        policy: policyWith(`  for: all
  roles: [admin]`),
        config: {
          login: { ...DEMO_LOGIN_WITHOUT_PROFILE, success: { ...DEMO_LOGIN.success, status: [302, 303] } },
          directory: { kind: 'sql', driver: 'sqlite', file, query: 'SELECT email, phone, groups FROM users WHERE email = :identifier', roles_column: 'groups' },
        },
      },
      async (s) => {
        const admin = await s.signedIn(MERCHANT);
        assert.equal((await admin.me()).status, 403, 'an admin without 2FA is refused (no grace)');
        const staff = await s.signedIn(OWNER);
        assert.equal((await staff.me()).status, 200, 'an account without the role is not covered');
        assert.equal((await page(staff, '/dashboard')).status, 200);
      },
      clock,
    );
  });

  test('a role filter with a directory that cannot give roles is refused at start with a clear error', async () => {
    await assert.rejects(
      startStack({ policy: policyWith(`  for: all
  roles: [admin]`) }),
      (error: Error) => /require_2fa\.roles \(admin\) needs roles from the directory, but the configured directory gives none/.test(error.message),
    );
  });
});

const SUPPORT_TOKEN = 'support-token-0123456789abcdef0123456789';

/** The admin listener with one support token (for the 2FA reset). */
function adminConfig() {
  const dir = mkdtempSync(join(tmpdir(), 'spg-admin-token-'));
  const file = join(dir, 'token');
  writeFileSync(file, `${SUPPORT_TOKEN}\n`, { mode: 0o600 });
  return { host: '127.0.0.1', port: 0, tokens: [{ name: 'support', token: { file } }] };
}
