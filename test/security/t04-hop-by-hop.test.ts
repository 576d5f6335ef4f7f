/**
 * THREATS T4 — Hop-by-hop abuse.
 *
 * Advisories: heimdall #653 and Traefik PR #3907 (a client names an identity or forwarding header in
 * `Connection`, so the proxy drops the header it set itself, or passes one it should not). Measured
 * elsewhere: `Connection: close, X-Forwarded-For, Cookie` passes straight through http-proxy.
 *
 * Request side: the upstream receives none of the client's hop-by-hop headers and none of the
 * headers the client named in `Connection`, but still the sidecar's own X-Forwarded-For, and the
 * body framing survives any `Connection` trick. Response side: the upstream's hop-by-hop and
 * Connection-listed headers never reach the client. The sidecar's own cookies (`spg_…`,
 * `__Host-spg_…`) cross in neither direction.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { OPEN_POLICY, startStack, type Stack } from '../helpers/stack.ts';
import { headersNamed, hostOf, rawExchange, startRecordingUpstream, type RecordedRequest, type RecordingUpstream } from '../helpers/raw-http.ts';

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
  rawHeaders: string[];
  bodyBytes: number;
  bodySha256: string;
}

let stack: Stack;
before(async () => {
  stack = await startStack({ policy: OPEN_POLICY });
});
after(async () => {
  await stack.close();
});

async function viaDebug(lines: readonly string[], body = '', method = 'GET'): Promise<Seen> {
  const r = await rawExchange(stack.url, [`${method} /debug/request/hop HTTP/1.1`, `Host: ${hostOf(stack.url)}`, ...lines, '', body].join('\r\n'));
  assert.equal(r.first.status, 200, `${r.first.startLine} ${r.first.body.toString()}`);
  assert.equal(r.responses.length, 1, 'one request, one response');
  return r.first.json() as Seen;
}

const names = (seen: Seen): string[] => seen.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
const valuesOf = (seen: Seen, name: string): string[] =>
  seen.rawHeaders.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase() === name ? [seen.rawHeaders[i + 1] as string] : []));

/** The upstream's Connection header may only be the sidecar agent's own keep-alive/close. */
function assertOwnConnectionHeader(seen: Seen): void {
  for (const value of valuesOf(seen, 'connection')) {
    assert.match(value, /^(keep-alive|close)$/i, `upstream Connection: ${value}`);
  }
}

test('Connection: close, X-Forwarded-For, Cookie — the named headers go, our X-Forwarded-For stays', async () => {
  const seen = await viaDebug([
    'Connection: close, X-Forwarded-For, Cookie',
    'X-Forwarded-For: 203.0.113.5',
    'Cookie: theme=dark; sp_session=0123456789abcdef0123456789abcdef',
  ]);
  assert.deepEqual(valuesOf(seen, 'x-forwarded-for'), ['127.0.0.1'], 'the sidecar writes X-Forwarded-For even when a client names it in Connection');
  assert.deepEqual(valuesOf(seen, 'cookie'), [], 'a header named in Connection is hop-by-hop and is dropped');
  assertOwnConnectionHeader(seen);
});

test('Connection: keep-alive, X-Secret — the named custom header is dropped', async () => {
  const seen = await viaDebug(['Connection: keep-alive, X-Secret', 'X-Secret: hop-secret', 'Connection: close']);
  assert.ok(!names(seen).includes('x-secret'), JSON.stringify(seen.rawHeaders));
  assertOwnConnectionHeader(seen);
});

test('Connection tokens in odd spellings (case, spaces, empty list elements, a second Connection line) are honoured', async () => {
  const seen = await viaDebug([
    'Connection: ,  X-SECRET-ONE ,, keep-alive',
    'Connection: x-secret-two',
    'X-Secret-One: one',
    'x-secret-two: two',
    'Connection: close',
  ]);
  assert.ok(!names(seen).includes('x-secret-one'), JSON.stringify(seen.rawHeaders));
  assert.ok(!names(seen).includes('x-secret-two'), JSON.stringify(seen.rawHeaders));
});

test('standard hop-by-hop request headers never reach the upstream', async () => {
  const seen = await viaDebug([
    'Keep-Alive: timeout=999, max=7',
    'TE: trailers, deflate',
    'Trailer: X-Checksum',
    'Upgrade: h2c',
    'HTTP2-Settings: AAMAAABkAAQAAP__',
    'Proxy-Authorization: Basic c3Bvb2Y6c3Bvb2Y=',
    'Proxy-Connection: keep-alive',
    'Proxy-Authenticate: Basic realm="spoof"',
    'Connection: close',
  ]);
  const got = names(seen);
  for (const h of ['keep-alive', 'te', 'trailer', 'upgrade', 'http2-settings', 'proxy-authorization', 'proxy-connection', 'proxy-authenticate']) {
    assert.ok(!got.includes(h), `upstream received ${h}: ${JSON.stringify(seen.rawHeaders)}`);
  }
  assert.ok(!seen.rawHeaders.some((v) => v.includes('timeout=999')));
  assertOwnConnectionHeader(seen);
  assert.deepEqual(valuesOf(seen, 'x-forwarded-for'), ['127.0.0.1']);
});

test('Connection: content-length on a POST does not unframe its body', async () => {
  const body = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
  const seen = await viaDebug(['Connection: content-length, close', `Content-Length: ${body.length}`], body, 'POST');
  assert.equal(seen.method, 'POST');
  assert.deepEqual(valuesOf(seen, 'content-length'), [String(body.length)]);
  assert.equal(seen.bodyBytes, body.length);
  assert.equal(seen.bodySha256, createHash('sha256').update(body).digest('hex'));
});

test('Connection: transfer-encoding on a chunked POST does not unframe its body', async () => {
  const data = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
  const chunked = `${data.length.toString(16)}\r\n${data}\r\n0\r\n\r\n`;
  const r = await rawExchange(
    stack.url,
    `POST /debug/request/hop HTTP/1.1\r\nHost: ${hostOf(stack.url)}\r\nConnection: transfer-encoding, close\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`,
  );
  assert.equal(r.first.status, 200);
  assert.equal(r.responses.length, 1);
  const seen = r.first.json() as Seen;
  assert.deepEqual(valuesOf(seen, 'transfer-encoding'), ['chunked']);
  assert.deepEqual(valuesOf(seen, 'content-length'), []);
  assert.equal(seen.bodyBytes, data.length);
  assert.equal(seen.bodySha256, createHash('sha256').update(data).digest('hex'));
});

test('Connection: host does not drop the Host header', async () => {
  const seen = await viaDebug(['Connection: host, close']);
  assert.deepEqual(valuesOf(seen, 'host'), [hostOf(stack.url)]);
});

test("the sidecar's own cookies sent by the client never reach the upstream", async () => {
  const seen = await viaDebug([
    'Cookie: theme=dark;spg_session=own-1; spg_session =own-2;  __Host-spg_session=own-3; lang=en',
    'Cookie: spg_csrf=own-4',
    'Connection: close',
  ]);
  const cookies = valuesOf(seen, 'cookie').join('; ');
  assert.ok(!/spg_/.test(cookies), `upstream Cookie: ${cookies}`);
  assert.ok(!/own-\d/.test(cookies), `upstream Cookie: ${cookies}`);
});

// ---------------------------------------------------------------------------------------------
// Response side: a raw upstream that sends whatever we want.

let upstream: RecordingUpstream;
let viaRecorder: Stack;
const responses = new Map<string, string>();

before(async () => {
  upstream = await startRecordingUpstream((req: RecordedRequest) => {
    const raw = responses.get(req.target.split('?')[0] ?? '');
    if (raw !== undefined) return raw;
    return 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n';
  });
  viaRecorder = await startStack({ policy: OPEN_POLICY, upstreamUrl: upstream.url });
});
after(async () => {
  await viaRecorder.close();
  await upstream.close();
});

responses.set(
  '/hop-response',
  [
    'HTTP/1.1 200 OK',
    'Connection: close, X-Internal',
    'X-Internal: internal-secret',
    'Keep-Alive: timeout=999, max=7',
    'Proxy-Authenticate: Basic realm="upstream"',
    'Proxy-Connection: close',
    'Trailer: X-Checksum',
    'Upgrade: h2c',
    'X-Visible: yes',
    'Content-Type: text/plain',
    'Content-Length: 2',
    '',
    'ok',
  ].join('\r\n'),
);

responses.set(
  '/cookie-response',
  [
    'HTTP/1.1 200 OK',
    'Set-Cookie: spg_session=evil-1; Path=/; HttpOnly',
    'Set-Cookie: __Host-spg_session=evil-2; Path=/; Secure',
    'Set-Cookie:  spg_csrf=evil-3',
    'Set-Cookie: theme=dark; Path=/',
    'Content-Length: 2',
    '',
    'ok',
  ].join('\r\n'),
);

test("the upstream's hop-by-hop and Connection-listed response headers never reach the client", async () => {
  const r = await rawExchange(viaRecorder.url, `GET /hop-response HTTP/1.1\r\nHost: ${hostOf(viaRecorder.url)}\r\nConnection: close\r\n\r\n`);
  const res = r.first;
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'ok');
  const got = res.headers.map(([n]) => n.toLowerCase());
  assert.ok(!got.includes('x-internal'), `client saw X-Internal: ${JSON.stringify(res.headers)}`);
  assert.ok(!res.headers.some(([, v]) => v.includes('internal-secret')));
  for (const h of ['proxy-authenticate', 'proxy-connection', 'trailer', 'upgrade']) {
    assert.ok(!got.includes(h), `client saw ${h}: ${JSON.stringify(res.headers)}`);
  }
  // Node may add its own Keep-Alive on a kept-alive connection; the upstream's must not pass.
  assert.ok(!headersNamed(res.headers, 'keep-alive').some((v) => v.includes('999')), `client saw the upstream Keep-Alive: ${JSON.stringify(res.headers)}`);
  for (const v of headersNamed(res.headers, 'connection')) assert.match(v, /^(keep-alive|close)$/i);
  assert.equal(res.header('x-visible'), 'yes', 'end-to-end headers still pass');
});

test('the client connection stays usable after the upstream asked to close its own', async () => {
  const host = hostOf(viaRecorder.url);
  const r = await rawExchange(
    viaRecorder.url,
    `GET /hop-response HTTP/1.1\r\nHost: ${host}\r\n\r\nGET /hop-response HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
  );
  assert.equal(r.responses.length, 2, 'the upstream closing its connection does not end the client one');
  assert.ok(r.responses.every((x) => x.status === 200 && x.body.toString() === 'ok'));
});

test("an upstream Set-Cookie for the sidecar's own cookies never reaches the client", async () => {
  const r = await rawExchange(viaRecorder.url, `GET /cookie-response HTTP/1.1\r\nHost: ${hostOf(viaRecorder.url)}\r\nConnection: close\r\n\r\n`);
  const cookies = headersNamed(r.first.headers, 'set-cookie');
  assert.ok(!cookies.some((c) => /spg_/.test(c) || /evil-\d/.test(c)), `client got ${JSON.stringify(cookies)}`);
  assert.ok(cookies.some((c) => c.startsWith('theme=dark')), `other cookies still pass: ${JSON.stringify(cookies)}`);
});

test('the recording upstream saw only the sidecar-written forwarding headers on these requests', async () => {
  const r = await rawExchange(
    viaRecorder.url,
    `GET /hop-response HTTP/1.1\r\nHost: ${hostOf(viaRecorder.url)}\r\nConnection: close, X-Forwarded-For, X-Request-Id\r\nX-Forwarded-For: 203.0.113.1\r\nX-Request-Id: spoofed\r\n\r\n`,
  );
  assert.equal(r.first.status, 200);
  await upstream.settle();
  const last = upstream.requests[upstream.requests.length - 1];
  assert.ok(last);
  assert.deepEqual(last.headerAll('x-forwarded-for'), ['127.0.0.1']);
  assert.equal(last.headerAll('x-request-id').length, 1);
  assert.notEqual(last.header('x-request-id'), 'spoofed');
  assert.deepEqual(last.headerAll('connection').map((v) => v.toLowerCase()).filter((v) => v !== 'keep-alive' && v !== 'close'), []);
});
