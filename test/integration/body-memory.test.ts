/**
 * Large bodies through the real forwarding core (src/proxy/forward.ts) give their chunk memory
 * back as they stream (src/proxy/body-memory.ts): a young-generation collection per 4 MiB of a
 * body of 1 MiB or more, in either direction; small bodies are never counted. The collection is
 * injected here and counted; that V8's own is a real young-generation collection is in
 * test/unit/proxy/body-memory.test.ts.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Upstream, UpstreamError } from '../../src/proxy/forward.ts';
import { BODY_MEMORY_STEP, BodyMemory } from '../../src/proxy/body-memory.ts';
import { BUILTIN_STRIPPED_HEADERS, compileHeaderFilter } from '../../src/proxy/headers.ts';

const MiB = 1024 * 1024;
const servers: http.Server[] = [];
after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

async function listen(server: http.Server): Promise<string> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The upstream: GET /bytes?n=N&length=declared|chunked answers N bytes; POST answers how many it read. */
async function upstreamApp(): Promise<string> {
  return listen(
    http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://upstream.test');
      if (req.method === 'POST') {
        let read = 0;
        req.on('data', (chunk: Buffer) => (read += chunk.length));
        req.on('end', () => res.end(String(read)));
        return;
      }
      const n = Number(url.searchParams.get('n'));
      if (url.searchParams.get('length') === 'declared') res.setHeader('content-length', n);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let left = n;
      const more = (): void => {
        while (left > 0) {
          const piece = chunk.subarray(0, Math.min(chunk.length, left));
          left -= piece.length;
          if (!res.write(piece)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    }),
  );
}

async function sidecarFront(upstreamUrl: string): Promise<{ url: string; collections: () => number }> {
  let collections = 0;
  const upstream = new Upstream({
    url: new URL(upstreamUrl),
    connectTimeoutMs: 2_000,
    responseTimeoutMs: 10_000,
    maxSockets: 4,
    stripped: compileHeaderFilter(BUILTIN_STRIPPED_HEADERS),
    ownCookie: (name) => name.startsWith('spg_'),
    requestIdHeader: 'x-request-id',
    bodyMemory: new BodyMemory(() => collections++),
  });
  const url = await listen(
    http.createServer((req, res) => {
      const facts = { forwardedFor: '127.0.0.1', proto: 'http' as const, host: 'app.test', requestId: 'req-1', requestIdHeader: 'x-request-id' };
      upstream.web(req, res, req.url ?? '/', facts).catch((error: unknown) => {
        assert.ok(error instanceof UpstreamError);
        if (!res.headersSent) res.writeHead(502).end();
      });
    }),
  );
  after(() => upstream.close());
  return { url, collections: () => collections };
}

async function download(url: string): Promise<number> {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  return (await response.arrayBuffer()).byteLength;
}

const upstreamUrl = await upstreamApp();

test('a 9 MiB download with Content-Length: two collections, every byte delivered', async () => {
  const front = await sidecarFront(upstreamUrl);
  assert.equal(await download(`${front.url}/bytes?n=${9 * MiB}&length=declared`), 9 * MiB);
  assert.equal(front.collections(), Math.floor((9 * MiB) / BODY_MEMORY_STEP));
  assert.equal(front.collections(), 2);
});

test('a chunked download (length unknown) is counted too', async () => {
  const front = await sidecarFront(upstreamUrl);
  assert.equal(await download(`${front.url}/bytes?n=${5 * MiB}&length=chunked`), 5 * MiB);
  assert.equal(front.collections(), 1);
});

test('answers under 1 MiB are not counted, however many', async () => {
  const front = await sidecarFront(upstreamUrl);
  for (let i = 0; i < 10; i++) assert.equal(await download(`${front.url}/bytes?n=${MiB - 1}&length=declared`), MiB - 1);
  assert.equal(front.collections(), 0, '10 MiB in all, in bodies each below the threshold');
});

test('a large upload is counted on its way up', async () => {
  const front = await sidecarFront(upstreamUrl);
  const body = Buffer.alloc(9 * MiB, 0x62);
  const response = await fetch(`${front.url}/upload`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(await response.text(), String(9 * MiB));
  assert.equal(front.collections(), 2);
});
