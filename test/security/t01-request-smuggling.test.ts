/**
 * THREATS T1 — Request smuggling / desync.
 *
 * Advisories: Node CVE-2022-32213 (flawed Transfer-Encoding parsing), CVE-2022-32214 (bare LF as a
 * header delimiter), CVE-2022-32215 (multi-line Transfer-Encoding), CVE-2022-35256 (headers not
 * terminated by CRLF), CVE-2023-30589 (bare CR as a delimiter), CVE-2024-27982 (space before
 * Content-Length); node-http-proxy #1720/#1721 (a chunked DELETE/OPTIONS is rewritten to
 * `Content-Length: 0` while its body is still piped, so the body becomes a second request; the same
 * code is in http-proxy-3).
 *
 * Every request is written byte for byte over a raw socket. The upstream is a recording `net`
 * server that frames requests itself, so we see exactly how many requests reached it and how each
 * was framed. Everything is public (OPEN_POLICY): only framing is under test.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { OPEN_POLICY, startStack, type Stack } from '../helpers/stack.ts';
import { addressOf, hostOf, rawExchange, startRecordingUpstream, type RecordingUpstream } from '../helpers/raw-http.ts';

let upstream: RecordingUpstream;
let stack: Stack;
let H: string;

before(async () => {
  upstream = await startRecordingUpstream();
  stack = await startStack({ policy: OPEN_POLICY, upstreamUrl: upstream.url });
  H = hostOf(stack.url);
});
after(async () => {
  await stack.close();
  await upstream.close();
});
beforeEach(() => upstream.reset());

/** One chunk of a chunked body. */
const chunk = (data: string): string => `${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n`;
const smuggled = (): string => `GET /smuggled HTTP/1.1\r\nHost: ${H}\r\n\r\n`;

/** Nothing the upstream received may be a request for /smuggled, and every byte it got must be valid HTTP. */
function assertNoSmuggling(label: string): void {
  for (const r of upstream.requests) assert.ok(!r.target.includes('/smuggled'), `${label}: the upstream saw a smuggled request ${r.method} ${r.target}`);
  for (const c of upstream.connections) {
    assert.equal(c.malformed, undefined, `${label}: upstream connection ${c.id} received bytes that are not one valid framing: ${c.malformed}`);
  }
}

/** Each framing header at most once, and never both. */
function assertSingleFraming(label: string, r: RecordingUpstream['requests'][number]): void {
  const te = r.headerAll('transfer-encoding');
  const cl = r.headerAll('content-length');
  assert.ok(te.length + cl.length <= 1, `${label}: upstream got TE=${JSON.stringify(te)} CL=${JSON.stringify(cl)}`);
}

interface AmbiguousCase {
  readonly name: string;
  /** The request, built so that two parsers that disagree about its framing see /smuggled next. */
  readonly bytes: () => string;
  /**
   * What Node 20 (llhttp 9, strict parser) was measured to do: `reject` = 4xx and close;
   * `single` = accepted, and the upstream must then get exactly one request with this body.
   */
  readonly expect: 'reject' | { readonly body: string };
}

const post = (headers: string, body: string): string => `POST /framing HTTP/1.1\r\nHost: ${H}\r\n${headers}\r\n${body}`;

const AMBIGUOUS: readonly AmbiguousCase[] = [
  {
    name: 'CL then TE (CL.TE desync)',
    bytes: () => {
      const body = `0\r\n\r\n${smuggled()}`;
      return post(`Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n`, body);
    },
    expect: 'reject',
  },
  {
    name: 'TE then CL (TE.CL desync)',
    bytes: () => post(`Transfer-Encoding: chunked\r\nContent-Length: 4\r\n`, `${chunk(smuggled())}0\r\n\r\n`),
    expect: 'reject',
  },
  {
    name: 'duplicate Content-Length, same value',
    bytes: () => post('Content-Length: 5\r\nContent-Length: 5\r\n', `hello${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'duplicate Content-Length, different values',
    bytes: () => post(`Content-Length: 5\r\nContent-Length: ${5 + smuggled().length}\r\n`, `hello${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'Content-Length list "5, 5"',
    bytes: () => post('Content-Length: 5, 5\r\n', `hello${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'Transfer-Encoding: chunked, identity',
    bytes: () => post(`Transfer-Encoding: chunked, identity\r\nContent-Length: 5\r\n`, `hello${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'Transfer-Encoding: chunked, identity (no CL)',
    bytes: () => post('Transfer-Encoding: chunked, identity\r\n', `${chunk('hello')}0\r\n\r\n${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'Transfer-Encoding: xchunked',
    bytes: () => post(`Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n`, `hello${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'Transfer-Encoding twice',
    bytes: () => post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', `${chunk('hello')}0\r\n\r\n`),
    expect: 'reject',
  },
  {
    name: 'Transfer-Encoding: chunked with an obs-fold continuation line',
    bytes: () => post(`Transfer-Encoding: chunked\r\n identity\r\nContent-Length: 5\r\n`, `hello${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'Transfer-Encoding value only on an obs-fold line',
    bytes: () => post(`Transfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n`, `hello${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'obs-fold in an ordinary header',
    bytes: () => post('X-Note: a\r\n b\r\nContent-Length: 5\r\n', 'hello'),
    expect: 'reject',
  },
  {
    name: 'bare LF line endings in the head',
    bytes: () => `POST /framing HTTP/1.1\nHost: ${H}\nTransfer-Encoding: chunked\nContent-Length: 5\n\nhello${smuggled()}`,
    expect: 'reject',
  },
  {
    name: 'one header ended by a bare LF',
    bytes: () => post(`Transfer-Encoding: chunked\nContent-Length: 5\r\n`, `hello${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'header ended by a bare CR (CVE-2023-30589)',
    bytes: () => post(`X-Note: a\rTransfer-Encoding: chunked\r\nContent-Length: 5\r\n`, `hello${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'header ended by CR CR LF (CVE-2022-35256)',
    bytes: () => post(`Transfer-Encoding: chunked\r\r\nContent-Length: 5\r\n`, `hello${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'space before the colon (Transfer-Encoding : chunked)',
    bytes: () => post(`Transfer-Encoding : chunked\r\nContent-Length: 5\r\n`, `hello${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'space before the first header line (CVE-2024-27982)',
    bytes: () => `POST /framing HTTP/1.1\r\n Content-Length: 5\r\nHost: ${H}\r\n\r\nhello${smuggled()}`,
    expect: 'reject',
  },
  {
    name: 'Transfer-Encoding: chunked with a trailing ", "',
    bytes: () => post(`Transfer-Encoding: chunked , \r\nContent-Length: 5\r\n`, `hello${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'Transfer-Encoding: chunked;q=1 (parameter)',
    bytes: () => post(`Transfer-Encoding: chunked;q=1\r\n`, `${chunk('hello')}0\r\n\r\n`),
    expect: 'reject',
  },
  {
    name: 'invalid chunk size',
    bytes: () => post('Transfer-Encoding: chunked\r\n', `zz\r\nhello\r\n0\r\n\r\n${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'chunk size that overflows 64 bits',
    bytes: () => post('Transfer-Encoding: chunked\r\n', `10000000000000005\r\nhello\r\n0\r\n\r\n${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'chunk size with a 0x prefix',
    bytes: () => post('Transfer-Encoding: chunked\r\n', `0x5\r\nhello\r\n0\r\n\r\n${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'chunk data longer than its size',
    bytes: () => post('Transfer-Encoding: chunked\r\n', `5\r\nhelloXX\r\n0\r\n\r\n${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'chunk extension with a bare LF inside a quoted string',
    bytes: () => post('Transfer-Encoding: chunked\r\n', `5;a="x\ny"\r\nhello\r\n0\r\n\r\n${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'last chunk ended by bare LFs',
    bytes: () => post('Transfer-Encoding: chunked\r\n', `5\r\nhello\r\n0\n\n${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'Content-Length in the trailers',
    bytes: () => post('Transfer-Encoding: chunked\r\n', `5\r\nhello\r\n0\r\nContent-Length: 50\r\n\r\n${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'negative Content-Length',
    bytes: () => post('Content-Length: -1\r\n', smuggled()),
    expect: 'reject',
  },
  {
    name: 'Content-Length with a plus sign',
    bytes: () => post('Content-Length: +5\r\n', `hello${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'NUL in Transfer-Encoding',
    bytes: () => post('Transfer-Encoding: chunked\0\r\nContent-Length: 5\r\n', `hello${smuggled()}`),
    expect: 'reject',
  },
  {
    name: 'HTTP/1.2',
    bytes: () => `GET /framing HTTP/1.2\r\nHost: ${H}\r\n\r\n`,
    expect: 'reject',
  },
  {
    name: 'HTTP/2 connection preface on the HTTP/1 port',
    bytes: () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    expect: 'reject',
  },
  {
    name: 'HTTP/1.1 without Host',
    bytes: () => `GET /framing HTTP/1.1\r\n\r\n`,
    expect: 'reject',
  },
  // Accepted by Node: the final coding is chunked, so there is exactly one framing.
  {
    name: 'Transfer-Encoding: identity, chunked',
    bytes: () => post('Transfer-Encoding: identity, chunked\r\n', `${chunk('hello')}0\r\n\r\n`),
    expect: { body: 'hello' },
  },
  {
    name: 'Transfer-Encoding: CHUNKED (case)',
    bytes: () => post('Transfer-Encoding: CHUNKED\r\n', `${chunk('hello')}0\r\n\r\n`),
    expect: { body: 'hello' },
  },
  {
    name: 'HTTP/1.0 with Transfer-Encoding: chunked',
    bytes: () => `POST /framing HTTP/1.0\r\nHost: ${H}\r\nTransfer-Encoding: chunked\r\n\r\n${chunk('hello')}0\r\n\r\n`,
    expect: { body: 'hello' },
  },
];

for (const c of AMBIGUOUS) {
  test(`ambiguous framing: ${c.name}`, async () => {
    const bytes = c.bytes();
    // A refusal closes the connection; an accepted request is answered on a kept-alive one.
    const r = await rawExchange(stack.url, bytes, c.expect === 'reject' ? {} : { responses: 1 });
    await upstream.settle();
    assertNoSmuggling(c.name);
    if (c.expect === 'reject') {
      assert.ok(r.first.status >= 400 && r.first.status < 500, `${c.name}: expected a 4xx, got ${r.first.startLine}`);
      assert.equal(r.closed, true, `${c.name}: the connection must be closed after the refusal`);
      assert.equal(r.responses.length, 1, `${c.name}: exactly one answer on the connection`);
      assert.equal(r.rest.length, 0, `${c.name}: nothing after the refusal: ${JSON.stringify(r.rest.toString('latin1'))}`);
      assert.deepEqual(upstream.targets(), [], `${c.name}: the upstream must see no request`);
    } else {
      assert.equal(r.first.status, 200, `${c.name}: ${r.first.startLine}`);
      assert.equal(r.responses.length, 1);
      assert.equal(upstream.requests.length, 1, `${c.name}: exactly one request upstream, got ${JSON.stringify(upstream.targets())}`);
      const got = upstream.requests[0]!;
      assertSingleFraming(c.name, got);
      assert.equal(got.target, '/framing');
      assert.equal(got.body.toString('latin1'), c.expect.body);
    }
  });
}

test('two Host headers: the upstream gets exactly one (or the request is refused)', async () => {
  // RFC 9112 §3.2 asks for a 400; Node keeps the first Host. Either way only one may go upstream.
  const r = await rawExchange(stack.url, `GET /hosts HTTP/1.1\r\nHost: ${H}\r\nHost: evil.example\r\nConnection: close\r\n\r\n`);
  await upstream.settle();
  if (r.first.status >= 400 && r.first.status < 500) {
    assert.deepEqual(upstream.targets(), []);
    return;
  }
  assert.equal(upstream.requests.length, 1);
  assert.deepEqual(upstream.requests[0]!.headerAll('host'), [H]);
});

test('a body that breaks off with a bad chunk never completes upstream, and the upstream connection is not reused', async () => {
  const { host, port } = addressOf(stack.url);
  const socket = net.connect({ host, port });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  const received: Buffer[] = [];
  socket.on('data', (b: Buffer) => received.push(b));
  const closed = once(socket, 'close');
  socket.write(`POST /partial HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked\r\n\r\n${chunk('first-part')}`);
  // Wait until the sidecar has forwarded the head and the first chunk, so the refusal happens mid-stream.
  for (let i = 0; i < 200 && !upstream.connections.some((c) => c.unparsed.includes('first-part')); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(upstream.connections.some((c) => c.unparsed.includes('first-part')), 'the first chunk should have been streamed upstream');
  socket.write(`zz\r\n${smuggled()}0\r\n\r\n`);
  await closed;
  const answer = Buffer.concat(received).toString('latin1');
  assert.match(answer, /^HTTP\/1\.1 4\d\d /, `expected a 4xx, got ${JSON.stringify(answer.slice(0, 80))}`);
  await upstream.settle();
  // The half-sent request must not have been completed by anything.
  assert.deepEqual(upstream.targets(), []);
  const partial = upstream.connections.find((c) => c.bytes.includes('first-part'));
  assert.ok(partial);
  assert.equal(partial.closed, true, 'the upstream connection holding a half-sent body must be closed, never reused');

  // The next request must reach the upstream as a request of its own, correctly framed.
  const next = await rawExchange(stack.url, `GET /after HTTP/1.1\r\nHost: ${H}\r\nConnection: close\r\n\r\n`);
  await upstream.settle();
  assert.equal(next.first.status, 200);
  assert.deepEqual(upstream.targets(), ['/after']);
  assertNoSmuggling('after a broken body');
});

for (const method of ['DELETE', 'OPTIONS', 'GET', 'HEAD', 'POST'] as const) {
  test(`a chunked ${method} whose body is a complete request reaches the upstream as one chunked request`, async () => {
    const inner = `GET /smuggled HTTP/1.1\r\nHost: ${H}\r\nX-Inner: 1\r\n\r\n`;
    const body = inner + 'tail-bytes';
    const bytes = `${method} /framing/${method.toLowerCase()} HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(inner)}${chunk('tail-bytes')}0\r\n\r\n`;
    const r = await rawExchange(stack.url, bytes, { responses: 1, head: [method === 'HEAD'] });
    assert.equal(r.first.status, 200, r.first.startLine);
    // The same upstream connection then carries a plain follow-up: it must still be in sync.
    const follow = await rawExchange(stack.url, `GET /follow-up HTTP/1.1\r\nHost: ${H}\r\nConnection: close\r\n\r\n`);
    assert.equal(follow.first.status, 200);
    await upstream.settle();
    assertNoSmuggling(method);
    assert.deepEqual(upstream.targets(), [`/framing/${method.toLowerCase()}`, '/follow-up'], 'exactly the two real requests, in order');
    const got = upstream.requests[0]!;
    assert.equal(got.method, method);
    assert.equal(got.framing, 'chunked');
    assert.deepEqual(got.headerAll('transfer-encoding'), ['chunked']);
    assert.deepEqual(got.headerAll('content-length'), [], 'no Content-Length next to Transfer-Encoding (node-http-proxy #1720)');
    assert.equal(got.body.toString('latin1'), body, 'body bytes intact');
    assert.equal(upstream.requests[1]!.framing, 'none');
  });
}

test('a DELETE with a Content-Length body that holds a request keeps that Content-Length', async () => {
  const body = smuggled();
  const r = await rawExchange(stack.url, `DELETE /framing/cl HTTP/1.1\r\nHost: ${H}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  await upstream.settle();
  assert.equal(r.first.status, 200);
  assertNoSmuggling('DELETE with CL');
  assert.deepEqual(upstream.targets(), ['/framing/cl']);
  const got = upstream.requests[0]!;
  assert.deepEqual(got.headerAll('content-length'), [String(body.length)]);
  assert.deepEqual(got.headerAll('transfer-encoding'), []);
  assert.equal(got.body.toString('latin1'), body);
});

test('pipelined requests on one connection get their responses in order', async () => {
  const payload =
    `GET /pipe/1 HTTP/1.1\r\nHost: ${H}\r\n\r\n` +
    `POST /pipe/2 HTTP/1.1\r\nHost: ${H}\r\nContent-Length: 5\r\n\r\nhello` +
    `GET /pipe/3 HTTP/1.1\r\nHost: ${H}\r\nConnection: close\r\n\r\n`;
  const r = await rawExchange(stack.url, payload);
  assert.equal(r.responses.length, 3, JSON.stringify(r.data.toString('latin1')));
  assert.deepEqual(
    r.responses.map((res) => (res.json() as { target: string }).target),
    ['/pipe/1', '/pipe/2', '/pipe/3'],
  );
  assert.ok(r.responses.every((res) => res.status === 200));
  await upstream.settle();
  assert.deepEqual(upstream.targets(), ['/pipe/1', '/pipe/2', '/pipe/3']);
  assert.equal(upstream.requests[1]!.body.toString(), 'hello');
  assertNoSmuggling('pipelined');
});

test('a refused request in a pipeline ends the connection: what follows it is never forwarded', async () => {
  const payload =
    `GET /pipe/ok HTTP/1.1\r\nHost: ${H}\r\n\r\n` +
    `POST /pipe/bad HTTP/1.1\r\nHost: ${H}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n` +
    smuggled();
  const r = await rawExchange(stack.url, payload);
  await upstream.settle();
  assert.equal(r.closed, true);
  // Node parses the whole packet before the first answer is back, so the refusal may come first
  // (the first request is then abandoned). Either way: a 400 last, and nothing after it.
  const statuses = r.responses.map((x) => x.status);
  assert.ok(
    JSON.stringify(statuses) === '[200,400]' || JSON.stringify(statuses) === '[400]',
    `answers ${JSON.stringify(statuses)}: ${JSON.stringify(r.data.toString('latin1'))}`,
  );
  assert.equal(r.rest.length, 0);
  assert.ok(upstream.targets().every((t) => t === '/pipe/ok'), JSON.stringify(upstream.targets()));
  assertNoSmuggling('pipeline with a refused request');
});

test('a malformed request that arrives while a response is streaming does not splice a 400 into that response', async () => {
  // A load balancer in front reuses connections: bytes the sidecar writes into the middle of a
  // response body are read by it as part of someone's response (Node's own clientError default
  // only answers when no response has started on the socket, for this reason).
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const slow = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '20' });
    res.write('0123456789');
    void released.then(() => res.end('abcdefghij'));
  });
  slow.listen(0, '127.0.0.1');
  await once(slow, 'listening');
  const s = await startStack({ policy: OPEN_POLICY, upstreamUrl: `http://127.0.0.1:${(slow.address() as net.AddressInfo).port}` });
  try {
    const { host, port } = addressOf(s.url);
    const socket = net.connect({ host, port });
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    let data = Buffer.alloc(0);
    socket.on('data', (b: Buffer) => (data = Buffer.concat([data, b])));
    const closed = once(socket, 'close');
    socket.write(`GET /slow HTTP/1.1\r\nHost: ${hostOf(s.url)}\r\n\r\n`);
    for (let i = 0; i < 300 && !data.includes('0123456789'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(data.includes('0123456789'), 'the first half of the body arrived');
    socket.write(`POST /bad HTTP/1.1\r\nHost: ${hostOf(s.url)}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
    // Give the sidecar the chance to react to the bad request before the body completes.
    for (let i = 0; i < 30 && !socket.destroyed && data.length < 200; i++) await new Promise((r) => setTimeout(r, 10));
    release();
    await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))]);
    socket.destroy();
    const text = data.toString('latin1');
    const head = text.indexOf('\r\n\r\n') + 4;
    const body = text.slice(head, head + 20);
    // The 20 body bytes are the upstream's, or the connection ends early; never another message inside them.
    assert.ok('0123456789abcdefghij'.startsWith(body), `the response body was corrupted: ${JSON.stringify(text)}`);
  } finally {
    await s.close();
    slow.closeAllConnections();
    slow.close();
  }
});

test('a real node:http upstream receives a chunked DELETE body intact (demo /debug/request)', async () => {
  const demo = await startStack({ policy: OPEN_POLICY });
  try {
    const host = hostOf(demo.url);
    const inner = `GET /smuggled HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    const r = await rawExchange(
      demo.url,
      `DELETE /debug/request HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk(inner)}0\r\n\r\n`,
    );
    assert.equal(r.first.status, 200, r.first.startLine);
    const seen = r.first.json() as { method: string; url: string; headers: Record<string, string>; bodyBytes: number; bodySha256: string };
    assert.equal(seen.method, 'DELETE');
    assert.equal(seen.url, '/debug/request');
    assert.equal(seen.headers['transfer-encoding'], 'chunked');
    assert.equal(seen.headers['content-length'], undefined);
    assert.equal(seen.bodyBytes, Buffer.byteLength(inner));
    assert.equal(seen.bodySha256, createHash('sha256').update(inner).digest('hex'));
    assert.equal(r.responses.length, 1, 'one request, one response');
  } finally {
    await demo.close();
  }
});
