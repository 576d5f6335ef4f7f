/**
 * The forwarding core (src/proxy/forward.ts `Upstream`) on its own, between a real client, a
 * plain http server calling `web()`, and hand-written upstreams: how the response head is written,
 * keep-alive reuse, the upstream timeouts armed on the agent's sockets, and what happens when
 * either side breaks off.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import https from 'node:https';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Upstream, UpstreamError, type UpstreamOptions, type UpstreamAnswer } from '../../src/proxy/forward.ts';
import { headerList, serverNameFor } from '../../src/proxy/message-head.ts';
import { BUILTIN_STRIPPED_HEADERS, compileHeaderFilter } from '../../src/proxy/headers.ts';

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        if (server instanceof http.Server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** An upstream that answers each request's raw bytes with `reply(requestHead)`; it counts connections. */
async function rawUpstream(reply: (head: string, socket: net.Socket) => void): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        reply(head, socket);
      }
    });
    socket.on('error', () => undefined);
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, connections: () => connections };
}

interface Outcome {
  readonly result: Promise<{ status: number } | UpstreamError>;
}

/** A front server whose every request goes through `upstream.web()`; the outcome of each call is reported. */
async function front(
  options: Partial<UpstreamOptions> & { url: URL },
  prepare?: (res: http.ServerResponse) => void,
  observe?: (answer: UpstreamAnswer) => void,
): Promise<{ url: string; upstream: Upstream; outcomes: Array<Outcome['result']>; requests: http.IncomingMessage[] }> {
  const upstream = new Upstream({
    connectTimeoutMs: 2_000,
    responseTimeoutMs: 5_000,
    maxSockets: 8,
    stripped: compileHeaderFilter(BUILTIN_STRIPPED_HEADERS),
    ownCookie: (name) => name.startsWith('spg_'),
    upstreamSessionCookie: (name) => name === 'app_session',
    requestIdHeader: 'x-request-id',
    ...options,
  });
  const outcomes: Array<Outcome['result']> = [];
  const requests: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req);
    prepare?.(res);
    const facts = { forwardedFor: '127.0.0.1', proto: 'http' as const, host: 'app.test', requestId: 'req-1', requestIdHeader: 'x-request-id' };
    const result = upstream.web(req, res, req.url ?? '/', facts, observe).catch((error: unknown) => {
      assert.ok(error instanceof UpstreamError);
      if (!res.headersSent) res.writeHead(error.failure === 'timeout' ? 504 : 502, { 'content-type': 'text/plain' }).end(error.failure);
      return error;
    });
    outcomes.push(result);
  });
  const port = await listen(server);
  closers.push(async () => upstream.close());
  return { url: `http://127.0.0.1:${port}`, upstream, outcomes, requests };
}

/** Sends raw bytes and collects everything until the connection closes. */
async function rawExchange(url: string, bytes: string): Promise<string> {
  const { port } = new URL(url);
  const socket = net.connect(Number(port), '127.0.0.1');
  socket.write(bytes);
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  await once(socket, 'close');
  return text;
}

/** The payload of a complete chunked body; throws on anything malformed. */
function dechunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const line = rest.indexOf('\r\n');
    assert.notEqual(line, -1, 'chunk size line');
    const size = parseInt(rest.slice(0, line), 16);
    assert.ok(Number.isInteger(size), 'chunk size');
    if (size === 0) {
      assert.equal(rest.slice(line), '\r\n\r\n', 'last chunk, no trailers');
      return out;
    }
    out += rest.slice(line + 2, line + 2 + size);
    assert.equal(rest.slice(line + 2 + size, line + 4 + size), '\r\n');
    rest = rest.slice(line + 4 + size);
  }
}

function get(url: string, options: http.RequestOptions = {}): Promise<{ status: number; message: string; headers: http.IncomingHttpHeaders; raw: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, ...options }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, message: res.statusMessage ?? '', headers: res.headers, raw: res.rawHeaders, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

test('headerList: one name/value pair per line, removed (undefined) headers skipped', () => {
  assert.deepEqual(headerList({ a: '1', b: undefined, 'set-cookie': ['x=1', 'y=2'], c: '' }), ['a', '1', 'set-cookie', 'x=1', 'set-cookie', 'y=2', 'c', '']);
  assert.deepEqual(headerList({}), []);
});

test('the response head: status and reason phrase kept, hop-by-hop gone, withheld cookies dropped, own cookies merged', async () => {
  const upstream = await rawUpstream((_head, socket) => {
    socket.write(
      'HTTP/1.1 203 Quite Fine\r\nContent-Length: 2\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\nX-Secret: 1\r\n' +
        'Set-Cookie: app_session=bound; Path=/\r\nSet-Cookie: spg_session=forged\r\nSet-Cookie: theme=dark\r\nContent-Type: text/plain\r\n\r\nok',
    );
  });
  const observed: UpstreamAnswer[] = [];
  const f = await front({ url: new URL(upstream.url) }, (res) => res.setHeader('set-cookie', 'spg_session=ours; HttpOnly'), (answer) => observed.push(answer));
  const r = await get(`${f.url}/page`);
  assert.equal(r.status, 203);
  assert.equal(r.message, 'Quite Fine');
  assert.equal(r.body, 'ok');
  assert.equal(r.headers['x-secret'], undefined);
  assert.equal(r.headers['keep-alive'], undefined);
  assert.deepEqual(r.headers['set-cookie'], ['theme=dark', 'spg_session=ours; HttpOnly']);
  assert.equal(r.raw.filter((name) => name.toLowerCase() === 'content-length').length, 1);
  assert.equal(r.raw.filter((name) => name.toLowerCase() === 'transfer-encoding').length, 0);
  // The observer (cookie binding) saw the upstream's cookies before they were withheld.
  assert.equal(observed.length, 1);
  assert.deepEqual(observed[0]?.setCookies, ['app_session=bound; Path=/', 'spg_session=forged', 'theme=dark']);
  assert.deepEqual(await f.outcomes[0], { status: 203 });
});

test('with nothing set on the response yet, every upstream Set-Cookie line still arrives (one head write)', async () => {
  const upstream = await rawUpstream((_head, socket) => {
    socket.write('HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: spg_x=forged\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n');
  });
  const f = await front({ url: new URL(upstream.url) });
  const r = await get(`${f.url}/cookies`);
  assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
  assert.equal(r.message, 'OK');
});

test('a chunked upstream answer is re-framed for the client, never with Content-Length beside Transfer-Encoding', async () => {
  const upstream = await rawUpstream((_head, socket) => {
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
  });
  const f = await front({ url: new URL(upstream.url) });
  const raw = await rawExchange(f.url, 'GET /c HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
  const [head = '', body = ''] = raw.split('\r\n\r\n', 2).length === 2 ? [raw.slice(0, raw.indexOf('\r\n\r\n')), raw.slice(raw.indexOf('\r\n\r\n') + 4)] : [];
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.equal((head.match(/^transfer-encoding: chunked$/gim) ?? []).length, 1);
  assert.doesNotMatch(head, /content-length/i);
  assert.equal(dechunk(body), 'hello world');
});

test('HEAD and 204 answers carry no body, and the connection stays usable', async () => {
  const upstream = await rawUpstream((head, socket) => {
    if (head.startsWith('HEAD')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\n\r\n');
    else socket.write('HTTP/1.1 204 No Content\r\n\r\n');
  });
  const f = await front({ url: new URL(upstream.url) });
  const raw = await rawExchange(f.url, 'HEAD /h HTTP/1.1\r\nHost: app.test\r\n\r\nDELETE /d HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
  const parts = raw.split('\r\n\r\n');
  assert.match(parts[0] ?? '', /^HTTP\/1\.1 200 OK\r\n[\s\S]*content-length: 1234/i);
  assert.match(parts[1] ?? '', /^HTTP\/1\.1 204 No Content\r\n/);
  assert.equal(parts[2], '');
});

test('sequential requests reuse one upstream connection (keep-alive agent)', async () => {
  const upstream = await rawUpstream((_head, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx'));
  const f = await front({ url: new URL(upstream.url) });
  for (let i = 0; i < 5; i++) assert.equal((await get(`${f.url}/k${i}`)).body, 'x');
  assert.equal(upstream.connections(), 1);
});

test('an upstream that goes quiet is a timeout (504), on a new and on a reused connection alike', async () => {
  let answerFirst = true;
  const upstream = await rawUpstream((_head, socket) => {
    // The first request is answered (its socket returns to the pool); later ones never are.
    if (answerFirst) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx');
    answerFirst = false;
  });
  const f = await front({ url: new URL(upstream.url), responseTimeoutMs: 200 });
  assert.equal((await get(`${f.url}/first`)).status, 200);
  const reused = await get(`${f.url}/quiet`);
  assert.equal(reused.status, 504);
  assert.equal(upstream.connections(), 1, 'the timed-out request went over the pooled connection');
  const fresh = await get(`${f.url}/quiet-again`);
  assert.equal(fresh.status, 504);
  const failures = await Promise.all(f.outcomes.slice(1));
  for (const failure of failures) assert.ok(failure instanceof UpstreamError && failure.failure === 'timeout');
});

/**
 * An upstream that answers the first request on each connection with keep-alive and then treats the
 * connection as timed out: a later request on it is met by `stale(socket)` (a reset or a close),
 * never an answer, as when its keep-alive timeout runs out just as the sidecar reuses the socket.
 */
async function closesReusedConnections(stale: (socket: net.Socket) => void): Promise<{ url: string; connections: () => number; heads: string[] }> {
  const served = new WeakSet<net.Socket>();
  const heads: string[] = [];
  const upstream = await rawUpstream((head, socket) => {
    heads.push(head.split('\r\n')[0] ?? '');
    if (served.has(socket)) {
      stale(socket);
      return;
    }
    served.add(socket);
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n${head.startsWith('HEAD ') ? '' : 'ok'}`);
  });
  return { ...upstream, heads };
}

test('a GET whose pooled connection the upstream had just reset is sent again on a new one', async () => {
  const upstream = await closesReusedConnections((socket) => socket.resetAndDestroy());
  const retried: Array<string | undefined> = [];
  const f = await front({ url: new URL(upstream.url), onRetry: (requestId) => retried.push(requestId) });
  assert.equal((await get(`${f.url}/first`)).body, 'ok');
  const second = await get(`${f.url}/second`);
  assert.equal(second.status, 200);
  assert.equal(second.body, 'ok');
  assert.equal(upstream.connections(), 2, 'the retry went over a new connection');
  assert.deepEqual(upstream.heads, ['GET /first HTTP/1.1', 'GET /second HTTP/1.1', 'GET /second HTTP/1.1']);
  assert.deepEqual(await f.outcomes[1], { status: 200 });
  assert.deepEqual(retried, ['req-1'], 'the retry is reported once, with the request id');
});

test('a HEAD whose pooled connection was closed before any answer (socket hang up) is sent again', async () => {
  const upstream = await closesReusedConnections((socket) => socket.end());
  const f = await front({ url: new URL(upstream.url) });
  assert.equal((await get(`${f.url}/first`)).status, 200);
  assert.equal((await get(`${f.url}/again`, { method: 'HEAD' })).status, 200);
  assert.equal(upstream.connections(), 2);
});

test('a request with a body, or with a method that is not idempotent, is not sent twice: 502', async () => {
  const upstream = await closesReusedConnections((socket) => socket.resetAndDestroy());
  const retried: Array<string | undefined> = [];
  const f = await front({ url: new URL(upstream.url), onRetry: (requestId) => retried.push(requestId) });
  assert.equal((await get(`${f.url}/first`)).status, 200);
  const posted = new Promise<number>((resolve, reject) => {
    const req = http.request(`${f.url}/orders`, { method: 'POST', agent: false, headers: { 'content-type': 'text/plain' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end('buy');
  });
  assert.equal(await posted, 502);
  assert.equal((await get(`${f.url}/warm`)).status, 200);
  assert.equal((await get(`${f.url}/orders/7`, { method: 'DELETE' })).status, 502);
  assert.equal(upstream.connections(), 2, 'neither failed request opened a connection to try again');
  assert.deepEqual(retried, []);
  for (const index of [1, 3]) {
    const failure = await f.outcomes[index];
    assert.ok(failure instanceof UpstreamError && failure.failure === 'reset');
  }
});

test('a GET that fails on a new connection is not retried', async () => {
  const upstream = await rawUpstream((_head, socket) => socket.resetAndDestroy());
  const retried: Array<string | undefined> = [];
  const f = await front({ url: new URL(upstream.url), onRetry: (requestId) => retried.push(requestId) });
  assert.equal((await get(`${f.url}/x`)).status, 502);
  assert.equal(upstream.connections(), 1);
  assert.deepEqual(retried, []);
  const failure = await f.outcomes[0];
  assert.ok(failure instanceof UpstreamError && failure.failure === 'reset');
});

/** An upstream answering every request on a kept-alive connection; `firstClosed` settles when its first connection closes. */
async function keptAliveUpstream(extraHeader = ''): Promise<{ url: string; connections: () => number; firstClosed: Promise<void> }> {
  let markClosed: () => void = () => undefined;
  const firstClosed = new Promise<void>((resolve) => (markClosed = resolve));
  const seen = new WeakSet<net.Socket>();
  const upstream = await rawUpstream((_head, socket) => {
    if (!seen.has(socket)) socket.once('close', () => markClosed());
    seen.add(socket);
    socket.write(`HTTP/1.1 200 OK\r\n${extraHeader}Content-Length: 1\r\n\r\nx`);
  });
  return { ...upstream, firstClosed };
}

// No fixed sleeps: each test waits for the upstream to see the close (it would wait for ever,
// past the test's timeout, if the sidecar kept the connection).
test('a pooled connection unused for idleTimeoutMs is closed by the sidecar, and the next request opens a new one', { timeout: 20_000 }, async () => {
  const upstream = await keptAliveUpstream();
  const f = await front({ url: new URL(upstream.url), idleTimeoutMs: 300 });
  assert.equal((await get(`${f.url}/a`)).status, 200);
  await upstream.firstClosed;
  assert.equal((await get(`${f.url}/b`)).status, 200);
  assert.equal(upstream.connections(), 2);
});

test('a connection used again within idleTimeoutMs is reused', async () => {
  const upstream = await keptAliveUpstream();
  const f = await front({ url: new URL(upstream.url), idleTimeoutMs: 60_000 });
  for (const path of ['/a', '/b', '/c']) assert.equal((await get(`${f.url}${path}`)).status, 200);
  assert.equal(upstream.connections(), 1);
});

test("the upstream's Keep-Alive: timeout=N is honoured: its connection is closed a second before that", { timeout: 20_000 }, async () => {
  const upstream = await keptAliveUpstream('Keep-Alive: timeout=2\r\n');
  const retried: Array<string | undefined> = [];
  // The sidecar's own limit is a minute: only the hint (2 s, so kept 1 s) closes it within the test's time.
  const f = await front({ url: new URL(upstream.url), idleTimeoutMs: 60_000, onRetry: (id) => retried.push(id) });
  assert.equal((await get(`${f.url}/a`)).status, 200);
  await upstream.firstClosed;
  assert.equal((await get(`${f.url}/b`)).status, 200);
  assert.equal(upstream.connections(), 2);
  assert.deepEqual(retried, []);
});

test('a refused connection is a connect failure (502)', async () => {
  const probe = net.createServer();
  const port = await listen(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const f = await front({ url: new URL(`http://127.0.0.1:${port}`) });
  assert.equal((await get(`${f.url}/x`)).status, 502);
  const failure = await f.outcomes[0];
  assert.ok(failure instanceof UpstreamError && failure.failure === 'connect');
});

test('an upstream status Node cannot write is answered 502, nothing half-sent', async () => {
  const upstream = await rawUpstream((_head, socket) => socket.write('HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n'));
  const f = await front({ url: new URL(upstream.url) });
  assert.equal((await get(`${f.url}/odd`)).status, 502);
  const failure = await f.outcomes[0];
  assert.ok(failure instanceof UpstreamError && failure.failure === 'reset');
});

test('an upstream that breaks off mid-body cuts the client connection (no truncated body that looks complete)', async () => {
  const upstream = await rawUpstream((_head, socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
    setImmediate(() => socket.destroy());
  });
  const f = await front({ url: new URL(upstream.url) });
  await assert.rejects(get(`${f.url}/cut`), /aborted|ECONNRESET|socket hang up/);
  assert.deepEqual(await f.outcomes[0], { status: 200 });
});

test('a client that leaves mid-response makes the upstream request go away too', async () => {
  let upstreamClosed!: () => void;
  const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
  const upstream = await rawUpstream((_head, socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nfirst');
    socket.on('close', () => upstreamClosed());
  });
  const f = await front({ url: new URL(upstream.url) });
  await new Promise<void>((resolve, reject) => {
    const req = http.get(`${f.url}/long`, { agent: false }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => undefined);
    setTimeout(() => reject(new Error('no first chunk')), 5_000).unref();
  });
  await closed;
  assert.deepEqual(await f.outcomes[0], { status: 200 });
});

test('a request body is piped with its framing; abortSlowBody abandons it as client_timeout', async () => {
  const heads: string[] = [];
  const upstream = await rawUpstream((head) => heads.push(head));
  const f = await front({ url: new URL(upstream.url) });
  const { port } = new URL(f.url);
  const client = net.connect(Number(port), '127.0.0.1');
  client.on('error', () => undefined);
  client.write('POST /upload HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n');
  while (heads.length === 0 || f.outcomes.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.match(heads[0] ?? '', /^POST \/upload HTTP\/1\.1\r\n/);
  assert.match(heads[0] ?? '', /\r\ntransfer-encoding: chunked/i);
  assert.doesNotMatch(heads[0] ?? '', /content-length/i);
  const [req] = f.requests;
  assert.ok(req);
  assert.equal(f.upstream.abortSlowBody(req), true);
  const failure = await f.outcomes[0];
  assert.ok(failure instanceof UpstreamError && failure.failure === 'client_timeout');
  // Once abandoned, there is nothing left to abort.
  assert.equal(f.upstream.abortSlowBody(req), false);
  client.destroy();
});

test('a request without a body is not registered for abortSlowBody', async () => {
  const upstream = await rawUpstream((_head, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  const f = await front({ url: new URL(upstream.url) });
  assert.equal((await get(`${f.url}/plain`)).status, 200);
  const [req] = f.requests;
  assert.ok(req);
  assert.equal(f.upstream.abortSlowBody(req), false);
});

test('serverNameFor: the Host header as Node derives a TLS server name from it', () => {
  assert.equal(serverNameFor('shop.example.com'), 'shop.example.com');
  assert.equal(serverNameFor('shop.example.com:8443'), 'shop.example.com');
  assert.equal(serverNameFor('[::1]:8443'), '');
  assert.equal(serverNameFor('127.0.0.1:8443'), '');
});

test('an https upstream is asked for the forwarded host by SNI, as before (and its certificate is checked)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spg-forwarder-'));
  closers.push(async () => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=upstream.test', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const names: string[] = [];
  const server = https.createServer({
    key: readFileSync(join(dir, 'key.pem')),
    cert: readFileSync(join(dir, 'cert.pem')),
    // Called with the ClientHello's server name, whether or not the client then trusts the certificate.
    SNICallback: (name, done) => {
      names.push(name);
      done(null, undefined);
    },
  }, (_req, res) => res.end('tls'));
  server.on('tlsClientError', () => undefined);
  const port = await listen(server);
  const f = await front({ url: new URL(`https://127.0.0.1:${port}`) });
  // A self-signed certificate nobody trusts: the request fails (502), never goes on unverified.
  assert.equal((await get(`${f.url}/tls`)).status, 502);
  assert.ok(names.includes('app.test'), `SNI seen: ${JSON.stringify(names)}`);
});
