import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ConfigInput } from '../../src/config/schema.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { djangoOrSkip, djangoSessionsOf as sessionsOf, startDjango, type DjangoApp, type DjangoUser } from '../helpers/django.ts';
import { startStack, type Stack } from '../helpers/stack.ts';
import { GENEROUS_BUDGETS, GuardClient, base32Decode, expectStatus, lastCode, totpAt, type ApiReply } from '../helpers/two-factor.ts';

/**
 * The sidecar in front of a REAL, stock Django admin (Debian's python3-django), configured by
 * examples/django-admin/ and driven through the sidecar only: sign-in by username through Django's
 * CSRF-protected form, email codes to the address Django holds (the SQL directory), TOTP, step-up on
 * the user list, a Django CSRF form saved through the proxy, Django's own password change keeping
 * the session (rotation), a logout that really ends Django's session, and Django's sessionid never
 * in the browser.
 */

const EXAMPLE = join(import.meta.dirname, '../../examples/django-admin');
const TOTP_STEP = 30_000;

const USERS = {
  alice: { username: 'alice', password: 'alice-Pass-1', email: 'alice@example.com' },
  bob: { username: 'bob', password: 'bob-Pass-1', email: 'bob.builder@example.org' },
  carol: { username: 'carol', password: 'carol-Pass-1', email: 'carol@example.net' },
  dave: { username: 'dave', password: 'dave-Pass-1', email: 'dave@example.com' },
  erin: { username: 'erin', password: 'erin-Pass-1', email: 'erin@example.com' },
} satisfies Record<string, DjangoUser>;

const django = djangoOrSkip();
const skip = 'skip' in django ? django.skip : false;

/** The example's config with this test's ports, files and Django database. */
function exampleConfig(app: DjangoApp): Partial<ConfigInput> {
  const example = parseYaml(readFileSync(join(EXAMPLE, 'config.yaml'), 'utf8')) as ConfigInput & { directory: Record<string, unknown> };
  return {
    login: { ...example.login, min_response_time: '0ms' },
    directory: { ...example.directory, file: app.db } as ConfigInput['directory'],
    product: example.product,
    factors: { methods: example.factors.methods, send_budget: GENEROUS_BUDGETS } as ConfigInput['factors'],
  };
}

let app: DjangoApp;
let stack: Stack;
const clock = new ManualClock(Date.now());

/** Every client of the test, so the last test can say no response ever gave a browser Django's session. */
const clients: GuardClient[] = [];
const client = (): GuardClient => {
  const c = new GuardClient(stack.url);
  clients.push(c);
  return c;
};
const seenSetCookies: string[] = [];
const watch = (reply: ApiReply): ApiReply => {
  seenSetCookies.push(...reply.setCookies);
  return reply;
};

async function signIn(user: DjangoUser): Promise<GuardClient> {
  const c = client();
  const reply = watch(await c.post('/_guard/api/login', { username: user.username, password: user.password }));
  expectStatus(reply, 200, `login of ${user.username}`);
  assert.equal(reply.body['status'], 'authenticated', reply.text);
  return c;
}

const page = async (c: GuardClient, path: string, init: { method?: string; body?: string } = {}): Promise<ApiReply> =>
  watch(
    await c.request(path, {
      ...(init.method ? { method: init.method } : {}),
      headers: {
        accept: 'text/html,application/xhtml+xml',
        ...(init.body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded', origin: stack.url, 'sec-fetch-site': 'same-origin' } : {}),
      },
      ...(init.body !== undefined ? { body: init.body } : {}),
    }),
  );

const csrfIn = (html: string): string => {
  const token = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(html)?.[1];
  assert.ok(token, `no csrfmiddlewaretoken in ${html.slice(0, 300)}`);
  return token;
};

const djangoSessionsOf = (username: string): number => sessionsOf(app, username);

describe('Django admin', { skip }, () => {
before(async () => {
  if ('skip' in django) return;
  app = await startDjango(django.python, Object.values(USERS));
});
after(async () => {
  await app?.close();
});

describe('a stock Django admin behind the sidecar', () => {
  before(async () => {
    stack = await startStack({
      upstreamUrl: app.url,
      policy: readFileSync(join(EXAMPLE, 'policy.yaml'), 'utf8'),
      config: exampleConfig(app),
      clock,
    });
  });
  after(async () => {
    await stack?.close();
  });

  test("sign-in by username through Django's CSRF-protected form; the admin opens through the sidecar", async () => {
    const c = await signIn(USERS.alice);
    const admin = await page(c, '/admin/');
    assert.equal(admin.status, 200, admin.text.slice(0, 300));
    assert.match(admin.text, /Site administration/);
    assert.match(admin.text, /alice/);
  });

  test("Django's own login form (POST /admin/login/ with username) is intercepted and replayed", async () => {
    const c = client();
    const reply = watch(
      await c.request('/admin/login/', {
        method: 'POST',
        headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', origin: stack.url, 'sec-fetch-site': 'same-origin' },
        body: new URLSearchParams({ username: USERS.bob.username, password: USERS.bob.password, csrfmiddlewaretoken: 'the-browsers-own' }).toString(),
      }),
    );
    assert.equal(reply.status, 303, reply.text.slice(0, 300));
    assert.equal(reply.headers.location, '/admin/');
    assert.equal((await page(c, '/admin/')).status, 200);
  });

  test('a wrong password is a wrong password (401), and is counted', async () => {
    const c = client();
    const reply = watch(await c.post('/_guard/api/login', { username: USERS.erin.username, password: 'not-it' }));
    assert.equal(reply.status, 401, reply.text);
    assert.equal(reply.body['error'], 'invalid_credentials');
    const events = await stack.guard.audit.recent({ user: 'erin', limit: 100 });
    assert.ok(events.some((e) => e.event === 'login_failure' && e.reason === 'invalid_credentials'), JSON.stringify(events));
  });

  test('step-up on the user list without 2FA: an email code to the address Django holds', async () => {
    const c = await signIn(USERS.bob);
    const refused = await c.get('/admin/auth/user/');
    assert.equal(refused.status, 401, refused.text);
    assert.equal(refused.body['error'], 'step_up_required');
    assert.equal(refused.body['method'], 'email');
    expectStatus(watch(await c.post('/_guard/api/step-up/start')), 200, 'step-up/start');
    const code = lastCode(stack.outboxFile, USERS.bob.email);
    expectStatus(watch(await c.post('/_guard/api/step-up/verify', { code })), 200, 'step-up/verify');
    const list = await page(c, '/admin/auth/user/');
    assert.equal(list.status, 200, list.text.slice(0, 300));
    assert.match(list.text, /Select user to change/);
  });

  test('a Django form with its CSRF token is saved through the proxy', async () => {
    const c = await signIn(USERS.alice);
    const form = await page(c, '/admin/auth/group/add/');
    assert.equal(form.status, 200, form.text.slice(0, 300));
    assert.ok(c.cookies.has('csrftoken'), 'Django\'s csrftoken cookie reached the browser');
    const saved = await page(c, '/admin/auth/group/add/', {
      method: 'POST',
      body: new URLSearchParams({ csrfmiddlewaretoken: csrfIn(form.text), name: 'editors', _save: 'Save' }).toString(),
    });
    assert.equal(saved.status, 302, saved.text.slice(0, 500));
    assert.equal(saved.headers.location, '/admin/auth/group/');
    assert.equal(app.shell("from django.contrib.auth.models import Group; print(Group.objects.filter(name='editors').count())").trim(), '1');
  });

  test("Django's own password change rotates its session: adopted, the user stays signed in", async () => {
    const c = await signIn(USERS.dave);
    const form = await page(c, '/admin/password_change/');
    assert.equal(form.status, 200, form.text.slice(0, 300));
    const changed = await page(c, '/admin/password_change/', {
      method: 'POST',
      body: new URLSearchParams({
        csrfmiddlewaretoken: csrfIn(form.text),
        old_password: USERS.dave.password,
        new_password1: 'dave-New-Pass-2',
        new_password2: 'dave-New-Pass-2',
      }).toString(),
    });
    assert.equal(changed.status, 302, changed.text.slice(0, 500));
    assert.equal(changed.headers.location, '/admin/password_change/done/');
    const done = await page(c, '/admin/password_change/done/');
    assert.equal(done.status, 200, `after the rotation: ${done.status} ${String(done.headers.location)}`);
    assert.equal((await page(c, '/admin/')).status, 200);
    assert.equal(djangoSessionsOf('dave'), 1, 'exactly the rotated session is alive at Django');
  });

  test("a cross-site GET of Django's logout URL signs no one out; the sign-out ends Django's session", async () => {
    const c = await signIn(USERS.erin);
    assert.equal(djangoSessionsOf('erin'), 1);
    const link = watch(await c.request('/admin/logout/', { headers: { accept: 'text/html', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' } }));
    assert.equal(link.status, 303);
    assert.equal(link.headers.location, '/_guard/logout');
    assert.equal((await page(c, '/admin/')).status, 200, 'the GET signed the user out');
    assert.equal(djangoSessionsOf('erin'), 1, "the GET ended Django's session");

    const out = watch(await c.post('/_guard/api/logout'));
    assert.equal(out.status, 200, out.text);
    assert.equal(out.body['status'], 'logged_out');
    assert.equal(djangoSessionsOf('erin'), 0, "Django's session row is still there");
    const events = await stack.guard.audit.recent({ user: 'erin', limit: 100 });
    const logout = events.find((e) => e.event === 'logout');
    assert.equal(logout?.outcome, 'success', JSON.stringify(logout));
    const again = await page(c, '/admin/');
    assert.equal(again.status, 303);
    assert.match(String(again.headers.location), /^\/_guard\/login/);
  });

  test('TOTP: enabled with an email code to the address Django holds, then sign-in and a fresh code for the user list', async () => {
    const c = await signIn(USERS.carol);
    expectStatus(watch(await c.enableStart(USERS.carol.password)), 200, 'enable/start');
    expectStatus(watch(await c.enableIdentity('email')), 200, 'enable/identity');
    expectStatus(watch(await c.enableIdentityVerify(lastCode(stack.outboxFile, USERS.carol.email))), 200, 'enable/identity/verify');
    const method = expectStatus(watch(await c.enableMethod('totp')), 200, 'enable/method');
    const secret = base32Decode(String(method.body['secret']));
    expectStatus(watch(await c.enableConfirm(totpAt(secret, clock.now()))), 200, 'enable/confirm');

    clock.advance(TOTP_STEP);
    const next = client();
    const login = watch(await next.post('/_guard/api/login', { username: USERS.carol.username, password: USERS.carol.password }));
    expectStatus(login, 200, 'login with 2FA');
    assert.equal(login.body['status'], 'verification_required', login.text);
    assert.equal(login.body['method'], 'totp');
    expectStatus(watch(await next.verify(totpAt(secret, clock.now()))), 200, 'login/verify');
    assert.equal((await page(next, '/admin/')).status, 200);

    const refused = await next.get('/admin/auth/user/');
    assert.equal(refused.status, 401, refused.text);
    assert.equal(refused.body['error'], 'step_up_required');
    assert.equal(refused.body['method'], 'totp');
    clock.advance(TOTP_STEP);
    expectStatus(watch(await next.post('/_guard/api/step-up/start')), 200, 'step-up/start');
    expectStatus(watch(await next.post('/_guard/api/step-up/verify', { code: totpAt(secret, clock.now()) })), 200, 'step-up/verify');
    assert.equal((await page(next, '/admin/auth/user/')).status, 200);
  });

  test("Django's sessionid never reached a browser", () => {
    assert.ok(seenSetCookies.length > 0);
    for (const c of clients) assert.equal(c.cookies.get('sessionid'), undefined, `a client holds Django's sessionid: ${[...c.cookies.keys()].join(', ')}`);
    const given = seenSetCookies.filter((h) => /^sessionid=(?!""|;)/i.test(h.trim()));
    assert.deepEqual(given, [], 'a response set sessionid in the browser');
  });
});

describe('a Django behind a replay that skips its login page (no CSRF token)', () => {
  let broken: Stack;
  before(async () => {
    const config = exampleConfig(app);
    const login = { ...(config.login as Record<string, unknown>), upstream: { path: '/admin/login/', fields: { identifier: 'username', password: 'password' } } };
    broken = await startStack({ upstreamUrl: app.url, policy: readFileSync(join(EXAMPLE, 'policy.yaml'), 'utf8'), config: { ...config, login: login as ConfigInput['login'] } });
  });
  after(async () => {
    await broken?.close();
  });

  test("Django's 403 is an upstream error (502), logged and audited with its status, and never counted towards a lock-out", async () => {
    for (let i = 1; i <= 4; i++) {
      const c = new GuardClient(broken.url);
      const reply = await c.post('/_guard/api/login', { username: USERS.alice.username, password: USERS.alice.password });
      assert.equal(reply.status, 502, `attempt ${i}: ${reply.text}`);
      assert.equal(reply.body['error'], 'upstream_error');
    }
    const line = broken.logs.find((l) => l['event'] === 'login_upstream_error');
    assert.equal(line?.['status'], '403', JSON.stringify(line));
    const events = await broken.guard.audit.recent({ user: 'alice', limit: 100 });
    const failures = events.filter((e) => e.event === 'login_failure');
    assert.equal(failures.length, 4);
    for (const e of failures) {
      assert.equal(e.reason, 'upstream_error');
      assert.equal(e.details?.['status'], '403');
    }
    const metrics = (await broken.guard.metrics.render()).body;
    assert.match(metrics, /spg_logins_total\{outcome="failure",reason="upstream_error"\} 4/);
  });
});
});
