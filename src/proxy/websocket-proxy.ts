import type http from 'node:http';
import type { ProxyServer } from 'http-proxy-3';
import { lazyModule } from '../core/lazy-module.ts';
import { sanitiseResponseHeaders } from './headers.ts';

const proxyModule = lazyModule<typeof import('http-proxy-3')>('http-proxy-3');

/**
 * The http-proxy-3 server that relays authorised websocket hand-shakes (loaded on the first
 * upgrade: not on the per-request path), on the forwarder's own keep-alive agent.
 */
export function createWebsocketProxy(url: URL, agent: http.Agent, withheldSetCookie: (name: string) => boolean): ProxyServer {
  const { ProxyServer } = proxyModule();
  const proxy = new ProxyServer({
    target: new URL(url.origin),
    agent,
    // The request-target is already canonical: toProxy makes http-proxy-3 take req.url verbatim
    // instead of re-parsing it with WHATWG URL rules (which turn '\' into '/' and fold dots).
    toProxy: true,
    prependPath: false,
    xfwd: false,
    ws: true,
  });
  proxy.on('proxyReqWs', (proxyReq) => {
    // http-proxy-3 copies the upstream's hand-shake answer to the client without emitting
    // proxyRes; these listeners run before its own (registration order), so the headers are
    // cleaned in place first: no upstream may set the sidecar's cookies through a 101 or a refusal.
    proxyReq.on('upgrade', (proxyRes: http.IncomingMessage) => {
      sanitiseResponseHeaders(proxyRes.headers, [], withheldSetCookie, true);
      proxyRes.headers.connection = 'Upgrade';
      proxyRes.headers.upgrade = 'websocket';
    });
    proxyReq.on('response', (proxyRes: http.IncomingMessage) => {
      sanitiseResponseHeaders(proxyRes.headers, [], withheldSetCookie, false);
    });
  });
  // Errors are handled through the per-call callbacks; this keeps a stray one from throwing.
  proxy.on('error', () => undefined);
  return proxy;
}
