import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, type Stack } from '../helpers/stack.ts';
import { CookieJar, apiSignIn, csrfFrom, form, me, navigation, sameOriginForm, send } from '../helpers/browser-like.ts';

/**
 * "Active sessions" names sessions by a public handle. Threats checked here (THREATS T6 family:
 * session identifiers): one account must not see or end another account's sessions by guessing or
 * replaying a handle; a handle must never work as a session cookie; the record id (the server-side
 * name of a session) never leaves the server; and another site cannot make a signed-in browser end
 * sessions (same-site POST with the session's form token only).
 */

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack.close();
});

const signedIn = async (email: string): Promise<CookieJar> => {
  const jar = new CookieJar();
  await apiSignIn(stack.url, jar, email);
  return jar;
};

const list = async (jar: CookieJar): Promise<Array<{ handle: string; current: boolean }>> => {
  const reply = await send(`${stack.url}/_guard/api/sessions`, { headers: { accept: 'application/json', cookie: jar.header() } });
  assert.equal(reply.status, 200, reply.text);
  return (reply.json() as { sessions: Array<{ handle: string; current: boolean }> }).sessions;
};

const postJson = (jar: CookieJar, path: string) =>
  send(`${stack.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', cookie: jar.header() }, body: '{}' });

test("one account can neither see nor end another account's session by its handle", async () => {
  const mia = await signedIn('merchant@example.com');
  await signedIn('merchant@example.com'); // a second session of mia's, so her page has sign-out forms
  const owen = await signedIn('owner@example.com');
  const owenHandle = (await list(owen))[0]?.handle ?? '';
  assert.ok(owenHandle);
  assert.ok(!(await list(mia)).some((s) => s.handle === owenHandle), "mia's list holds only her own sessions");

  const viaApi = await postJson(mia, `/_guard/api/sessions/${owenHandle}/revoke`);
  assert.equal(viaApi.status, 404, 'the same answer as for a handle that never existed');
  assert.equal((viaApi.json() as { error: string }).error, 'session_not_found');

  const page = await send(`${stack.url}/_guard/security`, { headers: { ...navigation(), cookie: mia.header() } });
  const viaForm = await send(`${stack.url}/_guard/security/sessions/revoke`, {
    method: 'POST',
    headers: { ...sameOriginForm(stack.url), cookie: mia.header() },
    body: form({ _csrf: csrfFrom(page.text), handle: owenHandle }),
  });
  assert.equal(viaForm.status, 303);
  const others = await postJson(mia, '/_guard/api/sessions/revoke-others');
  assert.equal(others.status, 200);
  assert.equal((await me(stack.url, owen)).status, 200, "owen's session survived every attempt");
  assert.equal((await list(owen)).length, 1);
});

test('malformed and guessed handles name nothing', async () => {
  const mia = await signedIn('merchant@example.com');
  for (const handle of ['x', 'A'.repeat(22), 'A'.repeat(200), '-_-_-_-_-_-_-_-_-_-_-_']) {
    const reply = await postJson(mia, `/_guard/api/sessions/${handle}/revoke`);
    assert.equal(reply.status, 404, `${handle}: ${reply.text}`);
  }
  for (const handle of ['..%2F..%2Fadmin', '%00']) {
    const reply = await postJson(mia, `/_guard/api/sessions/${handle}/revoke`);
    assert.ok(reply.status === 400 || reply.status === 404, `${handle}: ${reply.status} ${reply.text}`);
  }
  assert.equal((await me(stack.url, mia)).status, 200);
});

test('a handle is not a session cookie, and the record id never leaves the server', async () => {
  const mia = await signedIn('merchant@example.com');
  const sessionCookie = mia.get('spg_session') ?? '';
  assert.ok(sessionCookie);
  const handles = (await list(mia)).map((s) => s.handle);
  for (const handle of handles) {
    assert.ok(!sessionCookie.includes(handle));
    const forged = new CookieJar({ spg_session: handle });
    assert.equal((await me(stack.url, forged)).status, 401, 'a handle used as the session cookie signs nobody in');
    assert.equal((await send(`${stack.url}/_guard/api/sessions`, { headers: { accept: 'application/json', cookie: forged.header() } })).status, 401);
  }
  const records = await stack.guard.sessions.index.list('merchant@example.com');
  assert.ok(records.length >= 1);
  const json = (await send(`${stack.url}/_guard/api/sessions`, { headers: { accept: 'application/json', cookie: mia.header() } })).text;
  const page = (await send(`${stack.url}/_guard/security`, { headers: { ...navigation(), cookie: mia.header() } })).text;
  for (const record of records) {
    assert.notEqual(record.handle, record.id);
    assert.ok(!json.includes(record.id), 'the record id is not in the JSON list');
    assert.ok(!page.includes(record.id), 'the record id is not in the page');
    for (const value of Object.values(record.upstreamCookies)) {
      assert.ok(!json.includes(value) && !page.includes(value), "the app's session cookie is not shown");
    }
  }
});

test('another site cannot end sessions: cross-site posts and posts without the form token are refused', async () => {
  const mia = await signedIn('merchant@example.com');
  const other = await signedIn('merchant@example.com');
  const handle = (await list(mia)).find((s) => !s.current)?.handle ?? '';
  const crossSite = await send(`${stack.url}/_guard/security/sessions/revoke-others`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', cookie: mia.header() },
    body: form({ handle }),
  });
  assert.equal(crossSite.status, 403);
  const crossSiteApi = await send(`${stack.url}/_guard/api/sessions/${handle}/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', cookie: mia.header() },
    body: '{}',
  });
  assert.equal(crossSiteApi.status, 403);
  const noToken = await send(`${stack.url}/_guard/security/sessions/revoke`, {
    method: 'POST',
    headers: { ...sameOriginForm(stack.url), cookie: mia.header() },
    body: form({ handle }),
  });
  assert.equal(noToken.status, 303);
  assert.equal((await me(stack.url, other)).status, 200, 'the other session is still signed in');
});
