import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { OPEN_POLICY, signIn, startStack, type Stack } from '../helpers/stack.ts';
import { hostOf } from '../helpers/raw-http.ts';
import { metricValue, openSlowClient, until, type SlowClient } from '../helpers/slow-client.ts';

/**
 * THREATS T17 — resource exhaustion by slow clients (slowloris, slow POST: Apache CVE-2007-6750
 * class; an upstream keep-alive pool held by trickled bodies; slow readers). Every limit is set tiny
 * here and the tests assert on outcomes (status, body, closed connection, counters), never on how
 * long something took; every wait is bounded.
 */

const PUBLIC_DEBUG_POLICY = `version: 1
default:
  access: authenticated
intercept:
  login: { paths: ["/login"] }
  logout: { paths: ["/logout"] }
rules:
  - name: public-debug
    paths: ["/debug/**"]
    access: public
`;

/** A POST head announcing `length` body bytes; the body follows as the test trickles it. */
function postHead(url: string, path: string, length: number | 'chunked', extra: readonly string[] = []): string {
  const framing = length === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`;
  return [`POST ${path} HTTP/1.1`, `Host: ${hostOf(url)}`, 'Content-Type: application/json', framing, ...extra, '', ''].join('\r\n');
}

function jsonOf(body: Buffer): Record<string, unknown> {
  return JSON.parse(body.toString('utf8')) as Record<string, unknown>;
}

describe('slow heads and bodies are answered 408 and closed', () => {
  let stack: Stack;
  const open: SlowClient[] = [];
  before(async () => {
    stack = await startStack({
      policy: PUBLIC_DEBUG_POLICY,
      config: { limits: { headers_timeout: '300ms', body_timeout: '300ms', body_min_rate: 1000 } },
    });
  });
  after(async () => {
    for (const c of open) c.destroy();
    await stack.close();
  });
  const client = async (first?: string): Promise<SlowClient> => {
    const c = await openSlowClient(stack.url, first);
    open.push(c);
    return c;
  };

  test('a request head that never ends gets 408 request_timeout and the connection closes', async () => {
    const c = await client(`GET /debug/request HTTP/1.1\r\nHost: ${hostOf(stack.url)}\r\nX-Slow: `);
    const { response, closed } = await c.response();
    assert.equal(closed, true, 'the sidecar closed the connection');
    assert.equal(response?.status, 408);
    assert.equal(jsonOf(response.body)['error'], 'request_timeout');
    assert.ok((await metricValue(stack.adminUrl, 'spg_client_limits_total', 'limit="headers_timeout"')) >= 1);
  });

  test('a trickled body on a public proxied route gets 408 (JSON) and is abandoned upstream', async () => {
    const before = await metricValue(stack.adminUrl, 'spg_client_limits_total', 'limit="body_timeout"');
    const c = await client(postHead(stack.url, '/debug/request/slow', 10_000) + '{');
    const trickle = setInterval(() => c.write(' '), 50);
    try {
      const { response, closed } = await c.response();
      assert.equal(closed, true, 'the sidecar closed the connection');
      assert.equal(response?.status, 408);
      assert.equal(response.header('connection'), 'close');
      const body = jsonOf(response.body);
      assert.equal(body['error'], 'request_timeout');
      assert.match(String(body['message']), /too slowly/);
    } finally {
      clearInterval(trickle);
    }
    assert.equal(await metricValue(stack.adminUrl, 'spg_client_limits_total', 'limit="body_timeout"'), before + 1);
    assert.ok(stack.logs.some((l) => l['limit'] === 'body_timeout' && l['msg'] === 'client limit reached: refused'), 'the refusal is logged');
    assert.equal(stack.guard.admission.inUse().total, 0, 'the upstream socket was given back');
  });

  test('a browser gets the 408 as a page', async () => {
    const c = await client(postHead(stack.url, '/debug/request/slow-page', 500, ['Accept: text/html']) + 'x');
    const { response, closed } = await c.response();
    assert.equal(closed, true);
    assert.equal(response?.status, 408);
    assert.match(response.header('content-type') ?? '', /^text\/html/);
    assert.match(response.body.toString('utf8'), /arrived too slowly/);
  });

  test('a slow body to the sidecar\'s own login API gets 408 and the connection closes', async () => {
    const c = await client(postHead(stack.url, '/_guard/api/login', 200) + '{"email":');
    const { response, closed } = await c.response();
    assert.equal(closed, true, 'the sidecar closed the connection');
    assert.equal(response?.status, 408);
    assert.equal(jsonOf(response.body)['error'], 'request_timeout');
  });

  test('a chunk announcing ffffffffff bytes to the 16 KiB login API is answered 413 once 16 KiB came, and closed', async () => {
    const c = await client(postHead(stack.url, '/_guard/api/login', 'chunked') + 'ffffffffff\r\n' + '{"email":"' + 'a'.repeat(17 * 1024));
    const { response, closed } = await c.response();
    assert.equal(closed, true, 'the connection closes instead of reading the announced terabyte');
    assert.equal(response?.status, 413);
    assert.equal(jsonOf(response.body)['error'], 'payload_too_large');
  });

  test('a chunk announcing ffffffffff bytes that then stalls is answered 408, never left hanging', async () => {
    const c = await client(postHead(stack.url, '/_guard/api/login', 'chunked') + 'ffffffffff\r\n{"em');
    const { response, closed } = await c.response();
    assert.equal(closed, true);
    assert.equal(response?.status, 408);
  });

  test('a refusal given before the body was read closes the connection (no endless discarding)', async () => {
    // An anonymous POST to a protected route is refused at once; the body it announced is not read.
    const c = await client(postHead(stack.url, '/api/echo', 1_000_000) + 'x');
    const trickle = setInterval(() => c.write('x'), 50);
    try {
      const { response, closed } = await c.response();
      assert.equal(closed, true);
      assert.equal(response?.status, 401);
      assert.equal(response.header('connection'), 'close');
    } finally {
      clearInterval(trickle);
    }
  });
});

describe('per-address caps', () => {
  let stack: Stack;
  const open: SlowClient[] = [];
  before(async () => {
    stack = await startStack({
      policy: PUBLIC_DEBUG_POLICY,
      config: {
        limits: { headers_timeout: '20s', body_timeout: '20s', connections_per_address: 3, upstream_requests_per_address: 2 },
      },
    });
  });
  after(async () => {
    for (const c of open) c.destroy();
    await stack.close();
  });

  test('connections over the per-address cap are answered 429 (JSON or page), counted, and closed', async () => {
    const held = await Promise.all([0, 1, 2].map(() => openSlowClient(stack.url)));
    open.push(...held);
    await until('the three connections are accepted', () => new Promise<boolean>((resolve) => stack.guard.server.getConnections((_e, n) => resolve(n >= 3))));
    const get = `GET /debug/request HTTP/1.1\r\nHost: ${hostOf(stack.url)}\r\n`;
    const json = await openSlowClient(stack.url, `${get}\r\n`);
    open.push(json);
    const refused = await json.response();
    assert.equal(refused.response?.status, 429);
    assert.equal(jsonOf(refused.response.body)['error'], 'too_many_connections');
    assert.equal(refused.closed, true);
    const page = await openSlowClient(stack.url, `${get}Accept: text/html\r\n\r\n`);
    open.push(page);
    const pageAnswer = await page.response();
    assert.equal(pageAnswer.response?.status, 429);
    assert.match(pageAnswer.response.body.toString('utf8'), /Too many connections/);
    assert.ok((await metricValue(stack.adminUrl, 'spg_client_limits_total', 'limit="connections_per_address"')) >= 2);
    assert.ok(stack.logs.some((l) => l['limit'] === 'connections_per_address'));

    // One held connection goes away: a new one is served again.
    held[0]?.destroy();
    await until('a freed connection lets a new one in', async () => {
      const again = await openSlowClient(stack.url, `${get}Connection: close\r\n\r\n`);
      open.push(again);
      const answer = await again.response();
      return answer.response?.status === 200;
    });
    for (const c of held) c.destroy();
  });

  test('proxied requests over the per-address cap are answered 429 while the others are held', async () => {
    const slow = await Promise.all([0, 1].map(() => openSlowClient(stack.url, postHead(stack.url, '/debug/request/hold', 1000) + '{')));
    open.push(...slow);
    await until('two upstream requests are held', () => stack.guard.admission.inUse().total === 2);
    const third = await openSlowClient(stack.url, `GET /debug/request HTTP/1.1\r\nHost: ${hostOf(stack.url)}\r\nConnection: close\r\n\r\n`);
    open.push(third);
    const { response } = await third.response();
    assert.equal(response?.status, 429);
    assert.equal(jsonOf(response.body)['error'], 'too_many_requests');
    assert.equal(response.header('retry-after'), '1');
    assert.ok((await metricValue(stack.adminUrl, 'spg_client_limits_total', 'limit="upstream_requests_per_address"')) >= 1);
    for (const c of slow) c.destroy();
    await until('the held requests are given back', () => stack.guard.admission.inUse().total === 0);
  });
});

describe('anonymous traffic cannot starve signed-in traffic', () => {
  let stack: Stack;
  const open: SlowClient[] = [];
  before(async () => {
    stack = await startStack({
      policy: PUBLIC_DEBUG_POLICY,
      config: {
        upstream: { url: 'http://unused.invalid', max_sockets: 4, anonymous_share: 0.5, queue_timeout: '500ms' },
        limits: { body_timeout: '20s', upstream_requests_per_address: 100 },
      },
    });
  });
  after(async () => {
    for (const c of open) c.destroy();
    await stack.close();
  });

  test('many anonymous slow-body connections hold what they can; a signed-in request still completes', async () => {
    const cookie = await signIn(stack.url);
    const slow = await Promise.all(
      Array.from({ length: 8 }, (_, i) => openSlowClient(stack.url, postHead(stack.url, `/debug/request/hog-${i}`, 1000) + '{')),
    );
    open.push(...slow);
    await until('anonymous requests hold their share of the pool', () => stack.guard.admission.inUse().anonymous === 2);

    const me = await fetch(`${stack.url}/api/me`, { headers: { cookie }, signal: AbortSignal.timeout(5_000) });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { email?: string }).email, 'merchant@example.com');

    // The anonymous requests that found no socket waited their turn and were told the service is busy.
    const waited = slow.slice(2);
    const answers = await Promise.all(waited.map((c) => c.response()));
    const statuses = answers.map((a) => a.response?.status);
    assert.ok(statuses.every((s) => s === 503), `waiting anonymous requests get 503, got ${JSON.stringify(statuses)}`);
    assert.equal(jsonOf(answers[0]?.response?.body ?? Buffer.from('{}'))['error'], 'upstream_busy');
    assert.ok((await metricValue(stack.adminUrl, 'spg_client_limits_total', 'limit="upstream_queue"')) >= 1);
    assert.equal(stack.guard.admission.inUse().anonymous, 2, 'the two admitted hogs still hold only their share');
  });
});

/** An upstream with one 64 MiB download at /big, which records whether it was sent completely. */
async function startBigUpstream(): Promise<{ url: string; outcomes: Array<'finished' | 'cut'>; waitingForDrain(): boolean; close(): Promise<void> }> {
  const outcomes: Array<'finished' | 'cut'> = [];
  let waiting = false;
  const block = Buffer.alloc(64 * 1024, 'x');
  const blocks = 1024;
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/csv', 'Content-Length': String(block.length * blocks) });
    let sent = 0;
    const pump = (): void => {
      while (sent < blocks) {
        sent++;
        if (!res.write(block)) {
          waiting = true;
          res.once('drain', () => {
            waiting = false;
            pump();
          });
          return;
        }
      }
      res.end();
    };
    res.on('finish', () => outcomes.push('finished'));
    res.on('close', () => {
      if (!res.writableFinished) outcomes.push('cut');
    });
    pump();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    outcomes,
    waitingForDrain: () => waiting,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const BIG_SIZE = 64 * 1024 * 1024;

describe('slow readers', () => {
  test('a client that stops reading for longer than the upstream idle timeout, then reads on, gets the whole export', async () => {
    const upstream = await startBigUpstream();
    const stack = await startStack({
      upstreamUrl: upstream.url,
      policy: OPEN_POLICY,
      config: { upstream: { url: upstream.url, response_timeout: '1s' }, limits: { send_timeout: '30s' } },
    });
    const c = await openSlowClient(stack.url);
    try {
      c.socket.pause();
      c.write(`GET /big HTTP/1.1\r\nHost: ${hostOf(stack.url)}\r\nConnection: close\r\n\r\n`);
      // Not reading for well over response_timeout: every buffer on the way fills up and the
      // upstream waits on the client (not the other way round).
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      assert.equal(upstream.waitingForDrain(), true, 'the upstream is held up by the client (the case under test)');
      assert.deepEqual(upstream.outcomes, [], 'nothing cut the download while the client was not reading');
      c.socket.resume();
      assert.equal(await c.closed(20_000), true, 'the download ended');
      const received = c.received();
      const headEnd = received.indexOf('\r\n\r\n');
      assert.match(received.subarray(0, headEnd).toString('latin1'), /^HTTP\/1\.1 200/);
      assert.equal(received.length - headEnd - 4, BIG_SIZE, 'every byte of the export arrived');
      assert.deepEqual(upstream.outcomes, ['finished']);
    } finally {
      c.destroy();
      await stack.close();
      await upstream.close();
    }
  });

  test('a client that stopped reading is cut after send_timeout, and the upstream request is torn down', async () => {
    const upstream = await startBigUpstream();
    const stack = await startStack({
      upstreamUrl: upstream.url,
      policy: OPEN_POLICY,
      config: { upstream: { url: upstream.url, response_timeout: '30s' }, limits: { send_timeout: '300ms' } },
    });
    const c = await openSlowClient(stack.url);
    try {
      c.socket.pause();
      c.write(`GET /big HTTP/1.1\r\nHost: ${hostOf(stack.url)}\r\n\r\n`);
      await until('the upstream response is torn down', () => upstream.outcomes.length > 0, 10_000);
      assert.deepEqual(upstream.outcomes, ['cut']);
      assert.equal(await metricValue(stack.adminUrl, 'spg_client_limits_total', 'limit="send_timeout"'), 1);
      assert.ok(
        stack.logs.some((l) => l['limit'] === 'send_timeout' && typeof l['requestId'] === 'string'),
        'the cut is logged with the request id',
      );
      assert.equal(await metricValue(stack.adminUrl, 'spg_upstream_errors_total', 'failure="timeout"'), 0, 'a slow client is not an upstream failure');
      c.socket.resume();
      assert.equal(await c.closed(10_000), true, 'the client connection is closed');
      assert.ok(c.received().length < BIG_SIZE, 'the download was cut');
    } finally {
      c.destroy();
      await stack.close();
      await upstream.close();
    }
  });
});
