/**
 * The tiny upstream of the pass-through cases: plain node:http, keep-alive, a fixed 1 KiB body for
 * GET /static/** (404 for anything else). Run by server-processes.ts as its own process.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { announceReady, exitWithParent, failStartup } from './announce-ready.ts';
import { STATIC_BODY_BYTES, staticBody } from './upstream-body.ts';

exitWithParent();

const body = staticBody();
const notFound = Buffer.from('Not Found');

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  if ((req.method === 'GET' || req.method === 'HEAD') && req.url?.startsWith('/static/')) {
    res.writeHead(200, {
      'Content-Type': 'text/css; charset=utf-8',
      'Content-Length': STATIC_BODY_BYTES,
      'Cache-Control': 'public, max-age=3600',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': notFound.length });
  res.end(notFound);
});
server.on('error', failStartup);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  announceReady(`http://127.0.0.1:${port}`);
});
