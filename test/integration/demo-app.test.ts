/**
 * Integration tests of the bundled legacy SmartPush demo app (demo/app.ts).
 * Run: npx tsx --test test/integration/demo-app.test.ts
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import WebSocket from 'ws';
import {
  EXPORT_HEADER,
  EXPORT_ROW_BYTES,
  createDemoApp,
  createExportStream,
  exportSize,
  startDemoApp,
} from '../../demo/app.ts';

const PASSWORD = 'smartpush-demo';
const COOKIE_RE = /^sp_session=([0-9a-f]{32}); Path=\/; HttpOnly; SameSite=Lax$/;

type Agentish = ReturnType<typeof request>;

function setCookies(res: request.Response): string[] {
  const raw = res.headers['set-cookie'] as unknown;
  if (raw === undefined) return [];
  return Array.isArray(raw) ? (raw as string[]) : [String(raw)];
}

async function login(
  server: Agentish,
  email = 'merchant@example.com',
  password = PASSWORD,
): Promise<{ cookie: string; id: string }> {
  const res = await server.post('/login').type('form').send({ email, password });
  assert.equal(res.status, 302);
  const [cookieHeader] = setCookies(res);
  const m = COOKIE_RE.exec(cookieHeader ?? '');
  assert.ok(m, `unexpected Set-Cookie: ${String(cookieHeader)}`);
  const id = m[1] as string;
  return { cookie: `sp_session=${id}`, id };
}

/** Minimal streaming HTTP client for the real-listener tests (no buffering of bodies). */
function rawRequest(
  url: string,
  opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: (req: http.ClientRequest) => void },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      const hash = createHash('sha256');
      const keep: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        hash.update(c);
        if (bytes <= 1024 * 1024) keep.push(c); // only keep the beginning
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(keep),
          bytes,
          sha256: hash.digest('hex'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body) opts.body(req);
    else req.end();
  });
}

describe('demo app (supertest against app.callback())', () => {
  it('GET / redirects to /dashboard', async () => {
    const { app } = createDemoApp();
    const res = await request(app.callback()).get('/');
    assert.equal(res.status, 302);
    assert.equal(res.headers['location'], '/dashboard');
  });

  it('GET /login serves the login form', async () => {
    const { app } = createDemoApp();
    const res = await request(app.callback()).get('/login');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(res.text, /<form method="post" action="\/login">/);
    assert.match(res.text, /name="email"/);
    assert.match(res.text, /name="password"/);
    assert.doesNotMatch(res.text, /Invalid email or password/);
  });

  it('login success (urlencoded) sets the session cookie and redirects', async () => {
    const { app, sessions } = createDemoApp();
    const res = await request(app.callback())
      .post('/login')
      .set('Content-Type', 'application/x-www-form-urlencoded')
      .send('email=merchant%40example.com&password=smartpush-demo');
    assert.equal(res.status, 302);
    assert.equal(res.headers['location'], '/dashboard');
    const cookies = setCookies(res);
    assert.equal(cookies.length, 1);
    const m = COOKIE_RE.exec(cookies[0] ?? '');
    assert.ok(m, `unexpected Set-Cookie: ${String(cookies[0])}`);
    assert.equal(sessions.size, 1);
    assert.equal(sessions.get(m[1] as string), 'merchant@example.com');
  });

  it('login success (JSON) works too, and every login gets a fresh id', async () => {
    const { app, sessions } = createDemoApp();
    const server = request(app.callback());
    const ids = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const res = await server
        .post('/login')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ email: 'owner@example.com', password: PASSWORD }));
      assert.equal(res.status, 302);
      const m = COOKIE_RE.exec(setCookies(res)[0] ?? '');
      assert.ok(m);
      ids.add(m[1] as string);
    }
    assert.equal(ids.size, 2);
    assert.equal(sessions.size, 2);
    for (const id of ids) assert.equal(sessions.get(id), 'owner@example.com');
  });

  it('login failure answers 200 with the form and the error text, no cookie', async () => {
    const { app, sessions } = createDemoApp();
    const server = request(app.callback());
    const attempts: Array<Record<string, string>> = [
      { email: 'merchant@example.com', password: 'wrong' },
      { email: 'nobody@example.com', password: PASSWORD },
      { email: 'merchant@example.com' },
      {},
    ];
    for (const body of attempts) {
      const res = await server.post('/login').type('form').send(body);
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.match(res.text, /Invalid email or password/);
      assert.match(res.text, /<form method="post" action="\/login">/);
      assert.deepEqual(setCookies(res), []);
    }
    const json = await server
      .post('/login')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ email: 'owner@example.com', password: 'smartpush-dem0' }));
    assert.equal(json.status, 200);
    assert.match(json.text, /Invalid email or password/);
    assert.equal(sessions.size, 0);
  });

  it('login rejects oversized bodies with 413 and malformed JSON with 400', async () => {
    const { app, sessions } = createDemoApp();
    const server = request(app.callback());
    const big = await server
      .post('/login')
      .type('form')
      .send(`email=merchant%40example.com&password=smartpush-demo&pad=${'x'.repeat(17 * 1024)}`);
    assert.equal(big.status, 413);
    const bad = await server.post('/login').set('Content-Type', 'application/json').send('{"email":');
    assert.equal(bad.status, 400);
    assert.equal(sessions.size, 0);
  });

  it('custom accounts replace the defaults', async () => {
    const { app } = createDemoApp({ accounts: [{ email: 'a@b.test', password: 'pw', name: 'A & B <co>' }] });
    const server = request(app.callback());
    const denied = await server.post('/login').type('form').send({ email: 'merchant@example.com', password: PASSWORD });
    assert.equal(denied.status, 200);
    const { cookie } = await login(server, 'a@b.test', 'pw');
    const dash = await server.get('/dashboard').set('Cookie', cookie);
    assert.equal(dash.status, 200);
    assert.match(dash.text, /A &#38; B &#60;co&#62;/);
    assert.doesNotMatch(dash.text, /<co>/);
  });

  it('/api/me requires the session cookie', async () => {
    const { app } = createDemoApp();
    const server = request(app.callback());

    const anon = await server.get('/api/me');
    assert.equal(anon.status, 401);
    assert.deepEqual(anon.body, { error: 'unauthorized' });

    const forged = await server.get('/api/me').set('Cookie', `sp_session=${'0'.repeat(32)}`);
    assert.equal(forged.status, 401);

    const merchant = await login(server);
    const me = await server.get('/api/me').set('Cookie', merchant.cookie);
    assert.equal(me.status, 200);
    assert.deepEqual(me.body, { email: 'merchant@example.com', name: 'Mia Merchant', phone: '+15555550189' });

    const owner = await login(server, 'owner@example.com');
    const me2 = await server.get('/api/me').set('Cookie', `other=1; ${owner.cookie}`);
    assert.deepEqual(me2.body, { email: 'owner@example.com', name: 'Owen Owner', phone: null });

    // koa-router is case-insensitive by default; the legacy app keeps that behaviour.
    const upper = await server.get('/API/ME').set('Cookie', merchant.cookie);
    assert.equal(upper.status, 200);
    assert.equal(upper.body.email, 'merchant@example.com');
  });

  it('HTML pages redirect to /login without a session; dashboard greets the user', async () => {
    const { app } = createDemoApp();
    const server = request(app.callback());
    const anon = await server.get('/dashboard');
    assert.equal(anon.status, 302);
    assert.equal(anon.headers['location'], '/login');

    const { cookie } = await login(server);
    const dash = await server.get('/dashboard').set('Cookie', cookie);
    assert.equal(dash.status, 200);
    assert.match(dash.text, /SmartPush dashboard/);
    assert.match(dash.text, /Mia Merchant/);
    assert.match(dash.text, /href="\/api\/campaigns"/);
    assert.match(dash.text, /href="\/api\/contacts\/export/);

    const campaigns = await server.get('/api/campaigns').set('Cookie', cookie);
    assert.equal(campaigns.status, 200);
    assert.ok(Array.isArray(campaigns.body) && campaigns.body.length === 3);
    for (const c of campaigns.body as Array<Record<string, unknown>>) {
      assert.deepEqual(Object.keys(c).sort(), ['id', 'name', 'sent', 'status']);
    }
  });

  it('export with rows=1000 has 1000 fixed-width rows and an exact, predictable size', async () => {
    const { app } = createDemoApp();
    const server = request(app.callback());
    const { cookie } = await login(server);

    for (const [method, path] of [
      ['get', '/api/contacts/export?rows=1000'],
      ['post', '/api/campaigns/2/export?rows=1000'],
    ] as const) {
      const res = await server[method](path)
        .set('Cookie', cookie)
        .buffer(true)
        .parse((r, cb) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => cb(null, Buffer.concat(chunks)));
        });
      assert.equal(res.status, 200, path);
      assert.match(String(res.headers['content-type']), /^text\/csv/);
      assert.match(String(res.headers['content-disposition']), /^attachment; filename="[\w.-]+\.csv"$/);
      const body = res.body as Buffer;
      const expected = Buffer.byteLength(EXPORT_HEADER) + 1000 * 64;
      assert.equal(exportSize(1000), expected);
      assert.equal(body.length, expected);
      assert.equal(Number(res.headers['content-length']), expected);

      const text = body.toString('latin1');
      assert.ok(text.startsWith(EXPORT_HEADER));
      const lines = text.slice(EXPORT_HEADER.length).split('\n');
      assert.equal(lines.pop(), ''); // ends with '\n'
      assert.equal(lines.length, 1000);
      lines.forEach((line, i) => {
        assert.equal(line.length + 1, EXPORT_ROW_BYTES);
        assert.equal(Number(line.split(',')[0]), i + 1);
        assert.equal(line.split(',').length, 5);
      });
    }

    const dflt = await server.get('/api/contacts/export').set('Cookie', cookie);
    assert.equal(dflt.status, 200);
    assert.equal(Number(dflt.headers['content-length']), exportSize(100));
    assert.equal(dflt.text.length, exportSize(100));
  });

  it('export validates ?rows and requires a session', async () => {
    const { app } = createDemoApp();
    const server = request(app.callback());
    const { cookie } = await login(server);
    for (const q of ['rows=abc', 'rows=-1', 'rows=1.5', 'rows=', 'rows=20000001', 'rows=1e3', 'rows=1&rows=2']) {
      const res = await server.get(`/api/contacts/export?${q}`).set('Cookie', cookie);
      assert.equal(res.status, 400, q);
      assert.deepEqual(res.body, { error: 'bad_rows' }, q);
    }
    const zero = await server.get('/api/contacts/export?rows=0').set('Cookie', cookie);
    assert.equal(zero.status, 200);
    assert.equal(zero.text, EXPORT_HEADER);
    const anon = await server.get('/api/contacts/export?rows=10');
    assert.equal(anon.status, 401);
    assert.deepEqual(anon.body, { error: 'unauthorized' });
  });

  it('export stream generates lazily and honours backpressure', async () => {
    const stream = createExportStream(16_777_216); // 1 GiB of rows
    let received = 0;
    const stalled = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, _cb) {
        received += chunk.length; // never call back: the consumer is stuck
      },
    });
    stream.pipe(stalled);
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    assert.ok(received > 0, 'consumer got nothing');
    assert.ok(received <= 64 * 1024, `consumer got ${received} bytes`);
    assert.ok(stream.readableLength <= 2 * 64 * 1024, `buffered ${stream.readableLength} bytes`);
    stream.destroy();
    stalled.destroy();
  });

  it('logout deletes the session server-side and clears the cookie (GET and POST)', async () => {
    const { app, sessions } = createDemoApp();
    const server = request(app.callback());
    for (const method of ['get', 'post'] as const) {
      const { cookie, id } = await login(server);
      assert.ok(sessions.has(id));
      const res = await server[method]('/logout').set('Cookie', cookie);
      assert.equal(res.status, 302);
      assert.equal(res.headers['location'], '/login');
      assert.deepEqual(setCookies(res), ['sp_session=; Max-Age=0; Path=/']);
      assert.equal(sessions.has(id), false);
      const me = await server.get('/api/me').set('Cookie', cookie);
      assert.equal(me.status, 401);
    }
    assert.equal(sessions.size, 0);
  });

  it('debug endpoints are public and report what the app received', async () => {
    const { app } = createDemoApp();
    const server = request(app.callback());
    const h = await server.get('/api/headers?x=1&y=%2F').set('X-Probe', 'abc');
    assert.equal(h.status, 200);
    assert.equal(h.body.method, 'GET');
    assert.equal(h.body.url, '/api/headers?x=1&y=%2F');
    assert.equal(h.body.headers['x-probe'], 'abc');
    assert.equal(h.body['x-probe'], 'abc');

    const d = await server.put('/debug/request/some/Deep%2Fpath?q=1').set('Content-Type', 'text/plain').send('hello world');
    assert.equal(d.status, 200);
    assert.equal(d.body.method, 'PUT');
    assert.equal(d.body.url, '/debug/request/some/Deep%2Fpath?q=1');
    assert.equal(d.body.bodyBytes, 11);
    assert.equal(d.body.headers['content-type'], 'text/plain');

    const bare = await server.delete('/debug/request');
    assert.equal(bare.status, 200);
    assert.equal(bare.body.method, 'DELETE');
    assert.equal(bare.body.bodyBytes, 0);
  });

  it('/api/slow waits, validates ms; static assets and 404', async () => {
    const { app } = createDemoApp();
    const server = request(app.callback());
    const t0 = Date.now();
    const slow = await server.get('/api/slow?ms=120');
    assert.equal(slow.status, 200);
    assert.deepEqual(slow.body, { ok: true });
    assert.ok(Date.now() - t0 >= 100, 'did not wait');
    const bad = await server.get('/api/slow?ms=120001');
    assert.equal(bad.status, 400);

    const css = await server.get('/static/app.css');
    assert.equal(css.status, 200);
    assert.match(String(css.headers['content-type']), /^text\/css/);
    assert.match(String(css.headers['cache-control']), /max-age=\d+/);
    const svg = await server.get('/static/logo.svg');
    assert.equal(svg.status, 200);
    assert.equal(svg.headers['content-type'], 'image/svg+xml');
    const cached = await server.get('/static/app.css').set('If-None-Match', String(css.headers['etag']));
    assert.equal(cached.status, 304);

    for (const path of ['/static/nope.js', '/nope', '/api/nope']) {
      const res = await server.get(path);
      assert.equal(res.status, 404, path);
      assert.match(String(res.headers['content-type']), /^text\/plain/);
    }
  });
});

describe('demo app (real listener)', () => {
  let demo: Awaited<ReturnType<typeof startDemoApp>>;
  let cookie: string;

  before(async () => {
    demo = await startDemoApp({ port: 0 });
    assert.match(demo.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    ({ cookie } = await login(request(demo.url)));
  });
  after(async () => {
    await demo.close();
  });

  it('upload counts the bytes of a 5 MiB chunked body by streaming', async () => {
    const payload = randomBytes(5 * 1024 * 1024);
    const res = await rawRequest(`${demo.url}/api/upload`, {
      method: 'POST',
      headers: { Cookie: cookie, 'Content-Type': 'application/octet-stream' }, // no length → chunked
      body: (req) => {
        let off = 0;
        const step = 64 * 1024 + 7;
        const pump = (): void => {
          while (off < payload.length) {
            const chunk = payload.subarray(off, off + step);
            off += chunk.length;
            if (!req.write(chunk)) {
              req.once('drain', pump);
              return;
            }
          }
          req.end();
        };
        pump();
      },
    });
    assert.equal(res.status, 200);
    const json = JSON.parse(res.body.toString('utf8')) as { bytes: number; sha256: string };
    assert.equal(json.bytes, 5 * 1024 * 1024);
    assert.equal(json.sha256, createHash('sha256').update(payload).digest('hex'));

    const anon = await rawRequest(`${demo.url}/api/upload`, { method: 'POST' });
    assert.equal(anon.status, 401);
  });

  it('echo streams the body back unchanged with its Content-Type', async () => {
    const payload = randomBytes(3 * 1024 * 1024 + 13);
    const res = await rawRequest(`${demo.url}/api/echo`, {
      method: 'POST',
      headers: { Cookie: cookie, 'Content-Type': 'application/x-smartpush-test' },
      body: (req) => req.end(payload),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/x-smartpush-test');
    assert.equal(res.bytes, payload.length);
    assert.equal(res.sha256, createHash('sha256').update(payload).digest('hex'));
  });

  it('streams a large export over the wire with the announced length', async () => {
    const rows = 262_144; // 16 MiB of rows
    const res = await rawRequest(`${demo.url}/api/contacts/export?rows=${rows}`, { headers: { Cookie: cookie } });
    assert.equal(res.status, 200);
    assert.equal(Number(res.headers['content-length']), exportSize(rows));
    assert.equal(res.bytes, exportSize(rows));
    assert.equal(res.headers['transfer-encoding'], undefined);
  });

  it('websocket echo on /ws; other upgrade paths are refused', async () => {
    const wsUrl = `${demo.url.replace(/^http/, 'ws')}/ws`;
    const ws = new WebSocket(wsUrl);
    await once(ws, 'open');
    const text = once(ws, 'message');
    ws.send('hello smartpush');
    const [data, isBinary] = (await text) as [Buffer, boolean];
    assert.equal(isBinary, false);
    assert.equal(data.toString('utf8'), 'hello smartpush');

    const bin = randomBytes(70_000);
    const binMsg = once(ws, 'message');
    ws.send(bin);
    const [data2, isBinary2] = (await binMsg) as [Buffer, boolean];
    assert.equal(isBinary2, true);
    assert.ok(bin.equals(data2));
    ws.close();
    await once(ws, 'close');

    const other = new WebSocket(`${demo.url.replace(/^http/, 'ws')}/wsx`);
    const [err] = (await once(other, 'error')) as [Error];
    assert.ok(err instanceof Error);
    assert.equal(other.readyState, WebSocket.CLOSED);
  });
});
