import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { signIn, startStack, type Stack } from '../helpers/stack.ts';

/**
 * The upstream may change its own session while the sidecar session lives: rotate it (same
 * account: adopted), start one for another account (password-reset auto-login: the sidecar session
 * ends), or end it (the sidecar session ends). A tiny upstream lets the test do each on demand.
 */

const sessions = new Map<string, string>(); // upstream session value → email
let counter = 0;
const newSession = (email: string): string => {
  const value = `s${++counter}`;
  sessions.set(value, email);
  return value;
};
const cookieOf = (req: http.IncomingMessage): string | undefined => /(?:^|;\s*)sp_session=([^;]*)/.exec(req.headers.cookie ?? '')?.[1];

const upstream = http.createServer((req, res) => {
  const current = cookieOf(req);
  const email = current ? sessions.get(current) : undefined;
  const send = (status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'POST' && req.url === '/login') {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      if (form.get('password') !== 'pw') return send(200, { error: 'bad' });
      res.writeHead(302, { location: '/dashboard', 'set-cookie': `sp_session=${newSession(form.get('email') ?? '')}; Path=/; HttpOnly` });
      res.end();
    });
    return;
  }
  if (!email) return send(401, { error: 'unauthorized' });
  switch (req.url) {
    case '/api/me':
      return send(200, { email, cookie: current });
    case '/rotate':
      return send(200, { ok: true }, { 'set-cookie': `sp_session=${newSession(email)}; Path=/` });
    case '/become-other':
      return send(200, { ok: true }, { 'set-cookie': `sp_session=${newSession('other@example.com')}; Path=/` });
    case '/end':
      return send(200, { ok: true }, { 'set-cookie': 'sp_session=; Max-Age=0; Path=/' });
    case '/expired':
      // The app no longer accepts the session and sends the browser to its login page.
      return send(302, {}, { location: '/login?next=/expired' });
    default:
      return send(404, { error: 'not_found' });
  }
});

let stack: Stack;
before(async () => {
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const { port } = upstream.address() as AddressInfo;
  stack = await startStack({
    upstreamUrl: `http://127.0.0.1:${port}`,
    policy: 'version: 1\nintercept:\n  login: { paths: ["/login"] }\n  logout: { paths: ["/logout"] }\nrules: []\n',
    config: {
      login: {
        upstream: { path: '/login' },
        success: { status: [302], cookie: 'sp_session' },
        profile: { path: '/api/me', email_field: 'email' },
        min_response_time: '0ms',
      },
    },
  });
});
after(async () => {
  await stack.close();
  upstream.closeAllConnections();
  upstream.close();
});

const get = (path: string, cookie: string): Promise<Response> =>
  fetch(`${stack.url}${path}`, { headers: { cookie, accept: 'application/json' }, redirect: 'manual' });

/** The binding is updated in the background after the response: wait until a request shows it. */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await sleep(10);
  }
  assert.fail('the condition did not hold within a second');
}

test('a rotated upstream session of the same account is adopted', async () => {
  const cookie = await signIn(stack.url, 'mia@example.com', 'pw');
  const before = (await (await get('/api/me', cookie)).json()) as { cookie: string };
  assert.equal((await get('/rotate', cookie)).status, 200);
  await eventually(async () => {
    const me = (await (await get('/api/me', cookie)).json()) as { email: string; cookie: string };
    return me.email === 'mia@example.com' && me.cookie !== before.cookie;
  });
});

test('an upstream session for another account ends the sidecar session', async () => {
  const cookie = await signIn(stack.url, 'mia@example.com', 'pw');
  assert.equal((await get('/become-other', cookie)).status, 200);
  await eventually(async () => (await get('/api/me', cookie)).status === 401);
  const body = (await (await get('/api/me', cookie)).json()) as { error: string };
  assert.equal(body.error, 'login_required');
});

test('an upstream that ends its session ends the sidecar session', async () => {
  const cookie = await signIn(stack.url, 'mia@example.com', 'pw');
  assert.equal((await get('/end', cookie)).status, 200);
  await eventually(async () => (await get('/api/me', cookie)).status === 401);
});

test("the app's login URL opened while signed in shows who is signed in and changes nothing (T22)", async () => {
  const cookie = await signIn(stack.url, 'mia@example.com', 'pw');
  assert.equal((await get('/api/me', cookie)).status, 200);
  const page = await fetch(`${stack.url}/login`, { headers: { cookie, accept: 'text/html' }, redirect: 'manual' });
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /mia@example\.com/);
  assert.match(html, /<form[^>]*method="post"[^>]*action="\/_guard\/logout"/);
  assert.doesNotMatch(page.headers.getSetCookie().join('\n'), /spg_session=;/);
  assert.equal((await get('/api/me', cookie)).status, 200, 'the GET ended the session');
});

test("an upstream redirect to its own login page, in answer to the bound session, ends the sidecar session", async () => {
  const cookie = await signIn(stack.url, 'mia@example.com', 'pw');
  assert.equal((await get('/api/me', cookie)).status, 200);
  assert.equal((await get('/expired', cookie)).status, 302);
  await eventually(async () => (await get('/api/me', cookie)).status === 401);
});

test('other methods on an intercepted login route get 405 and never reach the upstream', async () => {
  const cookie = await signIn(stack.url, 'mia@example.com', 'pw');
  for (const method of ['PUT', 'PATCH', 'DELETE']) {
    const r = await fetch(`${stack.url}/login`, {
      method,
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'email=mia%40example.com&password=pw',
    });
    assert.equal(r.status, 405, method);
    assert.equal(r.headers.get('allow'), 'GET, HEAD, POST');
  }
  // The session survived: a refused method changes nothing.
  assert.equal((await get('/api/me', cookie)).status, 200);
});
