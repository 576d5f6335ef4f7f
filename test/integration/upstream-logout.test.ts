import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { startStack, type Stack } from '../helpers/stack.ts';
import { CookieJar, apiSignIn, form, me, sameOriginForm, send } from '../helpers/browser-like.ts';

/**
 * Logout that really ends the app's session, against an app whose logout is a POST that needs the
 * CSRF token of its own page: the browser's own sign-out form is forwarded with the bound session
 * (observed); the sidecar's sign-out replays it with the token read from the app's page; a logout
 * the app refuses is reported and audited as failed.
 */

const sessions = new Map<string, string>();
let counter = 0;
let refuseEveryLogout = false;
const sid = (req: http.IncomingMessage): string | undefined => /(?:^|;\s*)sp_session=([^;]*)/.exec(req.headers.cookie ?? '')?.[1];

const app = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    const current = sid(req);
    const email = current ? sessions.get(current) : undefined;
    const fields = new URLSearchParams(body);
    if (req.method === 'POST' && req.url === '/login') {
      if (fields.get('password') !== 'pw') return void res.writeHead(200).end('bad');
      const value = `s${++counter}`;
      sessions.set(value, fields.get('email') ?? '');
      return void res.writeHead(302, { location: '/account', 'set-cookie': `sp_session=${value}; Path=/; HttpOnly` }).end();
    }
    if (!email || !current) return void res.writeHead(302, { location: '/login' }).end();
    if (req.method === 'GET' && req.url === '/account') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return void res.end(`<p>${email}</p><form method="post" action="/logout"><input type="hidden" name="token" value="tok-${current}"><button>Sign out</button></form>`);
    }
    if (req.method === 'GET' && req.url === '/api/me') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ email }));
    if (req.method === 'POST' && req.url === '/logout') {
      if (refuseEveryLogout || fields.get('token') !== `tok-${current}`) return void res.writeHead(403).end('CSRF token missing or incorrect');
      sessions.delete(current);
      return void res.writeHead(302, { location: '/login', 'set-cookie': 'sp_session=; Max-Age=0; Path=/' }).end();
    }
    res.writeHead(404).end();
  });
});

let stack: Stack;
before(async () => {
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  stack = await startStack({
    upstreamUrl: `http://127.0.0.1:${(app.address() as AddressInfo).port}`,
    policy: 'version: 1\nintercept:\n  login: { paths: ["/login"] }\n  logout: { paths: ["/logout"] }\nrules: []\n',
    config: {
      login: {
        upstream: { path: '/login' },
        success: { status: [302], cookie: 'sp_session' },
        logout: { path: '/logout', method: 'POST', form: { page: '/account' } },
        min_response_time: '0ms',
      },
    },
  });
});
after(async () => {
  await stack.close();
  app.closeAllConnections();
  app.close();
});

const signedIn = async (): Promise<CookieJar> => {
  const jar = new CookieJar();
  await apiSignIn(stack.url, jar, 'mia@example.com', 'pw');
  assert.equal((await me(stack.url, jar)).status, 200);
  return jar;
};
const liveSessions = (): number => [...sessions.values()].filter((e) => e === 'mia@example.com').length;
const lastLogout = async () => (await stack.guard.audit.recent({ user: 'mia@example.com', limit: 50 })).find((e) => e.event === 'logout');

test("the app's own sign-out form (its token from its page) is forwarded with the bound session and verified", async () => {
  const jar = await signedIn();
  const before = liveSessions();
  const page = await send(`${stack.url}/account`, { headers: { accept: 'text/html', cookie: jar.header() } });
  const token = /name="token" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
  assert.ok(token.startsWith('tok-'), page.text);
  const out = jar.take(await send(`${stack.url}/logout`, { method: 'POST', headers: { ...sameOriginForm(stack.url), cookie: jar.header() }, body: form({ token }) }));
  assert.equal(out.status, 303);
  assert.equal(out.location, '/_guard/login?logged_out=1');
  assert.equal(liveSessions(), before - 1, "the app's session did not end");
  assert.equal((await me(stack.url, jar)).status, 401);
  const event = await lastLogout();
  assert.equal(event?.outcome, 'success');
  assert.equal(event?.details?.['via'], 'observed');
  assert.equal(event?.details?.['how'], 'cookie_deleted');
});

test("a stale token in the browser's form: the app refuses it, the configured logout is replayed with a fresh one", async () => {
  const jar = await signedIn();
  const before = liveSessions();
  const out = await send(`${stack.url}/logout`, { method: 'POST', headers: { ...sameOriginForm(stack.url), cookie: jar.header() }, body: form({ token: 'stale' }) });
  assert.equal(out.location, '/_guard/login?logged_out=1');
  assert.equal(liveSessions(), before - 1);
  assert.equal((await lastLogout())?.details?.['via'], 'observed_then_replayed');
});

test("the sidecar's sign-out replays the POST logout with the token from the app's page", async () => {
  const jar = await signedIn();
  const before = liveSessions();
  const out = await send(`${stack.url}/_guard/api/logout`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: jar.header() }, body: '{}' });
  assert.equal(out.status, 200, out.text);
  assert.deepEqual(out.json(), { status: 'logged_out' });
  assert.equal(liveSessions(), before - 1);
  assert.equal((await lastLogout())?.details?.['via'], 'replayed');
});

test('a logout the app refuses is reported and audited as failed, never as done', async () => {
  const jar = await signedIn();
  const before = liveSessions();
  refuseEveryLogout = true;
  try {
    const api = await send(`${stack.url}/_guard/api/logout`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: jar.header() }, body: '{}' });
    assert.equal(api.status, 502, api.text);
    assert.equal(api.json()['error'], 'upstream_logout_failed');
    assert.equal(api.json()['signed_out_here'], true);
    assert.equal(liveSessions(), before, 'control: the app kept its session');
    const event = await lastLogout();
    assert.equal(event?.outcome, 'failure');
    assert.equal(event?.reason, 'upstream_logout_failed');
    assert.equal(event?.details?.['status'], '403');
    assert.ok(stack.logs.some((l) => l['event'] === 'logout_upstream_failed'));
    // The sidecar session ended all the same: it was the only holder of the app's cookie.
    assert.equal((await me(stack.url, jar)).status, 401);

    const other = await signedIn();
    const page = await send(`${stack.url}/logout`, { method: 'POST', headers: { ...sameOriginForm(stack.url), cookie: other.header() }, body: form({ token: 'x' }) });
    assert.equal(page.location, '/_guard/login?logged_out=unconfirmed');
    const login = await send(`${stack.url}${page.location}`, { headers: { accept: 'text/html' } });
    assert.match(login.text, /did not confirm that its own session ended/);
    assert.doesNotMatch(login.text, /You have signed out\./);
  } finally {
    refuseEveryLogout = false;
  }
});
