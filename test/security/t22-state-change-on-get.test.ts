import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CookieJar,
  apiSignIn,
  csrfFrom,
  form,
  me,
  sameOriginForm,
  send,
  startRecordedStack,
  type RecordedStack,
} from '../helpers/browser-like.ts';

/**
 * THREATS T22 — state change on GET. A cross-site top-level navigation carries SameSite=Lax
 * cookies, so a link on any site to the app's own login or logout URL (intercepted by the sidecar)
 * must change nothing: no sign-out (of the sidecar or of the app), no sign-in, nothing sent to the
 * upstream's logout. A signed-in visitor sees who is signed in, a sign-out button that POSTs with
 * a CSRF token, and the way on; the visit is audited.
 */

const MERCHANT = 'merchant@example.com';
/** What a browser sends for a top-level navigation started by another site's link. */
const CROSS_SITE_LINK = {
  'sec-fetch-site': 'cross-site',
  'sec-fetch-mode': 'navigate',
  'sec-fetch-dest': 'document',
  'sec-fetch-user': '?1',
  referer: 'https://evil.example/',
  accept: 'text/html,application/xhtml+xml',
};

let rs: RecordedStack;
before(async () => {
  rs = await startRecordedStack();
});
after(async () => {
  await rs.close();
});

/** Signed in, with both sessions shown to work. */
async function signedIn(): Promise<CookieJar> {
  const jar = new CookieJar();
  await apiSignIn(rs.url, jar);
  assert.equal((await me(rs.url, jar)).status, 200);
  return jar;
}

function assertNothingEnded(setCookies: readonly string[], what: string): void {
  assert.deepEqual(
    setCookies.filter((c) => /^(__Host-)?spg_session=;|^sp_session=;|max-age=0/i.test(c) && /spg_session|sp_session/.test(c)),
    [],
    `${what}: a session cookie was cleared`,
  );
}

describe('cross-site GET, HEAD and OPTIONS of the intercepted login and logout URLs', () => {
  for (const method of ['GET', 'HEAD', 'OPTIONS']) {
    for (const path of ['/logout', '/login', '/LOGOUT', '/logout?next=/', '/_guard/logout']) {
      test(`${method} ${path}: still signed in (sidecar and app), nothing reached the app's logout`, async () => {
        const jar = await signedIn();
        const upstreamLogoutsBefore = rs.recorder.matching('GET', '/logout').length + rs.recorder.matching('POST', '/logout').length;
        const reply = await send(`${rs.url}${path}`, { method, headers: { ...CROSS_SITE_LINK, cookie: jar.header() } });
        assert.ok([200, 204, 303].includes(reply.status), `${method} ${path}: ${reply.status} ${reply.text.slice(0, 200)}`);
        assertNothingEnded(reply.setCookies, `${method} ${path}`);
        assert.equal((await me(rs.url, jar)).status, 200, `${method} ${path} signed the user out`);
        assert.equal(
          rs.recorder.matching('GET', '/logout').length + rs.recorder.matching('POST', '/logout').length,
          upstreamLogoutsBefore,
          `${method} ${path} reached the app's logout`,
        );
      });
    }
  }
});

describe('what a signed-in visitor sees instead', () => {
  test("GET of the app's login URL: who is signed in, a sign-out button posting with a CSRF token, a link to login.landing; audited", async () => {
    const jar = await signedIn();
    const page = await send(`${rs.url}/login`, { headers: { ...CROSS_SITE_LINK, cookie: jar.header() } });
    assert.equal(page.status, 200);
    assert.match(page.text, new RegExp(MERCHANT.replace('.', '\\.')));
    assert.match(page.text, /<form[^>]*method="post"[^>]*action="\/_guard\/logout"/);
    assert.ok(csrfFrom(page.text).length > 20, 'the sign-out form carries a CSRF token');
    assert.match(page.text, /href="\/dashboard"/, 'a link on to login.landing');
    const events = await rs.stack.guard.audit.recent({ user: MERCHANT, limit: 20 });
    const shown = events.find((e) => e.event === 'signed_in_page');
    assert.equal(shown?.reason, 'login_url_while_signed_in', JSON.stringify(events.map((e) => e.event)));
    assert.equal(shown?.details?.['method'], 'GET');
  });

  test("GET of the app's logout URL leads to the sign-out page (who is signed in, the button); audited", async () => {
    const jar = await signedIn();
    const link = await send(`${rs.url}/logout`, { headers: { ...CROSS_SITE_LINK, cookie: jar.header() } });
    assert.equal(link.status, 303);
    assert.equal(link.location, '/_guard/logout');
    const page = await send(`${rs.url}/_guard/logout`, { headers: { ...CROSS_SITE_LINK, cookie: jar.header() } });
    assert.equal(page.status, 200);
    assert.match(page.text, new RegExp(MERCHANT.replace('.', '\\.')));
    const events = await rs.stack.guard.audit.recent({ user: MERCHANT, limit: 20 });
    assert.ok(events.some((e) => e.event === 'signed_in_page' && e.reason === 'logout_url_while_signed_in'));

    // The button works (the page is not a dead end), and only as a same-origin POST with its token.
    const posted = jar.take(await send(`${rs.url}/_guard/logout`, { method: 'POST', headers: { ...sameOriginForm(rs.url), cookie: jar.header() }, body: form({ _csrf: csrfFrom(page.text) }) }));
    assert.equal(posted.status, 303);
    assert.equal((await me(rs.url, jar)).status, 401);
  });

  test('credentials in the query of a GET to the login URL sign nobody in and never reach the app', async () => {
    const before = rs.recorder.requests.length;
    const reply = await send(`${rs.url}/login?email=${encodeURIComponent(MERCHANT)}&password=smartpush-demo`, { headers: CROSS_SITE_LINK });
    assert.equal(reply.status, 303);
    assert.match(reply.location ?? '', /^\/_guard\/login/);
    assert.equal(reply.setCookies.filter((c) => /^(__Host-)?spg_session=[^;]/.test(c)).length, 0);
    assert.deepEqual(rs.recorder.requests.slice(before).map((r) => `${r.method} ${r.url}`), []);
  });
});
