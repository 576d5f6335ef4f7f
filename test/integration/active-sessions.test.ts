import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startStack, type Stack } from '../helpers/stack.ts';
import { CookieJar, HTML_ACCEPT, csrfFrom, form, me, navigation, sameOriginForm, send } from '../helpers/browser-like.ts';

/**
 * "Active sessions" end to end: two browsers of one account signed in through the sidecar in front
 * of an app that records every logout it gets. The list shows both with the current one marked;
 * signing one out (page form, JSON API, "all others", or support through the admin API) ends it on
 * its next request AND replays the app's logout with the cookies that session held, and a logout
 * the app does not confirm is reported as such.
 */

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0';
const SUPPORT_TOKEN = 'support-token-0123456789abcdefghijklmnop';

const appSessions = new Map<string, string>();
const logouts: Array<{ sid: string | undefined; userAgent: string | undefined }> = [];
let counter = 0;
let refuseEveryLogout = false;
const sid = (req: http.IncomingMessage): string | undefined => /(?:^|;\s*)sp_session=([^;]*)/.exec(req.headers.cookie ?? '')?.[1];

const app = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    const current = sid(req);
    const email = current ? appSessions.get(current) : undefined;
    const fields = new URLSearchParams(body);
    if (req.method === 'POST' && req.url === '/login') {
      if (fields.get('password') !== 'pw') return void res.writeHead(200).end('bad');
      const value = `s${++counter}`;
      appSessions.set(value, fields.get('email') ?? '');
      return void res.writeHead(302, { location: '/account', 'set-cookie': `sp_session=${value}; Path=/; HttpOnly` }).end();
    }
    if (req.method === 'POST' && req.url === '/logout') {
      logouts.push({ sid: current, userAgent: req.headers['user-agent'] });
      if (refuseEveryLogout) return void res.writeHead(500).end('down');
      if (current) appSessions.delete(current);
      return void res.writeHead(302, { location: '/login', 'set-cookie': 'sp_session=; Max-Age=0; Path=/' }).end();
    }
    if (!email) return void res.writeHead(302, { location: '/login' }).end();
    if (req.method === 'GET' && req.url === '/api/me') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ email }));
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<p>${email}</p>`);
  });
});

let stack: Stack;
before(async () => {
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const dir = mkdtempSync(join(tmpdir(), 'spg-sessions-'));
  writeFileSync(join(dir, 'token'), `${SUPPORT_TOKEN}\n`, { mode: 0o600 });
  stack = await startStack({
    upstreamUrl: `http://127.0.0.1:${(app.address() as AddressInfo).port}`,
    policy: 'version: 1\nintercept:\n  login: { paths: ["/login"] }\n  logout: { paths: ["/logout"] }\nrules:\n  - name: app\n    paths: ["/**"]\n    access: authenticated\n',
    config: {
      admin: { host: '127.0.0.1', port: 0, tokens: [{ name: 'support', token: { file: join(dir, 'token') } }] },
      session: { networks: [{ cidr: '127.0.0.0/8', label: 'This machine' }] } as never,
      login: {
        upstream: { path: '/login' },
        success: { status: [302], cookie: 'sp_session' },
        logout: { path: '/logout', method: 'POST' },
        min_response_time: '0ms',
      },
    },
  });
});
after(async () => {
  await stack?.close();
  app.closeAllConnections();
  app.close();
});

/** A browser signed in as `email`, with its own User-Agent. */
async function browser(email: string, userAgent: string): Promise<{ jar: CookieJar; ua: string; appSid: string }> {
  const jar = new CookieJar();
  const before = new Set(appSessions.keys());
  const reply = jar.take(
    await send(`${stack.url}/_guard/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': userAgent },
      body: JSON.stringify({ email, password: 'pw' }),
    }),
  );
  assert.equal(reply.status, 200, reply.text);
  const appSid = [...appSessions.keys()].find((k) => !before.has(k)) ?? '';
  assert.ok(appSid, 'the app made a session for this sign-in');
  return { jar, ua: userAgent, appSid };
}

const api = (b: { jar: CookieJar; ua: string }, method: string, path: string) =>
  send(`${stack.url}${path}`, {
    method,
    headers: { accept: 'application/json', cookie: b.jar.header(), 'user-agent': b.ua, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
    ...(method === 'POST' ? { body: '{}' } : {}),
  });

const listOf = async (b: { jar: CookieJar; ua: string }) => {
  const reply = await api(b, 'GET', '/_guard/api/sessions');
  assert.equal(reply.status, 200, reply.text);
  return (reply.json() as { sessions: Array<Record<string, unknown>> }).sessions;
};

const securityPage = async (b: { jar: CookieJar; ua: string }) =>
  b.jar.take(await send(`${stack.url}/_guard/security`, { headers: { ...navigation(), cookie: b.jar.header(), 'user-agent': b.ua } }));

const admin = (method: string, path: string, body?: unknown) =>
  send(`${stack.adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${SUPPORT_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

test('the list shows both sessions, the current one marked, with browser, OS, network and the configured place', async () => {
  const a = await browser('ann@example.com', CHROME);
  const b = await browser('ann@example.com', FIREFOX);
  const fromA = await listOf(a);
  assert.equal(fromA.length, 2);
  assert.equal(fromA[0]?.['current'], true);
  assert.equal(fromA[0]?.['browser'], 'Chrome 120');
  assert.equal(fromA[0]?.['os'], 'Windows');
  assert.equal(fromA[0]?.['network'], '127.0.0.0/24');
  assert.equal(fromA[0]?.['place'], 'This machine');
  assert.match(String(fromA[0]?.['signed_in_at']), /^\d{4}-\d\d-\d\dT/);
  assert.equal(fromA[1]?.['current'], false);
  assert.equal(fromA[1]?.['browser'], 'Firefox 121');
  const fromB = await listOf(b);
  assert.equal(fromB.find((s) => s['current'])?.['handle'], fromA[1]?.['handle'], 'each browser sees itself marked');

  const page = await securityPage(a);
  assert.equal(page.status, 200);
  assert.match(page.text, /<h2 id="active-sessions-heading">Active sessions<\/h2>/);
  assert.match(page.text, /Chrome 120 on Windows <span class="badge">This browser<\/span>/);
  assert.match(page.text, /Firefox 121 on Linux/);
  assert.match(page.text, /127\.0\.0\.0\/24 \(This machine\)/);
  assert.equal((page.text.match(/action="\/_guard\/security\/sessions\/revoke"/g) ?? []).length, 1, 'a sign-out button for the other session only');
});

test('signing out the other session from the page: its next request is signed out and the app logout was replayed with its cookies', async () => {
  const a = await browser('bea@example.com', CHROME);
  const b = await browser('bea@example.com', FIREFOX);
  assert.equal((await me(stack.url, b.jar)).status, 200);
  const page = await securityPage(a);
  const handle = (await listOf(a)).find((s) => !s['current'])?.['handle'] as string;
  logouts.length = 0;
  const out = a.jar.take(
    await send(`${stack.url}/_guard/security/sessions/revoke`, {
      method: 'POST',
      headers: { ...sameOriginForm(stack.url), cookie: a.jar.header(), 'user-agent': a.ua },
      body: form({ _csrf: csrfFrom(page.text), handle }),
    }),
  );
  assert.equal(out.status, 303);
  assert.equal(out.headers.location, '/_guard/security#active-sessions');
  assert.deepEqual(logouts, [{ sid: b.appSid, userAgent: FIREFOX }], "the app's logout was replayed with the other session's cookie (and its browser)");
  assert.equal(appSessions.has(b.appSid), false, "the app's session of the other browser ended");
  assert.equal(appSessions.has(a.appSid), true, "this browser's app session is untouched");
  const next = await send(`${stack.url}/account`, { headers: { accept: HTML_ACCEPT, cookie: b.jar.header() } });
  assert.equal(next.status, 303, 'the other browser is sent to sign in');
  assert.match(String(next.headers.location), /^\/_guard\/login/);
  assert.equal((await me(stack.url, a.jar)).status, 200, 'this browser is still signed in');

  const after = await securityPage(a);
  assert.equal(after.status, 200);
  assert.match(after.text, /role="status">Signed out: Firefox 121 on Linux\. Its SmartPush session ended too\./);
  assert.doesNotMatch(after.text, /Firefox 121 on Linux<\/h3>/);
  const events = await stack.guard.audit.recent({ user: 'bea@example.com', limit: 20 });
  const revoked = events.find((e) => e.event === 'session_revoked');
  assert.equal(revoked?.outcome, 'success');
  assert.equal(revoked?.details?.['by'], 'user');
  assert.equal(revoked?.details?.['handle'], handle);
  assert.equal(revoked?.details?.['upstream'], 'ended');
});

test('JSON API: revoke one by handle; the current session cannot be revoked there; an unknown handle is 404', async () => {
  const a = await browser('cal@example.com', CHROME);
  const b = await browser('cal@example.com', FIREFOX);
  const list = await listOf(a);
  const own = list.find((s) => s['current'])?.['handle'] as string;
  const other = list.find((s) => !s['current'])?.['handle'] as string;
  const self = await api(a, 'POST', `/_guard/api/sessions/${own}/revoke`);
  assert.equal(self.status, 409);
  assert.equal((self.json() as { error: string }).error, 'current_session');
  const unknown = await api(a, 'POST', `/_guard/api/sessions/${'A'.repeat(22)}/revoke`);
  assert.equal(unknown.status, 404);
  const done = await api(a, 'POST', `/_guard/api/sessions/${other}/revoke`);
  assert.equal(done.status, 200, done.text);
  assert.deepEqual(done.json(), { status: 'revoked', handle: other, upstream: 'ended' });
  assert.equal(appSessions.has(b.appSid), false);
  assert.equal((await me(stack.url, b.jar)).status, 401);
  assert.equal((await api(a, 'POST', `/_guard/api/sessions/${other}/revoke`)).status, 404, 'a second revoke finds nothing');
  const anonymous = await send(`${stack.url}/_guard/api/sessions`, { headers: { accept: 'application/json' } });
  assert.equal(anonymous.status, 401);
});

test('sign out all other sessions: the others end (app sessions too), this one stays', async () => {
  const a = await browser('dee@example.com', CHROME);
  const b = await browser('dee@example.com', FIREFOX);
  const c = await browser('dee@example.com', FIREFOX);
  const other = await browser('eve@example.com', FIREFOX);
  const page = await securityPage(a);
  assert.match(page.text, /Sign out all other sessions/);
  const out = a.jar.take(
    await send(`${stack.url}/_guard/security/sessions/revoke-others`, {
      method: 'POST',
      headers: { ...sameOriginForm(stack.url), cookie: a.jar.header() },
      body: form({ _csrf: csrfFrom(page.text) }),
    }),
  );
  assert.equal(out.status, 303);
  for (const gone of [b, c]) {
    assert.equal((await me(stack.url, gone.jar)).status, 401);
    assert.equal(appSessions.has(gone.appSid), false);
  }
  assert.equal((await me(stack.url, a.jar)).status, 200);
  assert.equal((await me(stack.url, other.jar)).status, 200, "another account's session is untouched");
  const after = await securityPage(a);
  assert.match(after.text, /Signed out 2 other sessions\. Their SmartPush sessions ended too\./);
  assert.match(after.text, /No other session is signed in\./);
  assert.equal((await listOf(a)).length, 1);

  // The JSON form, with nothing left to end.
  const again = await api(a, 'POST', '/_guard/api/sessions/revoke-others');
  assert.equal(again.status, 200);
  assert.deepEqual(again.json(), { status: 'revoked', revoked: [] });
});

test('a forged or stale form changes nothing', async () => {
  const a = await browser('fay@example.com', CHROME);
  const b = await browser('fay@example.com', FIREFOX);
  const handle = (await listOf(a)).find((s) => !s['current'])?.['handle'] as string;
  const out = a.jar.take(
    await send(`${stack.url}/_guard/security/sessions/revoke`, {
      method: 'POST',
      headers: { ...sameOriginForm(stack.url), cookie: a.jar.header() },
      body: form({ _csrf: 'forged', handle }),
    }),
  );
  assert.equal(out.status, 303);
  assert.equal((await me(stack.url, b.jar)).status, 200);
  const page = await securityPage(a);
  assert.equal(page.status, 403);
  assert.match(page.text, /did not come from this page/);
});

test('an app logout that is not confirmed is reported truthfully; the sidecar session still ends', async () => {
  const a = await browser('gus@example.com', CHROME);
  const b = await browser('gus@example.com', FIREFOX);
  const handle = (await listOf(a)).find((s) => !s['current'])?.['handle'] as string;
  refuseEveryLogout = true;
  try {
    const reply = await api(a, 'POST', `/_guard/api/sessions/${handle}/revoke`);
    assert.equal(reply.status, 502);
    const body = reply.json() as Record<string, unknown>;
    assert.equal(body['error'], 'upstream_logout_failed');
    assert.equal(body['session_revoked'], true);
    assert.match(String(body['message']), /did not confirm/);
    assert.equal((await me(stack.url, b.jar)).status, 401, 'the sidecar session ended anyway');
    assert.equal(appSessions.has(b.appSid), true, 'the app session is indeed still there (so the page must not say it ended)');

    const c = await browser('gus@example.com', FIREFOX);
    const page = await securityPage(a);
    const out = a.jar.take(
      await send(`${stack.url}/_guard/security/sessions/revoke-others`, {
        method: 'POST',
        headers: { ...sameOriginForm(stack.url), cookie: a.jar.header() },
        body: form({ _csrf: csrfFrom(page.text) }),
      }),
    );
    assert.equal(out.status, 303);
    const after = await securityPage(a);
    assert.match(after.text, /role="alert"[^>]*>Signed out 1 other session here, but for 1 of them SmartPush did not confirm/);
    assert.doesNotMatch(after.text, /ended too/);
    assert.equal((await me(stack.url, c.jar)).status, 401);
    const event = (await stack.guard.audit.recent({ user: 'gus@example.com', limit: 20 })).find((e) => e.event === 'session_revoked');
    assert.equal(event?.outcome, 'failure');
    assert.equal(event?.reason, 'upstream_logout_failed');
  } finally {
    refuseEveryLogout = false;
  }
});

test('admin API: support lists the sessions and revokes one by handle (app logout replayed, audited with the actor)', async () => {
  const a = await browser('hal@example.com', CHROME);
  const b = await browser('hal@example.com', FIREFOX);
  const listed = await admin('GET', '/admin/users/hal@example.com/sessions');
  assert.equal(listed.status, 200, listed.text);
  const sessions = (listed.json() as { sessions: Array<Record<string, unknown>> }).sessions;
  assert.equal(sessions.length, 2);
  assert.ok(sessions.every((s) => !('current' in s)), 'support has no "current" session');
  const target = sessions.find((s) => s['browser'] === 'Firefox 121')?.['handle'] as string;

  const noReason = await admin('POST', `/admin/users/hal@example.com/sessions/${target}/revoke`, {});
  assert.equal(noReason.status, 400);
  assert.equal((await me(stack.url, b.jar)).status, 200, 'nothing ended without a reason');

  const wrongAccount = await admin('POST', `/admin/users/ann@example.com/sessions/${target}/revoke`, { reason: 'ticket 7' });
  assert.equal(wrongAccount.status, 404, 'a handle only works for its own account');

  const done = await admin('POST', `/admin/users/hal@example.com/sessions/${target}/revoke`, { reason: 'ticket 7' });
  assert.equal(done.status, 200, done.text);
  const body = done.json() as Record<string, unknown>;
  assert.equal(body['action'], 'revoke_session');
  assert.equal(body['handle'], target);
  assert.equal(body['upstream'], 'ended');
  assert.equal((await me(stack.url, b.jar)).status, 401);
  assert.equal(appSessions.has(b.appSid), false);
  assert.equal((await me(stack.url, a.jar)).status, 200);
  const events = await stack.guard.audit.recent({ user: 'hal@example.com', limit: 20 });
  const revoked = events.find((e) => e.event === 'session_revoked');
  assert.equal(revoked?.actor, 'admin:support');
  assert.equal(revoked?.details?.['by'], 'support');
  assert.match(revoked?.reason ?? '', /ticket 7/);
  assert.ok(events.some((e) => e.event === 'admin_action' && e.details?.['action'] === 'session_revoked'));
  assert.equal((await admin('POST', `/admin/users/hal@example.com/sessions/${target}/revoke`, { reason: 'again' })).status, 404);
});
