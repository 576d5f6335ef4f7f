import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.ts';
import { startStack, withStack, type Stack } from '../helpers/stack.ts';
import {
  boundUpstreamCookie,
  BINDING_POLICY,
  CookieJar,
  apiSignIn,
  clearsCookie,
  closedPort,
  cookiePairs,
  csrfFrom,
  echoedCookie,
  form,
  me,
  navigation,
  openLoginPage,
  parseSetCookie,
  postJson,
  returnToFrom,
  sameOriginForm,
  send,
  sessionConfig,
  setCookieFor,
  startRecordedStack,
  upstreamSession,
  withRecordedStack,
  type RecordedRequest,
  type RecordedStack,
  type Reply,
} from '../helpers/browser-like.ts';

/**
 * Sign-in and sign-out over HTTP (DESIGN §2, §5): the JSON API, the login page, the intercepted
 * legacy login/logout routes, regulation, session lifetimes and the upstream cookie binding, all
 * against a real sidecar in front of the demo app.
 */

const MERCHANT = 'merchant@example.com';
const OWNER = 'owner@example.com';
const PASSWORD = 'smartpush-demo';
const GENERIC_FAILURE = 'The email or password is not correct.';

/**
 * A refused sign-in form answers 303 to the sign-in page (Post/Redirect/Get), which shows the error
 * with the status the POST earned; this follows it, with the cookies the POST set (the signed flash).
 */
async function followRefusal(url: string, posted: Reply, jar = new CookieJar()): Promise<Reply> {
  assert.equal(posted.status, 303, posted.text);
  assert.match(posted.location ?? '', /^\/_guard\/login\?return_to=/);
  jar.take(posted);
  return jar.take(await send(`${url}${posted.location as string}`, { headers: { ...navigation(), cookie: jar.header() } }));
}
/** A header only client requests carry: seeing it upstream means the sidecar forwarded the client's request. */
const CLIENT_MARK = 'x-test-client-request';

const login = (url: string, email: string, password: string, headers: Record<string, string> = {}): Promise<Reply> =>
  postJson(`${url}/_guard/api/login`, { email, password }, headers);

function attributes(setCookie: string): string[] {
  return parseSetCookie(setCookie).attributes.map((a) => a.toLowerCase());
}

/** The sidecar's own server-side replay of a login: form-encoded, exactly the two fields, never the client's request. */
function assertIsReplay(request: RecordedRequest, email: string, password: string): void {
  assert.equal(request.method, 'POST');
  assert.equal(request.url, '/login');
  assert.equal(request.headers[CLIENT_MARK], undefined, 'the client request itself reached the upstream');
  assert.equal(request.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(typeof request.headers['x-request-id'], 'string');
  assert.equal(request.body.toString('utf8'), form({ email, password }));
}

// ---------------------------------------------------------------------------------------------

describe('the JSON login API', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });

  test('a correct password answers 200 authenticated with the sidecar session (the upstream cookie stays bound server-side); the session then works', async () => {
    const reply = await login(stack.url, MERCHANT, PASSWORD);
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json(), { status: 'authenticated' });
    const own = setCookieFor(reply.setCookies, 'spg_session');
    assert.ok(own, `no spg_session in ${JSON.stringify(reply.setCookies)}`);
    const attrs = attributes(own);
    assert.ok(attrs.includes('httponly'), own);
    assert.ok(attrs.includes('samesite=lax'), own);
    assert.ok(attrs.includes('path=/'), own);
    assert.ok(!attrs.some((a) => a.startsWith('domain=')), own);
    assert.equal(setCookieFor(reply.setCookies, 'sp_session'), undefined, `the upstream session cookie reached the browser: ${JSON.stringify(reply.setCookies)}`);
    assert.match(String(reply.headers['cache-control']), /no-store/, 'a response that sets session cookies must not be cached');

    const jar = new CookieJar();
    jar.take(reply);
    const profile = await me(stack.url, jar);
    assert.equal(profile.status, 200);
    assert.equal(profile.json()['email'], MERCHANT);
    assert.equal(profile.json()['name'], 'Mia Merchant');
    assert.equal(setCookieFor(profile.setCookies, 'sp_session'), undefined, 'nor through a proxied response');
    assert.ok(await boundUpstreamCookie(stack.url, jar), 'the upstream receives the bound session cookie');
  });

  test('a wrong password answers 401 invalid_credentials and withholds every cookie', async () => {
    const reply = await login(stack.url, OWNER, 'not-the-password');
    assert.equal(reply.status, 401);
    assert.equal(reply.json()['error'], 'invalid_credentials');
    assert.equal(setCookieFor(reply.setCookies, 'spg_session'), undefined);
    assert.equal(setCookieFor(reply.setCookies, 'sp_session'), undefined);
    assert.deepEqual(reply.setCookies.filter((c) => /^(__Host-)?spg_session=|^sp_session=/.test(c)), []);
  });

  test('an unknown account gets exactly the same 401 body as a wrong password', async () => {
    const known = await login(stack.url, OWNER, 'another-wrong-password');
    const unknown = await login(stack.url, 'nobody-here@example.com', 'another-wrong-password');
    assert.equal(known.status, 401);
    assert.equal(unknown.status, 401);
    // attempts_left counts this account's failures from this address (issue 14 item 5), and OWNER
    // failed earlier in this suite: the count may differ, the shape and words may not.
    const shape = (body: Record<string, unknown>) => ({
      ...body,
      attempts_left: typeof body['attempts_left'],
      message: String(body['message']).replace(/\d+ attempts? left/, 'N attempts left'),
    });
    assert.deepEqual(shape(unknown.json()), shape(known.json()));
    assert.equal(unknown.headers['content-type'], known.headers['content-type']);
    assert.deepEqual(unknown.setCookies, []);
  });

  test('a body that is not JSON is refused with 415', async () => {
    const body = JSON.stringify({ email: MERCHANT, password: PASSWORD });
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
      const reply = await send(`${stack.url}/_guard/api/login`, { method: 'POST', headers: { 'content-type': contentType }, body });
      assert.equal(reply.status, 415, `content type ${String(contentType)}`);
      assert.equal(setCookieFor(reply.setCookies, 'spg_session'), undefined);
    }
  });

  test('non-string fields are refused with 400', async () => {
    const reply = await postJson(`${stack.url}/_guard/api/login`, { email: ['a'], password: 1 });
    assert.equal(reply.status, 400);
    assert.equal(setCookieFor(reply.setCookies, 'spg_session'), undefined);
  });

  test('invalid JSON is refused with 400', async () => {
    const reply = await send(`${stack.url}/_guard/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"email": "merchant@example.com", "password": ',
    });
    assert.equal(reply.status, 400);
  });

  test('a body over 16 KiB is refused with 413', async () => {
    const reply = await postJson(`${stack.url}/_guard/api/login`, { email: MERCHANT, password: 'x'.repeat(17 * 1024) });
    assert.equal(reply.status, 413);
  });
});

// ---------------------------------------------------------------------------------------------

describe('the login page (HTML)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });

  test('a browser without a session is sent to the login page with return_to; an API client gets 401 login_required', async () => {
    const html = await send(`${stack.url}/dashboard`, { headers: navigation() });
    assert.equal(html.status, 303);
    assert.equal(html.location, '/_guard/login?return_to=%2Fdashboard');
    const api = await send(`${stack.url}/api/me`, { headers: { accept: 'application/json' } });
    assert.equal(api.status, 401);
    assert.equal(api.json()['error'], 'login_required');
  });

  test('the login page renders a form with a _csrf field and sets spg_csrf', async () => {
    const page = await send(`${stack.url}/_guard/login?return_to=%2Fdashboard`, { headers: navigation() });
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.text, /<form[^>]*method="post"[^>]*action="\/_guard\/login"/);
    assert.ok(csrfFrom(page.text).length >= 20);
    assert.equal(returnToFrom(page.text), '/dashboard');
    const csrf = setCookieFor(page.setCookies, 'spg_csrf');
    assert.ok(csrf, `no spg_csrf cookie: ${JSON.stringify(page.setCookies)}`);
    assert.ok(attributes(csrf).includes('httponly'));
  });

  test('posting the form with the token, its cookie and return_to signs in and lands on return_to', async () => {
    const jar = new CookieJar();
    const first = await send(`${stack.url}/dashboard`, { headers: navigation() });
    assert.equal(first.status, 303);
    const { token, page } = await openLoginPage(stack.url, jar, (first.location ?? '').replace('/_guard/login', ''));
    assert.ok(jar.has('spg_csrf'));
    const returnTo = returnToFrom(page.text);
    assert.equal(returnTo, '/dashboard');
    const posted = jar.take(
      await send(`${stack.url}/_guard/login`, {
        method: 'POST',
        headers: { ...sameOriginForm(stack.url), cookie: jar.header() },
        body: form({ _csrf: token, return_to: returnTo ?? '', email: MERCHANT, password: PASSWORD }),
      }),
    );
    assert.equal(posted.status, 303);
    assert.equal(posted.location, '/dashboard');
    assert.ok(setCookieFor(posted.setCookies, 'spg_session'));
    assert.equal(setCookieFor(posted.setCookies, 'sp_session'), undefined, 'the upstream session cookie stays server-side');
    const dashboard = await send(`${stack.url}/dashboard`, { headers: { ...navigation(), cookie: jar.header() } });
    assert.equal(dashboard.status, 200);
    assert.match(dashboard.text, /Welcome back, Mia Merchant/);
  });

  test('a wrong password shows the login page again with 401, the generic message and no session cookie', async () => {
    const jar = new CookieJar();
    const { token } = await openLoginPage(stack.url, jar);
    const posted = await send(`${stack.url}/_guard/login`, {
      method: 'POST',
      headers: { ...sameOriginForm(stack.url), cookie: jar.header() },
      body: form({ _csrf: token, return_to: '/dashboard', email: OWNER, password: 'wrong-password' }),
    });
    assert.equal(setCookieFor(posted.setCookies, 'spg_session'), undefined);
    assert.equal(setCookieFor(posted.setCookies, 'sp_session'), undefined);
    const shown = await followRefusal(stack.url, posted, jar);
    assert.equal(shown.status, 401);
    assert.match(String(shown.headers['content-type']), /^text\/html/);
    assert.ok(shown.text.includes(GENERIC_FAILURE), shown.text);
    assert.match(shown.text, /name="_csrf"/);
    assert.match(shown.text, new RegExp(`value="${OWNER.replace('.', '\\.')}"`), 'the identifier stays in the field');
    // Shown once: a reload of the page is a plain sign-in page.
    const again = await send(`${stack.url}${posted.location as string}`, { headers: { ...navigation(), cookie: jar.header() } });
    assert.equal(again.status, 200);
    assert.ok(!again.text.includes(GENERIC_FAILURE));
    assert.equal((await me(stack.url, jar)).status, 401);
  });
});

// ---------------------------------------------------------------------------------------------

describe('the intercepted legacy login route', () => {
  let rs: RecordedStack;
  before(async () => {
    rs = await startRecordedStack();
  });
  after(async () => {
    await rs.close();
  });

  const legacyPost = (fields: Record<string, string>, jar = new CookieJar()): Promise<Reply> =>
    send(`${rs.url}/login`, {
      method: 'POST',
      headers: { ...sameOriginForm(rs.url), [CLIENT_MARK]: '1', cookie: jar.header() },
      body: form(fields),
    }).then((r) => jar.take(r));

  test('a same-origin POST /login with the legacy fields signs in through the sidecar (303 to /dashboard, the sidecar cookie only)', async () => {
    rs.recorder.requests.length = 0;
    const jar = new CookieJar();
    const reply = await legacyPost({ email: MERCHANT, password: PASSWORD }, jar);
    assert.equal(reply.status, 303);
    assert.equal(reply.location, '/dashboard');
    assert.ok(setCookieFor(reply.setCookies, 'spg_session'), 'the client did not get the sidecar session');
    assert.equal(setCookieFor(reply.setCookies, 'sp_session'), undefined, 'the upstream session cookie stays server-side');
    const logins = rs.recorder.matching('POST', '/login');
    assert.equal(logins.length, 1, 'exactly one (server-side) login check reached the upstream');
    assertIsReplay(logins[0] as RecordedRequest, MERCHANT, PASSWORD);
    assert.deepEqual(rs.recorder.requests.filter((r) => r.headers[CLIENT_MARK] !== undefined), []);
    const profile = await me(rs.url, jar);
    assert.equal(profile.status, 200);
    assert.equal(profile.json()['email'], MERCHANT);
  });

  test('a wrong password on POST /login answers with the sidecar login page (401) and no cookies', async () => {
    rs.recorder.requests.length = 0;
    const reply = await legacyPost({ email: OWNER, password: 'wrong-password' });
    const shown = await followRefusal(rs.url, reply);
    assert.equal(shown.status, 401);
    assert.match(String(shown.headers['content-type']), /^text\/html/);
    assert.ok(shown.text.includes(GENERIC_FAILURE));
    assert.match(shown.text, /action="\/_guard\/login"/);
    assert.equal(setCookieFor(reply.setCookies, 'spg_session'), undefined);
    assert.equal(setCookieFor(reply.setCookies, 'sp_session'), undefined);
    const logins = rs.recorder.matching('POST', '/login');
    assert.equal(logins.length, 1);
    assertIsReplay(logins[0] as RecordedRequest, OWNER, 'wrong-password');
  });

  test('GET /login (old bookmarks) leads to the sidecar login page', async () => {
    rs.recorder.requests.length = 0;
    const reply = await send(`${rs.url}/login`, { headers: { ...navigation(), [CLIENT_MARK]: '1' } });
    assert.equal(reply.status, 303);
    assert.match(reply.location ?? '', /^\/_guard\/login(\?|$)/);
    assert.deepEqual(rs.recorder.requests, []);
  });

  test('text/plain, multipart/form-data and a missing content type are refused with 415 and reach nobody', async () => {
    rs.recorder.requests.length = 0;
    const boundary = 'spgboundary';
    const multipart =
      `--${boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\n${MERCHANT}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="password"\r\n\r\n${PASSWORD}\r\n--${boundary}--\r\n`;
    const cases: Array<[string | undefined, string]> = [
      ['text/plain', form({ email: MERCHANT, password: PASSWORD })],
      [`multipart/form-data; boundary=${boundary}`, multipart],
      [undefined, form({ email: MERCHANT, password: PASSWORD })],
    ];
    for (const [contentType, body] of cases) {
      const reply = await send(`${rs.url}/login`, {
        method: 'POST',
        headers: { ...sameOriginForm(rs.url), 'content-type': contentType, [CLIENT_MARK]: '1' },
        body,
      });
      assert.equal(reply.status, 415, `content type ${String(contentType)}`);
      assert.equal(setCookieFor(reply.setCookies, 'spg_session'), undefined);
    }
    assert.deepEqual(rs.recorder.requests, []);
  });
});

// ---------------------------------------------------------------------------------------------

describe('the upstream is down', () => {
  test('a login answers 503 login_unavailable when the upstream port is closed', async () => {
    const port = await closedPort();
    await withStack({ upstreamUrl: `http://127.0.0.1:${port}` }, async (stack) => {
      const reply = await login(stack.url, MERCHANT, PASSWORD);
      assert.equal(reply.status, 503);
      assert.equal(reply.json()['error'], 'login_unavailable');
      assert.deepEqual(reply.setCookies, []);
      const html = await send(`${stack.url}/login`, { method: 'POST', headers: sameOriginForm(stack.url), body: form({ email: MERCHANT, password: PASSWORD }) });
      assert.equal((await followRefusal(stack.url, html)).status, 503);
      assert.equal(setCookieFor(html.setCookies, 'spg_session'), undefined);
    });
  });

  test('attempts while the upstream is down do not count: afterwards the correct password still succeeds', async () => {
    await withRecordedStack({}, async (rs) => {
      rs.recorder.down = true;
      for (let i = 0; i < 5; i++) {
        const right = await login(rs.url, MERCHANT, PASSWORD);
        assert.equal(right.status, 503, `attempt ${i + 1} with the right password`);
        assert.equal(right.json()['error'], 'login_unavailable');
        const wrong = await login(rs.url, MERCHANT, 'wrong-password');
        assert.equal(wrong.status, 503, `attempt ${i + 1} with a wrong password`);
      }
      rs.recorder.down = false;
      const reply = await login(rs.url, MERCHANT, PASSWORD);
      assert.equal(reply.status, 200, reply.text);
      assert.deepEqual(reply.json(), { status: 'authenticated' });
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('regulation of failed logins', () => {
  test('3 wrong passwords, then the right one: 429 too_many_attempts with retry_after and Retry-After; the upstream is not asked', async () => {
    await withRecordedStack({}, async (rs) => {
      for (let i = 0; i < 3; i++) assert.equal((await login(rs.url, MERCHANT, `wrong-${i}`)).status, 401);
      const before = rs.recorder.matching('POST', '/login').length;
      assert.equal(before, 3);
      const reply = await login(rs.url, MERCHANT, PASSWORD);
      assert.equal(reply.status, 429);
      const body = reply.json();
      assert.equal(body['error'], 'too_many_attempts');
      const retryAfter = body['retry_after'];
      assert.equal(typeof retryAfter, 'number');
      assert.ok(Number.isInteger(retryAfter) && (retryAfter as number) >= 1 && (retryAfter as number) <= 300, `retry_after ${String(retryAfter)}`);
      assert.equal(reply.headers['retry-after'], String(retryAfter));
      assert.deepEqual(reply.setCookies, []);
      assert.equal(rs.recorder.matching('POST', '/login').length, before, 'a banned account must not reach the upstream');

      // The login page and the intercepted form are regulated the same way.
      const html = await send(`${rs.url}/login`, { method: 'POST', headers: sameOriginForm(rs.url), body: form({ email: MERCHANT, password: PASSWORD }) });
      assert.ok(html.headers['retry-after']);
      const shown = await followRefusal(rs.url, html);
      assert.equal(shown.status, 429);
      assert.match(shown.text, /Too many failed attempts/);
      assert.equal(setCookieFor(html.setCookies, 'spg_session'), undefined);
    });
  });

  test('an unknown account is regulated exactly like a known one (no existence oracle)', async () => {
    const clock = new ManualClock();
    await withStack({ clock }, async (stack) => {
      const known: Reply[] = [];
      const unknown: Reply[] = [];
      for (let i = 0; i < 4; i++) {
        known.push(await login(stack.url, MERCHANT, `wrong-${i}`));
        unknown.push(await login(stack.url, 'no-such-merchant@example.com', `wrong-${i}`));
      }
      assert.deepEqual(known.map((r) => r.status), [401, 401, 401, 429]);
      assert.deepEqual(unknown.map((r) => r.status), known.map((r) => r.status));
      for (let i = 0; i < 4; i++) {
        assert.deepEqual(unknown[i]?.json(), known[i]?.json(), `answer ${i + 1}`);
        assert.equal(unknown[i]?.headers['retry-after'], known[i]?.headers['retry-after']);
      }
      // Even the right password of the known account is refused now, like anything for the unknown one.
      const right = await login(stack.url, MERCHANT, PASSWORD);
      assert.equal(right.status, 429);
      assert.deepEqual(right.json(), (await login(stack.url, 'no-such-merchant@example.com', PASSWORD)).json());
    });
  });

  test('200 parallel wrong passwords for one account: the upstream sees at most 3, answers are 3 × 401 and 197 × 429', async () => {
    await withRecordedStack({}, async (rs) => {
      const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => login(rs.url, MERCHANT, `parallel-wrong-${i}`)));
      const statuses = new Map<number, number>();
      for (const r of replies) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      assert.deepEqual(Object.fromEntries(statuses), { 401: 3, 429: 197 });
      for (const r of replies.filter((x) => x.status === 429)) assert.equal(r.json()['error'], 'too_many_attempts');
      const checks = rs.recorder.matching('POST', '/login');
      assert.ok(checks.length <= 3, `the upstream saw ${checks.length} login checks`);
      assert.equal(checks.length, 3);
    });
  });

  test('a ban ends when its time is up (injected clock), and the next one lasts longer', async () => {
    const clock = new ManualClock();
    await withStack({ clock }, async (stack) => {
      for (let i = 0; i < 3; i++) assert.equal((await login(stack.url, MERCHANT, `wrong-${i}`)).status, 401);
      const banned = await login(stack.url, MERCHANT, PASSWORD);
      assert.equal(banned.status, 429);
      assert.equal(banned.json()['retry_after'], 300);
      assert.equal(banned.headers['retry-after'], '300');

      clock.advance(299_000);
      const almost = await login(stack.url, MERCHANT, PASSWORD);
      assert.equal(almost.status, 429);
      assert.equal(almost.json()['retry_after'], 1);

      clock.advance(2_000);
      const free = await login(stack.url, MERCHANT, PASSWORD);
      assert.equal(free.status, 200, free.text);

      // A repeat offence within a day bans for twice as long (growing lockout).
      for (let i = 0; i < 3; i++) assert.equal((await login(stack.url, MERCHANT, `again-${i}`)).status, 401);
      const again = await login(stack.url, MERCHANT, PASSWORD);
      assert.equal(again.status, 429);
      assert.equal(again.json()['retry_after'], 600);
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('session lifetimes over HTTP (injected clock)', () => {
  async function withClockStack(fn: (stack: Stack, clock: ManualClock) => Promise<void>): Promise<void> {
    const clock = new ManualClock();
    await withStack({ clock, config: { session: sessionConfig({ idle_timeout: '30m', absolute_lifetime: '12h' }) } }, (stack) => fn(stack, clock));
  }

  test('after 31 idle minutes the next request answers 401 login_required (API) or 303 (HTML); use keeps a session alive', async () => {
    await withClockStack(async (stack, clock) => {
      const api = new CookieJar();
      const browser = new CookieJar();
      await apiSignIn(stack.url, api);
      await apiSignIn(stack.url, browser);

      clock.advance(29 * 60_000);
      assert.equal((await me(stack.url, api)).status, 200, 'used after 29 minutes');

      clock.advance(2 * 60_000); // browser: 31 minutes idle; api: 2 minutes
      const html = await send(`${stack.url}/dashboard`, { headers: { ...navigation(), cookie: browser.header() } });
      assert.equal(html.status, 303);
      assert.equal(html.location, '/_guard/login?return_to=%2Fdashboard');
      assert.equal((await me(stack.url, api)).status, 200, 'a session in use stays alive');

      clock.advance(31 * 60_000);
      const expired = await me(stack.url, api);
      assert.equal(expired.status, 401);
      assert.equal(expired.json()['error'], 'login_required');
      // Idle expiry is final: going back in use does not revive it.
      assert.equal((await me(stack.url, api)).status, 401);
    });
  });

  test('the absolute lifetime (12 h) ends a session that kept being used', async () => {
    await withClockStack(async (stack, clock) => {
      const jar = new CookieJar();
      await apiSignIn(stack.url, jar);
      let elapsed = 0;
      while (elapsed + 25 * 60_000 < 12 * 3_600_000) {
        clock.advance(25 * 60_000);
        elapsed += 25 * 60_000;
        assert.equal((await me(stack.url, jar)).status, 200, `in use after ${elapsed / 60_000} minutes`);
      }
      clock.advance(25 * 60_000);
      const ended = await me(stack.url, jar);
      assert.equal(ended.status, 401);
      assert.equal(ended.json()['error'], 'login_required');
    });
  });

  test('revokeUser ends every session of the user on the very next request, and no one else\'s', async () => {
    await withClockStack(async (stack) => {
      const first = new CookieJar();
      const second = new CookieJar();
      const other = new CookieJar();
      await apiSignIn(stack.url, first);
      await apiSignIn(stack.url, second);
      await apiSignIn(stack.url, other, OWNER);
      assert.equal((await me(stack.url, first)).status, 200);
      assert.equal((await me(stack.url, second)).status, 200);

      await stack.guard.sessions.revokeUser(MERCHANT);
      const revoked = await me(stack.url, first);
      assert.equal(revoked.status, 401);
      assert.equal(revoked.json()['error'], 'login_required');
      assert.equal((await me(stack.url, second)).status, 401);
      assert.equal((await me(stack.url, other)).status, 200);

      // Signing in again afterwards works.
      const fresh = new CookieJar();
      await apiSignIn(stack.url, fresh);
      assert.equal((await me(stack.url, fresh)).status, 200);
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('logout', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });

  test('POST /_guard/api/logout ends the sidecar session and the upstream session and clears both cookies', async () => {
    const jar = new CookieJar();
    await apiSignIn(stack.url, jar);
    const old = jar.clone();
    const upstreamCookie = `sp_session=${(await boundUpstreamCookie(stack.url, jar)) ?? ''}`;
    assert.equal((await me(stack.upstreamUrl, upstreamCookie)).status, 200, 'the bound upstream session works directly (control)');

    const reply = jar.take(await send(`${stack.url}/_guard/api/logout`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: jar.header() }, body: '{}' }));
    assert.equal(reply.status, 200);
    assert.ok(clearsCookie(reply.setCookies, 'spg_session'), JSON.stringify(reply.setCookies));
    assert.ok(clearsCookie(reply.setCookies, 'sp_session'), JSON.stringify(reply.setCookies));
    // No session cookie stays (a device cookie, if the sign-in set one, may: it is not a session).
    assert.doesNotMatch(jar.header() ?? '', /spg_session|sp_session|spg_pending/);

    const after = await me(stack.url, old);
    assert.equal(after.status, 401);
    assert.equal(after.json()['error'], 'login_required');
    assert.equal((await me(stack.upstreamUrl, upstreamCookie)).status, 401, 'the upstream session must end too');
  });

  test('GET /logout leads to the confirmation page without logging out; its form logs out', async () => {
    const jar = new CookieJar();
    await apiSignIn(stack.url, jar);
    const upstreamCookie = `sp_session=${(await boundUpstreamCookie(stack.url, jar)) ?? ''}`;
    assert.equal((await me(stack.upstreamUrl, upstreamCookie)).status, 200, 'the bound upstream session works directly (control)');

    const legacy = await send(`${stack.url}/logout`, { headers: { ...navigation(), cookie: jar.header() } });
    assert.equal(legacy.status, 303);
    assert.equal(legacy.location, '/_guard/logout');
    assert.deepEqual(legacy.setCookies.filter((c) => /spg_session|sp_session/.test(c)), []);
    assert.equal((await me(stack.url, jar)).status, 200, 'GET /logout changed state');

    const confirm = await send(`${stack.url}/_guard/logout`, { headers: { ...navigation(), cookie: jar.header() } });
    assert.equal(confirm.status, 200);
    assert.match(confirm.text, /<form[^>]*method="post"[^>]*action="\/_guard\/logout"/);
    assert.equal((await me(stack.url, jar)).status, 200, 'GET /_guard/logout changed state');
    const old = jar.clone();

    const posted = jar.take(
      await send(`${stack.url}/_guard/logout`, {
        method: 'POST',
        headers: { ...sameOriginForm(stack.url), cookie: jar.header() },
        body: form({ _csrf: csrfFrom(confirm.text) }),
      }),
    );
    assert.equal(posted.status, 303);
    assert.match(posted.location ?? '', /^\/_guard\/login/);
    assert.ok(clearsCookie(posted.setCookies, 'spg_session'));
    assert.ok(clearsCookie(posted.setCookies, 'sp_session'));
    assert.equal((await me(stack.url, old)).status, 401);
    assert.equal((await me(stack.upstreamUrl, upstreamCookie)).status, 401);
  });

  test('the legacy sign-out form (same-origin POST /logout) ends both sessions', async () => {
    const jar = new CookieJar();
    await apiSignIn(stack.url, jar);
    const old = jar.clone();
    const upstreamCookie = `sp_session=${(await boundUpstreamCookie(stack.url, jar)) ?? ''}`;
    assert.equal((await me(stack.upstreamUrl, upstreamCookie)).status, 200, 'the bound upstream session works directly (control)');
    const reply = await send(`${stack.url}/logout`, { method: 'POST', headers: { ...sameOriginForm(stack.url), cookie: jar.header() }, body: '' });
    assert.equal(reply.status, 303);
    assert.ok(clearsCookie(reply.setCookies, 'spg_session'));
    assert.equal((await me(stack.url, old)).status, 401);
    assert.equal((await me(stack.upstreamUrl, upstreamCookie)).status, 401);
  });
});

// ---------------------------------------------------------------------------------------------

describe('upstream cookie binding', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ policy: BINDING_POLICY });
  });
  after(async () => {
    await stack.close();
  });

  test('a valid upstream cookie without a sidecar session gets no access and does not reach the upstream', async () => {
    const sp = await upstreamSession(stack.upstreamUrl);
    assert.equal((await me(stack.upstreamUrl, `sp_session=${sp}`)).status, 200, 'the cookie is valid at the demo app (control)');

    const denied = await me(stack.url, `sp_session=${sp}`);
    assert.equal(denied.status, 401);
    assert.equal(denied.json()['error'], 'login_required');

    for (const cookie of [`sp_session=${sp}`, `theme=dark; sp_session=${sp}`, `spg_session=Fe26.2*forged; sp_session=${sp}`]) {
      const echo = await send(`${stack.url}/debug/request`, { headers: { accept: 'application/json', cookie } });
      assert.equal(echo.status, 200);
      const received = cookiePairs(echoedCookie(echo));
      assert.deepEqual(received.filter(([name]) => name === 'sp_session'), [], `sent ${cookie}`);
      assert.deepEqual(received.filter(([name]) => name.includes('spg_')), []);
    }
  });

  test('with a full sidecar session, a forged or tossed sp_session is replaced by the bound one', async () => {
    const jar = new CookieJar();
    await apiSignIn(stack.url, jar);
    const bound = await boundUpstreamCookie(stack.url, jar);
    assert.ok(bound);
    const ownerSession = await upstreamSession(stack.upstreamUrl, OWNER);
    for (const forged of ['attacker', ownerSession]) {
      const cookie = `sp_session=${forged}; spg_session=${jar.get('spg_session') ?? ''}`;
      const echo = await send(`${stack.url}/debug/request`, { headers: { accept: 'application/json', cookie } });
      assert.equal(echo.status, 200);
      const received = cookiePairs(echoedCookie(echo)).filter(([name]) => name === 'sp_session');
      assert.deepEqual(received, [['sp_session', bound]]);
      const profile = await me(stack.url, cookie);
      assert.equal(profile.status, 200);
      assert.equal(profile.json()['email'], MERCHANT, 'the tossed upstream session of another account was used');
    }
  });
});

