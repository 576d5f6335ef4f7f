import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, type Stack } from '../helpers/stack.ts';
import { CookieJar, apiSignIn, form, navigation, openLoginPage, returnToFrom, sameOriginForm, send, setCookieFor, type Reply } from '../helpers/browser-like.ts';

/**
 * THREATS T5, open redirect through return_to (oauth2-proxy CVE-2020-5233, CVE-2020-11053
 * `/%09/evil`, bitly/oauth2_proxy #478 `%2F%2F`). After signing in, a browser follows the Location
 * header; only a path on this site may survive, everything else lands on the configured landing
 * page (/dashboard in the test stack).
 */

const LANDING = '/dashboard';

/** Each value is what the server receives as return_to after one round of URL decoding. */
const HOSTILE: readonly string[] = [
  '//evil.example',
  '/\\evil.example',
  '/%09/evil.example',
  '%2F%2Fevil.example',
  '/%2F%2Fevil.example',
  'https:evil.example',
  'https://evil.example/x',
  'javascript:alert(1)',
  '/_guard/logout',
  // Variations on the same themes.
  '///evil.example',
  '\\\\evil.example',
  '/\t/evil.example',
  '/\n/evil.example',
  ' //evil.example',
  '/%5Cevil.example',
  '/%2f%2fevil.example',
  '/.//evil.example',
  '/..//evil.example',
  '/%2e%2e//evil.example',
  '/%2E/%2Fevil.example',
  'HTTPS://evil.example',
  'http:\\\\evil.example',
  '//evil.example@127.0.0.1',
  'data:text/html,<script>alert(1)</script>',
  'JaVaScRiPt:alert(1)',
  '/_guard/login',
  '/_GUARD/logout',
  '/%5Fguard/logout',
  '/x/../_guard/logout',
];

/** The Location a browser would follow must stay on the sidecar's own origin. */
function assertSameHost(location: string | undefined, sidecar: string, value: string): void {
  assert.ok(location !== undefined, `no Location for ${JSON.stringify(value)}`);
  assert.ok(!/^[a-z][a-z0-9+.-]*:/i.test(location), `Location ${JSON.stringify(location)} has a scheme (return_to ${JSON.stringify(value)})`);
  assert.ok(!/^[\\/\s]{2}/.test(location) && !/^\s/.test(location), `Location ${JSON.stringify(location)} is protocol-relative (return_to ${JSON.stringify(value)})`);
  const resolved = new URL(location, sidecar);
  assert.equal(resolved.host, new URL(sidecar).host, `Location ${JSON.stringify(location)} names another host (return_to ${JSON.stringify(value)})`);
  assert.ok(!location.includes('evil.example'), `Location ${JSON.stringify(location)}`);
}

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack.close();
});

async function formSignInWith(returnTo: string): Promise<Reply> {
  const jar = new CookieJar();
  const { token } = await openLoginPage(stack.url, jar);
  const reply = await send(`${stack.url}/_guard/login`, {
    method: 'POST',
    headers: { ...sameOriginForm(stack.url), cookie: jar.header() },
    body: form({ _csrf: token, return_to: returnTo, email: 'merchant@example.com', password: 'smartpush-demo' }),
  });
  assert.ok(setCookieFor(reply.setCookies, 'spg_session'), `sign-in with return_to ${JSON.stringify(returnTo)} failed: ${reply.status}`);
  return reply;
}

describe('return_to in the login form', () => {
  for (const value of HOSTILE) {
    test(`return_to ${JSON.stringify(value)} lands on the landing page`, async () => {
      const reply = await formSignInWith(value);
      assert.equal(reply.status, 303);
      assertSameHost(reply.location, stack.url, value);
      assert.equal(reply.location, LANDING);
    });
  }

  test('a legitimate same-site return_to with a query survives', async () => {
    const reply = await formSignInWith('/api/campaigns?x=1');
    assert.equal(reply.status, 303);
    assert.equal(reply.location, '/api/campaigns?x=1');
  });
});

describe('return_to on the login page', () => {
  for (const value of HOSTILE) {
    test(`the login page does not carry return_to ${JSON.stringify(value)} into its form`, async () => {
      const page = await send(`${stack.url}/_guard/login?return_to=${encodeURIComponent(value)}`, { headers: navigation() });
      if (page.status === 400) return; // refused outright: nothing to follow
      assert.equal(page.status, 200);
      const carried = returnToFrom(page.text);
      assert.equal(carried, LANDING, `the form would send return_to ${JSON.stringify(carried)}`);
    });
  }

  test('the login page keeps a legitimate return_to', async () => {
    const page = await send(`${stack.url}/_guard/login?return_to=${encodeURIComponent('/api/campaigns?x=1')}`, { headers: navigation() });
    assert.equal(page.status, 200);
    assert.equal(returnToFrom(page.text), '/api/campaigns?x=1');
  });
});

describe('return_to while already signed in (GET /_guard/login redirects at once)', () => {
  let signedIn: CookieJar;
  before(async () => {
    signedIn = new CookieJar();
    await apiSignIn(stack.url, signedIn);
  });

  for (const value of HOSTILE) {
    test(`GET /_guard/login?return_to=${JSON.stringify(value)} (escaped) redirects to the landing page`, async () => {
      const reply = await send(`${stack.url}/_guard/login?return_to=${encodeURIComponent(value)}`, { headers: { ...navigation(), cookie: signedIn.header() } });
      if (reply.status === 400) return; // refused outright
      assert.equal(reply.status, 303);
      assertSameHost(reply.location, stack.url, value);
      assert.equal(reply.location, LANDING);
    });
  }

  // The same values written into the query as an attacker would (only what HTTP allows unescaped).
  for (const raw of ['//evil.example', '/%09/evil.example', '%2F%2Fevil.example', '/%2F%2Fevil.example', '/%5Cevil.example', 'https:evil.example', 'https://evil.example/x', '/%0D%0ALocation:%20http://evil.example']) {
    test(`GET /_guard/login?return_to=${raw} (raw) redirects to the landing page`, async () => {
      const reply = await send(`${stack.url}/_guard/login?return_to=${raw}`, { headers: { ...navigation(), cookie: signedIn.header() } });
      if (reply.status === 400) return;
      assert.equal(reply.status, 303);
      assertSameHost(reply.location, stack.url, raw);
      assert.equal(reply.location, LANDING);
      assert.equal(reply.headers['location'], LANDING, 'a header was injected');
    });
  }

  test('a legitimate return_to with a query survives', async () => {
    const reply = await send(`${stack.url}/_guard/login?return_to=${encodeURIComponent('/api/campaigns?x=1')}`, { headers: { ...navigation(), cookie: signedIn.header() } });
    assert.equal(reply.status, 303);
    assert.equal(reply.location, '/api/campaigns?x=1');
  });

  test('the signed-in user is still signed in (the redirects changed nothing)', async () => {
    const reply = await send(`${stack.url}/api/me`, { headers: { accept: 'application/json', cookie: signedIn.header() } });
    assert.equal(reply.status, 200);
  });
});
