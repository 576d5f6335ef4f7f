/**
 * THREATS T10 — WebSocket / upgrade bypass.
 *
 * Advisories: nginx #1472 (upgrade requests that skip the access checks of normal requests);
 * kemal PR #767 (websocket handler reached before authentication); h2c smuggling (an `Upgrade: h2c`
 * passed through a proxy turns the connection into an unchecked HTTP/2 tunnel); websocket
 * smuggling (a proxy that keeps a connection open after the upstream refused the upgrade lets the
 * client talk raw HTTP to the upstream).
 *
 * Upgrades go through the same canonical target, policy and decision as ordinary requests:
 * unauthenticated → 401 and the socket closes; denied → 403; anything but a GET websocket upgrade
 * → 400; an ambiguous path → 400. An allowed upgrade echoes through to the demo app.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import WebSocket from 'ws';
import { startStack, type Stack } from '../helpers/stack.ts';
import { addressOf, headersNamed, hostOf, parseResponses, rawExchange, startRecordingUpstream, type RecordedRequest, type RecordingUpstream } from '../helpers/raw-http.ts';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** A websocket hand-shake request for `target`; `extra` header lines are added. */
function upgrade(target: string, host: string, extra: readonly string[] = [], method = 'GET'): string {
  return [
    `${method} ${target} HTTP/1.1`,
    `Host: ${host}`,
    'Connection: Upgrade',
    'Upgrade: websocket',
    `Sec-WebSocket-Key: ${KEY}`,
    'Sec-WebSocket-Version: 13',
    'Accept: application/json',
    ...extra,
    '',
    '',
  ].join('\r\n');
}

/** A policy where /ws is public, /ws-private needs a session and /admin/** is denied. */
const WS_POLICY = `version: 1
default:
  access: authenticated
rules:
  - name: websocket
    paths: ["/ws"]
    methods: [GET]
    access: public
  - name: admin
    paths: ["/admin/**"]
    access: deny
  - name: static
    paths: ["/static/**"]
    methods: [GET]
    access: public
`;

let demo: Stack; // the demo policy: /ws needs a session
let open: Stack; // WS_POLICY in front of the demo app
let recorder: RecordingUpstream;
let recorded: Stack; // WS_POLICY in front of a recording upstream
const upstreamReply = new Map<string, (req: RecordedRequest) => string | { data: string; then: 'keep' | 'close' | 'tunnel' }>();

before(async () => {
  demo = await startStack();
  open = await startStack({ policy: WS_POLICY });
  recorder = await startRecordingUpstream((req) => {
    const reply = upstreamReply.get(req.target);
    if (reply) return reply(req);
    const body = JSON.stringify({ target: req.target });
    return `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  });
  recorded = await startStack({ policy: WS_POLICY, upstreamUrl: recorder.url });
});
after(async () => {
  await Promise.all([demo.close(), open.close(), recorded.close()]);
  await recorder.close();
});

test('an unauthenticated websocket upgrade gets 401 login_required and the socket closes', async () => {
  const r = await rawExchange(demo.url, upgrade('/ws', hostOf(demo.url)));
  assert.equal(r.first.status, 401, r.first.startLine);
  assert.deepEqual((r.first.json() as { error: string }).error, 'login_required');
  assert.equal(r.closed, true, 'the socket must close after the refusal');
  assert.equal(r.responses.length, 1);
  assert.equal(r.rest.length, 0);
});

test('the ws client sees an unexpected-response 401 for an unauthenticated upgrade', async () => {
  const ws = new WebSocket(`${demo.url.replace('http', 'ws')}/ws`);
  const [, res] = (await Promise.race([
    once(ws, 'unexpected-response'),
    once(ws, 'open').then(() => assert.fail('the upgrade must not succeed')),
  ])) as [unknown, { statusCode: number; resume(): void }];
  assert.equal(res.statusCode, 401);
  res.resume();
  ws.terminate();
});

test('an unauthenticated upgrade with a path variant that canonicalises to /ws is also 401', async () => {
  for (const target of ['/static/../ws', '/./ws', '/%77s', '/WS', `http://${hostOf(demo.url)}/ws`]) {
    const r = await rawExchange(demo.url, upgrade(target, hostOf(demo.url)));
    assert.ok(r.first.status === 401 || r.first.status === 400, `${target}: ${r.first.startLine}`);
    assert.equal(r.closed, true, target);
  }
});

test('upgrade path variants that cannot be made unambiguous are refused with 400', async () => {
  for (const target of ['//ws', '/ws/..%2fws', '/ws%2f', '/ws;x', '/\\ws', '/ws%00', '/ws.', 'http://evil.example/ws', '/ws#x']) {
    const r = await rawExchange(open.url, upgrade(target, hostOf(open.url)));
    assert.equal(r.first.status, 400, `${target}: ${r.first.startLine}`);
    assert.equal(r.closed, true, target);
  }
});

test('an h2c upgrade is refused (400) and the connection closed', async () => {
  const host = hostOf(recorded.url);
  const before = recorder.requests.length;
  for (const target of ['/ws', '/static/app.css']) {
    const r = await rawExchange(
      recorded.url,
      `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n` +
        // Were the connection handed to the upstream, this HTTP/2 preface and a request would follow.
        'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    );
    assert.equal(r.first.status, 400, `${target}: ${r.first.startLine}`);
    assert.equal(r.closed, true);
    assert.equal(r.responses.length, 1);
  }
  await recorder.settle();
  assert.deepEqual(recorder.targets().slice(before), [], 'nothing reaches the upstream');
});

test('an unknown upgrade protocol is refused (400) and closed', async () => {
  const host = hostOf(recorded.url);
  const before = recorder.requests.length;
  for (const protocol of ['foo', 'websocket, h2c', 'TLS/1.0', 'h2c, websocket']) {
    const r = await rawExchange(recorded.url, `GET /ws HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n\r\n`);
    assert.equal(r.first.status, 400, `${protocol}: ${r.first.startLine}`);
    assert.equal(r.closed, true);
  }
  await recorder.settle();
  assert.deepEqual(recorder.targets().slice(before), []);
});

test('a websocket upgrade with a method other than GET is refused (400) and closed', async () => {
  const host = hostOf(recorded.url);
  const before = recorder.requests.length;
  for (const method of ['POST', 'PUT', 'OPTIONS', 'HEAD']) {
    const r = await rawExchange(recorded.url, upgrade('/ws', host, ['Content-Length: 0'], method), { head: [method === 'HEAD'] });
    assert.equal(r.first.status, 400, `${method}: ${r.first.startLine}`);
    assert.equal(r.closed, true, method);
  }
  await recorder.settle();
  assert.deepEqual(recorder.targets().slice(before), []);
});

test('an upgrade to a denied path gets 403 and closes; to a protected path 401', async () => {
  const host = hostOf(recorded.url);
  const before = recorder.requests.length;
  const denied = await rawExchange(recorded.url, upgrade('/admin/socket', host));
  assert.equal(denied.first.status, 403, denied.first.startLine);
  assert.equal(denied.closed, true);
  const climbing = await rawExchange(recorded.url, upgrade('/static/../admin/socket', host));
  assert.equal(climbing.first.status, 403, climbing.first.startLine);
  const protectedPath = await rawExchange(recorded.url, upgrade('/ws-private', host));
  assert.equal(protectedPath.first.status, 401, protectedPath.first.startLine);
  assert.equal(protectedPath.closed, true);
  await recorder.settle();
  assert.deepEqual(recorder.targets().slice(before), []);
});

test('bytes pipelined behind a refused upgrade are never forwarded', async () => {
  const host = hostOf(recorded.url);
  const before = recorder.requests.length;
  const r = await rawExchange(recorded.url, upgrade('/ws-private', host) + `GET /static/after-refused-upgrade HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  assert.equal(r.first.status, 401);
  assert.equal(r.closed, true);
  assert.equal(r.responses.length, 1);
  await recorder.settle();
  assert.deepEqual(recorder.targets().slice(before), []);
});

test('an upgrade to a sidecar path is answered by the sidecar (404), never forwarded', async () => {
  const before = recorder.requests.length;
  const r = await rawExchange(recorded.url, upgrade('/_guard/ws', hostOf(recorded.url)));
  assert.equal(r.first.status, 404, r.first.startLine);
  assert.equal(r.closed, true);
  await recorder.settle();
  assert.deepEqual(recorder.targets().slice(before), []);
});

test('with a public rule for /ws the upgrade passes and echoes', async () => {
  const ws = new WebSocket(`${open.url.replace('http', 'ws')}/ws`);
  await once(ws, 'open');
  ws.send('ping through the sidecar');
  const [data] = (await once(ws, 'message')) as [Buffer];
  assert.equal(data.toString(), 'ping through the sidecar');
  ws.close();
  await once(ws, 'close');
});

test('an allowed upgrade reaches the upstream with clean headers: no spoofed forwarding, identity, own cookies or Connection-listed headers', async () => {
  const host = hostOf(recorded.url);
  upstreamReply.set('/ws', () => ({
    data: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
    then: 'tunnel',
  }));
  recorder.reset();
  const r = await rawExchange(
    recorded.url,
    upgrade('/ws', host, [
      'X-Forwarded-For: 203.0.113.50',
      'X-Auth-User: spoof-user',
      'X_Guard_User: spoof-guard',
      'Cookie: spg_session=own-session; theme=dark',
      'X-Secret: hop-secret',
      'Connection: X-Secret',
    ]),
    { responses: 1 },
  );
  assert.equal(r.first.status, 101, r.first.startLine);
  await recorder.settle();
  assert.equal(recorder.requests.length, 1);
  const got = recorder.requests[0]!;
  assert.equal(got.target, '/ws');
  assert.deepEqual(got.headerAll('x-forwarded-for'), ['127.0.0.1']);
  assert.deepEqual(got.headerAll('upgrade').map((v) => v.toLowerCase()), ['websocket']);
  assert.deepEqual(got.headerAll('connection').map((v) => v.toLowerCase()), ['upgrade']);
  for (const name of ['x-auth-user', 'x_guard_user', 'x-secret']) assert.deepEqual(got.headerAll(name), [], name);
  assert.ok(!got.headerAll('cookie').join(';').includes('spg_'), `upstream Cookie: ${got.headerAll('cookie').join('; ')}`);
});

test("an upstream's 101 answer cannot set the sidecar's cookies or pass hop-by-hop headers to the client", async () => {
  const host = hostOf(recorded.url);
  upstreamReply.set('/ws', () => ({
    data:
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade, X-Internal\r\nX-Internal: internal-secret\r\n' +
      'Set-Cookie: spg_session=evil-101; Path=/\r\nSet-Cookie: __Host-spg_session=evil-101b; Path=/; Secure\r\n' +
      'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
    then: 'tunnel',
  }));
  const r = await rawExchange(recorded.url, upgrade('/ws', host), { responses: 1 });
  assert.equal(r.first.status, 101, r.first.startLine);
  const problems: string[] = [];
  const cookies = headersNamed(r.first.headers, 'set-cookie');
  if (cookies.some((c) => c.includes('spg_'))) problems.push(`the client received Set-Cookie ${JSON.stringify(cookies)}`);
  if (r.first.header('x-internal') !== undefined) problems.push(`the client received X-Internal: ${String(r.first.header('x-internal'))}`);
  assert.deepEqual(problems, []);
});

test("an upstream's refusal of an upgrade is relayed without the sidecar's cookies, and the connection is not turned into a tunnel", async () => {
  const host = hostOf(recorded.url);
  upstreamReply.set('/ws', () => ({
    data: 'HTTP/1.1 426 Upgrade Required\r\nSet-Cookie: spg_session=evil-426; Path=/\r\nConnection: X-Internal\r\nX-Internal: internal-secret\r\nContent-Length: 4\r\n\r\nnope',
    then: 'keep',
  }));
  recorder.reset();
  const { host: h, port } = addressOf(recorded.url);
  const socket = net.connect({ host: h, port });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (b: Buffer) => chunks.push(b));
  const closed = once(socket, 'close');
  socket.write(upgrade('/ws', host));
  for (let i = 0; i < 200 && parseResponses(Buffer.concat(chunks), false).responses.length === 0 && !socket.destroyed; i++) {
    await new Promise((res) => setTimeout(res, 10));
  }
  // Websocket smuggling: after a refused upgrade, raw HTTP on the same socket must not reach the upstream.
  if (!socket.destroyed) socket.write(`GET /admin/smuggled HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  await Promise.race([closed, new Promise((res) => setTimeout(res, 1500))]);
  socket.destroy();
  await recorder.settle();
  const { responses } = parseResponses(Buffer.concat(chunks), true);
  assert.equal(responses[0]?.status, 426, JSON.stringify(Buffer.concat(chunks).toString('latin1')));
  assert.deepEqual(recorder.targets(), ['/ws'], 'only the hand-shake reached the upstream');
  assert.ok(recorder.connections.every((c) => !c.bytes.includes('/admin/smuggled') && !c.tunnel.includes('/admin/smuggled')));
  const problems: string[] = [];
  const cookies = headersNamed(responses[0]?.headers ?? [], 'set-cookie');
  if (cookies.some((c) => c.includes('spg_'))) problems.push(`the client received Set-Cookie ${JSON.stringify(cookies)}`);
  if (responses[0]?.header('x-internal') !== undefined) problems.push(`the client received X-Internal: ${String(responses[0]?.header('x-internal'))}`);
  assert.deepEqual(problems, []);
});
