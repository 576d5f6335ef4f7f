import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { signIn, startStack, type Stack } from '../helpers/stack.ts';

/**
 * THREATS T22, state change on GET: SameSite=Lax cookies travel with a cross-site top-level GET,
 * so a link on any site to the app's intercepted login or logout URL, or to the sidecar's own
 * sign-out page, must not end the session. Only the sign-out POST (with its token) does.
 */

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack.close();
});

const crossSite = { accept: 'text/html', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };
const stillSignedIn = async (cookie: string): Promise<boolean> =>
  (await fetch(`${stack.url}/api/me`, { headers: { cookie, accept: 'application/json' }, redirect: 'manual' })).status === 200;

for (const method of ['GET', 'HEAD', 'OPTIONS'] as const) {
  test(`a cross-site ${method} of the app's login URL keeps the session and shows the signed-in state`, async () => {
    const cookie = await signIn(stack.url);
    assert.ok(await stillSignedIn(cookie), 'signed in before the link is followed');
    const r = await fetch(`${stack.url}/login`, { method, headers: { cookie, ...crossSite }, redirect: 'manual' });
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), '/_guard/logout', 'the sign-out page, which shows who is signed in');
    assert.doesNotMatch(r.headers.getSetCookie().join('\n'), /spg_session=;/, 'the session cookie is not cleared');
    assert.ok(await stillSignedIn(cookie), 'the session survived the link');
  });

  test(`a cross-site ${method} of the app's logout URL and of the sign-out page keeps the session`, async () => {
    const cookie = await signIn(stack.url);
    for (const path of ['/logout', '/_guard/logout']) {
      const r = await fetch(`${stack.url}${path}`, { method, headers: { cookie, ...crossSite }, redirect: 'manual' });
      assert.ok(r.status < 400 || r.status === 405, `${method} ${path} answered ${r.status}`);
      assert.doesNotMatch(r.headers.getSetCookie().join('\n'), /spg_session=;/, `${method} ${path} cleared no cookie`);
      assert.ok(await stillSignedIn(cookie), `the session survived ${method} ${path}`);
    }
  });
}

test('the sign-out page reached from the login URL offers a sign-out form with a token, and only its POST signs out', async () => {
  const cookie = await signIn(stack.url);
  const page = await fetch(`${stack.url}/_guard/logout`, { headers: { cookie, accept: 'text/html' } });
  assert.equal(page.status, 200);
  const html = await page.text();
  const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  assert.ok(token, 'the page carries a sign-out form with a CSRF token');
  const forged = await fetch(`${stack.url}/_guard/logout`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    body: `_csrf=${encodeURIComponent(token)}`,
    redirect: 'manual',
  });
  assert.equal(forged.status, 403, 'a cross-site POST is refused');
  assert.ok(await stillSignedIn(cookie));
  const own = await fetch(`${stack.url}/_guard/logout`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: stack.url, 'sec-fetch-site': 'same-origin' },
    body: `_csrf=${encodeURIComponent(token)}`,
    redirect: 'manual',
  });
  assert.ok(own.status === 303 || own.status === 200, `the page's own POST answered ${own.status}`);
  assert.equal(await stillSignedIn(cookie), false, 'the POST ended the session');
});
