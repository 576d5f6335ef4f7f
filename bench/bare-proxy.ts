/**
 * The baseline the sidecar is compared with: http-proxy-3 in a plain http.createServer, nothing
 * else but the one process-level remedy the sidecar applies too (keepTickShape: without it a Node
 * process's `nextTick` can turn megamorphic after full collections in an idle spell, which made two
 * bare-proxy processes of this same file differ by a fifth; docs/PERFORMANCE.md).
 * Usage: node --import tsx bench/bare-proxy.ts <upstream-url>
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProxyServer } from 'http-proxy-3';
import { keepTickShape } from '../src/server/tick-shape.ts';
import { announceReady, exitWithParent, failStartup } from './announce-ready.ts';

exitWithParent();
keepTickShape();

const target = process.argv[2];
if (!target) failStartup(new Error('usage: bare-proxy.ts <upstream-url>'));

const proxy = new ProxyServer({ target, agent: new http.Agent({ keepAlive: true, maxSockets: 256 }) });
proxy.on('error', (_error, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) {
    res.writeHead(502, { 'Content-Type': 'text/plain' });
    res.end('Bad Gateway');
  } else {
    res.destroy();
  }
});

const server = http.createServer((req, res) => {
  proxy.web(req, res);
});
server.on('error', failStartup);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  announceReady(`http://127.0.0.1:${port}`);
});
