import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  boundUpstreamCookie,
  CookieJar,
  HTML_ACCEPT,
  apiSignIn,
  csrfFrom,
  form,
  me,
  navigation,
  openLoginPage,
  sameOriginForm,
  send,
  setCookieFor,
  startRecordedStack,
  type RecordedStack,
  type Reply,
} from '../helpers/browser-like.ts';

/**
 * A same-site sign-in form with a bad token changes nothing and is answered like every refused
 * form (Post/Redirect/Get): 303 to the sign-in page, which says the form expired, with status 403.
 */
async function assertFormRefused(url: string, reply: Reply, jar = new CookieJar()): Promise<void> {
  assert.equal(reply.status, 303, reply.text);
  assert.match(reply.location ?? '', /^\/_guard\/login\?return_to=/);
  jar.take(reply);
  const page = await send(`${url}${reply.location as string}`, { headers: { ...navigation(), cookie: jar.header() } });
  assert.equal(page.status, 403);
  assert.match(page.text, /This form has expired/);
}

/**
 * THREATS T7, CSRF (OWASP CSRF cheat sheet; login CSRF). A page on another site can make the
 * victim's browser POST forms to every sign-in and sign-out endpoint. Each such request must get
 * 403 and change nothing: no session is created (and no credential check reaches the upstream),
 * and a signed-in victim stays signed in, at the sidecar and at the upstream.
 */

const MERCHANT = 'merchant@example.com';
const OWNER = 'owner@example.com';
const PASSWORD = 'smartpush-demo';

let rs: RecordedStack;
before(async () => {
  rs = await startRecordedStack();
});
after(async () => {
  await rs.close();
});

/** How a hostile page's request differs from a same-origin one. */
interface CrossSiteVariant {
  readonly name: string;
  headers(own: string): Record<string, string | undefined>;
}

const CROSS_SITE: readonly CrossSiteVariant[] = [
  { name: 'Sec-Fetch-Site: cross-site (with a foreign Origin)', headers: () => ({ 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }) },
  { name: 'Sec-Fetch-Site: cross-site (same Origin claimed)', headers: (own) => ({ 'sec-fetch-site': 'cross-site', origin: own }) },
  { name: 'Sec-Fetch-Site: same-site (a sibling subdomain)', headers: () => ({ 'sec-fetch-site': 'same-site', origin: undefined }) },
  { name: 'a foreign Origin only', headers: () => ({ 'sec-fetch-site': undefined, origin: 'https://evil.example' }) },
  { name: 'a foreign Origin on the same host, other port', headers: (own) => ({ 'sec-fetch-site': undefined, origin: own.replace(/:\d+$/, ':1') }) },
  { name: 'a foreign Origin on the same host, https', headers: (own) => ({ 'sec-fetch-site': undefined, origin: own.replace(/^http:/, 'https:') }) },
  { name: 'a look-alike Origin', headers: (own) => ({ 'sec-fetch-site': undefined, origin: `${own}.evil.example` }) },
  { name: 'Origin: null (sandboxed frame, data: URL)', headers: () => ({ 'sec-fetch-site': undefined, origin: 'null' }) },
];

/** A form POST as a browser would send it, with the hostile variant's headers over the same-origin ones. */
function hostilePost(path: string, variant: CrossSiteVariant, cookie: string | undefined, body: string, contentType = 'application/x-www-form-urlencoded'): Promise<Reply> {
  const headers: Record<string, string | undefined> = { ...sameOriginForm(rs.url), 'content-type': contentType, cookie, ...variant.headers(rs.url) };
  return send(`${rs.url}${path}`, { method: 'POST', headers, body });
}

function assertNoSessionIssued(reply: Reply): void {
  assert.equal(setCookieFor(reply.setCookies, 'spg_session'), undefined, `a session was issued: ${JSON.stringify(reply.setCookies)}`);
  assert.equal(setCookieFor(reply.setCookies, 'sp_session'), undefined, `an upstream session was released: ${JSON.stringify(reply.setCookies)}`);
}

function assertNothingCleared(reply: Reply): void {
  assert.deepEqual(reply.setCookies.filter((c) => /^(__Host-)?spg_session=|^sp_session=/.test(c)), [], 'a cookie was changed');
}

/** The victim is still signed in at the sidecar and at the upstream. */
async function assertStillSignedIn(jar: CookieJar, email = MERCHANT): Promise<void> {
  const profile = await me(rs.url, jar);
  assert.equal(profile.status, 200, 'the victim was signed out');
  assert.equal(profile.json()['email'], email, 'the victim\'s session now names another account');
  // The bound upstream session stays server-side (never in the browser): read it as the upstream receives it.
  const bound = await boundUpstreamCookie(rs.url, jar);
  assert.ok(bound, 'the sidecar session still carries its bound upstream session');
  const upstream = await me(rs.demoUrl, `sp_session=${bound}`);
  assert.equal(upstream.status, 200, 'the upstream session was ended');
}

function upstreamLoginChecks(): number {
  return rs.recorder.matching('POST', '/login').length;
}

// ---------------------------------------------------------------------------------------------

describe('sign-in endpoints refuse cross-site requests (login CSRF)', () => {
  for (const variant of CROSS_SITE) {
    test(`POST /_guard/login with ${variant.name}: 403, no session`, async () => {
      // Even with a perfectly valid token and cookie: the browser says the request is not ours.
      const jar = new CookieJar();
      const { token } = await openLoginPage(rs.url, jar);
      const checks = upstreamLoginChecks();
      const reply = await hostilePost('/_guard/login', variant, jar.header(), form({ _csrf: token, email: OWNER, password: PASSWORD }));
      assert.equal(reply.status, 403);
      assertNoSessionIssued(reply);
      assert.equal(upstreamLoginChecks(), checks, 'the credentials were checked');
    });

    test(`POST /_guard/api/login with ${variant.name}: 403, no session`, async () => {
      const checks = upstreamLoginChecks();
      // text/plain is what a cross-site form can send without a preflight; JSON is what fetch() would.
      for (const [contentType, body] of [
        ['application/json', JSON.stringify({ email: OWNER, password: PASSWORD })],
        ['text/plain', JSON.stringify({ email: OWNER, password: PASSWORD })],
        ['application/x-www-form-urlencoded', form({ email: OWNER, password: PASSWORD })],
      ] as const) {
        const reply = await hostilePost('/_guard/api/login', variant, undefined, body, contentType);
        assert.equal(reply.status, 403, `as ${contentType}`);
        assertNoSessionIssued(reply);
      }
      assert.equal(upstreamLoginChecks(), checks, 'the credentials were checked');
    });

    test(`the intercepted POST /login with ${variant.name}: 403, no session, the victim keeps theirs`, async () => {
      const victim = new CookieJar();
      await apiSignIn(rs.url, victim);
      const checks = upstreamLoginChecks();
      const reply = await hostilePost('/login', variant, victim.header(), form({ email: OWNER, password: PASSWORD }));
      assert.equal(reply.status, 403);
      assertNoSessionIssued(reply);
      assert.equal(upstreamLoginChecks(), checks, 'the credentials were checked');
      await assertStillSignedIn(victim);
    });
  }

  test('POST /_guard/login without a _csrf field: 403, no session', async () => {
    const jar = new CookieJar();
    await openLoginPage(rs.url, jar);
    const checks = upstreamLoginChecks();
    const reply = await send(`${rs.url}/_guard/login`, {
      method: 'POST',
      headers: { ...sameOriginForm(rs.url), cookie: jar.header() },
      body: form({ email: OWNER, password: PASSWORD }),
    });
    await assertFormRefused(rs.url, reply, jar);
    assertNoSessionIssued(reply);
    assert.equal(upstreamLoginChecks(), checks);
  });

  for (const [name, token] of [
    ['an empty _csrf', ''],
    ['a wrong _csrf', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['a truncated _csrf', 'truncated'],
  ] as const) {
    test(`POST /_guard/login with ${name}: 403, no session`, async () => {
      const jar = new CookieJar();
      await openLoginPage(rs.url, jar);
      const checks = upstreamLoginChecks();
      const reply = await send(`${rs.url}/_guard/login`, {
        method: 'POST',
        headers: { ...sameOriginForm(rs.url), cookie: jar.header() },
        body: form({ _csrf: token, email: OWNER, password: PASSWORD }),
      });
      await assertFormRefused(rs.url, reply, jar);
      assertNoSessionIssued(reply);
      assert.equal(upstreamLoginChecks(), checks);
    });
  }

  test('POST /_guard/login with a token that belongs to another visitor\'s cookie: 403, no session', async () => {
    const attacker = new CookieJar();
    const victim = new CookieJar();
    const { token: attackerToken } = await openLoginPage(rs.url, attacker);
    const { token: victimToken } = await openLoginPage(rs.url, victim);
    assert.notEqual(attacker.get('spg_csrf'), victim.get('spg_csrf'));
    assert.notEqual(attackerToken, victimToken);
    const checks = upstreamLoginChecks();
    // The attacker's token in the victim's browser (login CSRF with a lifted token)…
    const lifted = await send(`${rs.url}/_guard/login`, {
      method: 'POST',
      headers: { ...sameOriginForm(rs.url), cookie: victim.header() },
      body: form({ _csrf: attackerToken, email: OWNER, password: PASSWORD }),
    });
    await assertFormRefused(rs.url, lifted, victim);
    assertNoSessionIssued(lifted);
    // …and without any pre-login cookie at all.
    const bare = await send(`${rs.url}/_guard/login`, {
      method: 'POST',
      headers: sameOriginForm(rs.url),
      body: form({ _csrf: attackerToken, email: OWNER, password: PASSWORD }),
    });
    await assertFormRefused(rs.url, bare);
    assertNoSessionIssued(bare);
    assert.equal(upstreamLoginChecks(), checks);
  });

  test('control: the same-origin form with its own token signs in', async () => {
    const jar = new CookieJar();
    const { token } = await openLoginPage(rs.url, jar);
    const reply = jar.take(
      await send(`${rs.url}/_guard/login`, {
        method: 'POST',
        headers: { ...sameOriginForm(rs.url), cookie: jar.header() },
        body: form({ _csrf: token, email: OWNER, password: PASSWORD }),
      }),
    );
    assert.equal(reply.status, 303);
    assert.ok(setCookieFor(reply.setCookies, 'spg_session'));
    await assertStillSignedIn(jar, OWNER);
  });
});

// ---------------------------------------------------------------------------------------------

describe('sign-out endpoints refuse cross-site requests (logout CSRF)', () => {
  for (const variant of CROSS_SITE) {
    test(`POST /_guard/logout with ${variant.name}: 403, still signed in`, async () => {
      const victim = new CookieJar();
      await apiSignIn(rs.url, victim);
      // A valid token, even: the browser says the request is not ours.
      const page = await send(`${rs.url}/_guard/logout`, { headers: { ...navigation(), cookie: victim.header() } });
      const reply = await hostilePost('/_guard/logout', variant, victim.header(), form({ _csrf: csrfFrom(page.text) }));
      assert.equal(reply.status, 403);
      assertNothingCleared(reply);
      await assertStillSignedIn(victim);
    });

    test(`POST /_guard/api/logout with ${variant.name}: 403, still signed in`, async () => {
      const victim = new CookieJar();
      await apiSignIn(rs.url, victim);
      for (const [contentType, body] of [
        ['application/json', '{}'],
        ['text/plain', '{}'],
        ['application/x-www-form-urlencoded', ''],
      ] as const) {
        const reply = await hostilePost('/_guard/api/logout', variant, victim.header(), body, contentType);
        assert.equal(reply.status, 403, `as ${contentType}`);
        assertNothingCleared(reply);
      }
      await assertStillSignedIn(victim);
    });

    test(`the intercepted POST /logout with ${variant.name}: 403, still signed in`, async () => {
      const victim = new CookieJar();
      await apiSignIn(rs.url, victim);
      const reply = await hostilePost('/logout', variant, victim.header(), '');
      assert.equal(reply.status, 403);
      assertNothingCleared(reply);
      await assertStillSignedIn(victim);
    });
  }

  for (const [name, token] of [
    ['without a _csrf field', undefined],
    ['with an empty _csrf', ''],
    ['with a wrong _csrf', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
  ] as const) {
    test(`POST /_guard/logout ${name}: 403, still signed in`, async () => {
      const victim = new CookieJar();
      await apiSignIn(rs.url, victim);
      const reply = await send(`${rs.url}/_guard/logout`, {
        method: 'POST',
        headers: { ...sameOriginForm(rs.url), cookie: victim.header() },
        body: form(token === undefined ? {} : { _csrf: token }),
      });
      assert.equal(reply.status, 403);
      assertNothingCleared(reply);
      await assertStillSignedIn(victim);
    });
  }

  test('POST /_guard/logout with a token from another user\'s session: 403, still signed in', async () => {
    const victim = new CookieJar();
    const attacker = new CookieJar();
    await apiSignIn(rs.url, victim);
    await apiSignIn(rs.url, attacker, OWNER);
    const attackerPage = await send(`${rs.url}/_guard/logout`, { headers: { ...navigation(), cookie: attacker.header() } });
    const reply = await send(`${rs.url}/_guard/logout`, {
      method: 'POST',
      headers: { ...sameOriginForm(rs.url), cookie: victim.header() },
      body: form({ _csrf: csrfFrom(attackerPage.text) }),
    });
    assert.equal(reply.status, 403);
    assertNothingCleared(reply);
    await assertStillSignedIn(victim);
    await assertStillSignedIn(attacker, OWNER);
  });

  test('POST /_guard/logout with a pre-login token (from the login page): 403, still signed in', async () => {
    const victim = new CookieJar();
    await apiSignIn(rs.url, victim);
    // A token minted for the visitor's pre-login nonce is not a token for the session.
    const loginJar = victim.clone();
    loginJar.delete('spg_session');
    const { token } = await openLoginPage(rs.url, loginJar);
    const reply = await send(`${rs.url}/_guard/logout`, {
      method: 'POST',
      headers: { ...sameOriginForm(rs.url), cookie: `${victim.header() ?? ''}; spg_csrf=${loginJar.get('spg_csrf') ?? ''}` },
      body: form({ _csrf: token }),
    });
    assert.equal(reply.status, 403);
    assertNothingCleared(reply);
    await assertStillSignedIn(victim);
  });

  test('control: the same-origin confirmation form with its token signs out', async () => {
    const victim = new CookieJar();
    await apiSignIn(rs.url, victim);
    const page = await send(`${rs.url}/_guard/logout`, { headers: { ...navigation(), cookie: victim.header() } });
    const reply = await send(`${rs.url}/_guard/logout`, {
      method: 'POST',
      headers: { ...sameOriginForm(rs.url), accept: HTML_ACCEPT, cookie: victim.header() },
      body: form({ _csrf: csrfFrom(page.text) }),
    });
    assert.equal(reply.status, 303);
    assert.equal((await me(rs.url, victim)).status, 401);
  });
});
