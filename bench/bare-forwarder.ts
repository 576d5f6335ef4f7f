/**
 * The sidecar's forwarding core alone (src/proxy/forward.ts `Upstream`, with the sidecar's header
 * hygiene) in a plain http.createServer: what forwarding costs before any policy, session or log.
 * Usage: node --import tsx bench/bare-forwarder.ts <upstream-url>
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Upstream } from '../src/proxy/forward.ts';
import { BUILTIN_STRIPPED_HEADERS, compileHeaderFilter } from '../src/proxy/headers.ts';
import { keepTickShape } from '../src/server/tick-shape.ts';
import { announceReady, exitWithParent, failStartup } from './announce-ready.ts';

exitWithParent();
// As the sidecar and the bare proxy do (src/server/tick-shape.ts).
keepTickShape();

const target = process.argv[2];
if (!target) failStartup(new Error('usage: bare-forwarder.ts <upstream-url>'));

const upstream = new Upstream({
  url: new URL(target),
  connectTimeoutMs: 5_000,
  responseTimeoutMs: 30_000,
  maxSockets: 256,
  stripped: compileHeaderFilter([...BUILTIN_STRIPPED_HEADERS, 'x-request-id']),
  ownCookie: (name) => name.startsWith('spg_'),
  requestIdHeader: 'x-request-id',
  sendTimeoutMs: 30_000,
});
let counter = 0;

const server = http.createServer((req, res) => {
  const facts = { forwardedFor: req.socket.remoteAddress ?? '', proto: 'http' as const, host: req.headers.host ?? '', requestId: `r-${++counter}`, requestIdHeader: 'x-request-id' };
  upstream.web(req, res, req.url ?? '/', facts).catch(() => {
    if (!res.headersSent) {
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end('Bad Gateway');
    } else {
      res.destroy();
    }
  });
});
server.on('error', failStartup);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  announceReady(`http://127.0.0.1:${port}`);
});
