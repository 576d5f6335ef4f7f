import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import WebSocket from 'ws';
import { OPEN_POLICY, signIn, startStack, type Stack } from '../helpers/stack.ts';

/** A hand-written upstream so tests control exactly when bytes flow. */
async function rawUpstream(handler: http.RequestListener): Promise<{ url: string; server: http.Server; close(): Promise<void> }> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

function request(url: string, options: http.RequestOptions = {}, body?: Buffer | string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

let stack: Stack;
before(async () => {
  stack = await startStack({ policy: OPEN_POLICY });
});
after(async () => {
  await stack.close();
});

test('a response streams to the client before the upstream has finished it', async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const upstream = await rawUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first-chunk\n');
    void released.then(() => res.end('rest\n'));
  });
  const s = await startStack({ policy: OPEN_POLICY, upstreamUrl: upstream.url });
  try {
    const body = await new Promise<string>((resolve, reject) => {
      http.get(`${s.url}/stream`, { agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          // The upstream is still holding the rest: only a streaming proxy shows us this chunk now.
          if (text === 'first-chunk\n') release();
        });
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    assert.equal(body, 'first-chunk\nrest\n');
  } finally {
    await s.close();
    await upstream.close();
  }
});

test('a request body streams to the upstream before the client has finished sending it', async () => {
  let firstSeen!: () => void;
  const seen = new Promise<void>((r) => (firstSeen = r));
  const upstream = await rawUpstream((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
      if (text.startsWith('part-one')) firstSeen();
    });
    req.on('end', () => res.end(text));
  });
  const s = await startStack({ policy: OPEN_POLICY, upstreamUrl: upstream.url });
  try {
    const result = await new Promise<string>((resolve, reject) => {
      const req = http.request(`${s.url}/upload`, { method: 'POST', agent: false, headers: { 'content-type': 'text/plain' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.write('part-one|');
      // The second part is sent only once the upstream has the first: a buffering proxy deadlocks here.
      void seen.then(() => req.end('part-two'));
    });
    assert.equal(result, 'part-one|part-two');
  } finally {
    await s.close();
    await upstream.close();
  }
});

test('a large upload and a large download pass intact', async () => {
  const size = 48 * 1024 * 1024;
  const payload = Buffer.alloc(size, 7);
  for (let i = 0; i < size; i += 4096) payload[i] = i % 251;
  const expected = createHash('sha256').update(payload).digest('hex');
  // /api/upload of the demo app needs its own session, which the sidecar releases at sign-in.
  const cookie = await signIn(stack.url);
  const up = await request(`${stack.url}/api/upload`, { method: 'POST', headers: { cookie, 'content-type': 'application/octet-stream', 'content-length': String(size) } }, payload);
  assert.equal(up.status, 200);
  assert.deepEqual(JSON.parse(up.body.toString()), { bytes: size, sha256: expected });

  const rows = 200_000;
  const down = await request(`${stack.url}/api/contacts/export?rows=${rows}`, { headers: { cookie } });
  assert.equal(down.status, 200);
  assert.equal(down.body.length, 29 + rows * 64);
  assert.equal(down.body.toString('utf8', 0, 29), 'id,email,name,status,country\n');
});

test('the upstream receives exactly the canonical target', async () => {
  const r = await request(`${stack.url}/debug/request/a/./b/../c/%7euser/%e4%b8%ad?q=1&r=%2F`);
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.body.toString()).url, '/debug/request/a/c/~user/%E4%B8%AD?q=1&r=%2F');
});

test('an unreachable upstream is answered 502, as a page for browsers and JSON for APIs', async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
  const s = await startStack({ policy: OPEN_POLICY, upstreamUrl: `http://127.0.0.1:${port}` });
  try {
    const api = await request(`${s.url}/api/me`, { headers: { accept: 'application/json' } });
    assert.equal(api.status, 502);
    assert.equal(JSON.parse(api.body.toString()).error, 'upstream_unavailable');
    const page = await request(`${s.url}/dashboard`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 502);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.body.toString(), /cannot be reached/);
  } finally {
    await s.close();
  }
});

test('an upstream that does not answer in time is answered 504', async () => {
  const s = await startStack({ policy: OPEN_POLICY, config: { upstream: { url: 'http://placeholder', response_timeout: '300ms' } } });
  try {
    const r = await request(`${s.url}/api/slow?ms=5000`, { headers: { accept: 'application/json' } });
    assert.equal(r.status, 504);
    assert.equal(JSON.parse(r.body.toString()).error, 'upstream_timeout');
  } finally {
    await s.close();
  }
});

test('websocket upgrades pass through after the policy allowed them', async () => {
  const ws = new WebSocket(`${stack.url.replace('http', 'ws')}/ws`);
  await once(ws, 'open');
  ws.send('hello through the sidecar');
  const [message] = (await once(ws, 'message')) as [Buffer];
  assert.equal(message.toString(), 'hello through the sidecar');
  ws.close();
});

test('graceful shutdown lets an in-flight request finish and then stops listening', async () => {
  const s = await startStack({ policy: OPEN_POLICY });
  const inflight = request(`${s.url}/api/slow?ms=400`);
  await new Promise((r) => setTimeout(r, 100));
  const closing = s.close();
  const r = await inflight;
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body.toString()), { ok: true });
  await closing;
  await assert.rejects(request(`${s.url}/static/app.css`), /ECONNREFUSED/);
});
