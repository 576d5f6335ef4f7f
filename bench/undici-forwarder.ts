/**
 * A candidate forwarding core, measured and not (yet) the sidecar's: undici's `Pool.dispatch` with
 * a raw handler (the response head and each chunk handed to callbacks; no ClientRequest, no
 * IncomingMessage stream per exchange), with the same header hygiene as the sidecar's core
 * (bare-forwarder.ts). What it lacks against src/proxy/forward.ts, and would need before it could
 * replace it: the stale-connection retry, the slow-reader watch, abortSlowBody, the websocket
 * hand-shake, the 502/504 mapping of undici's errors (docs/PERFORMANCE.md: "The forwarding core,
 * measured against undici"). Response bodies get the sidecar's body-memory count, so an export
 * through it compares with the sidecar's core on equal terms (bench/forwarder-export.ts).
 * BENCH_UNDICI_LIFTOFF=1 keeps undici's WebAssembly HTTP parser on V8's baseline compiler (its
 * optimising compile takes some 35 MiB once: docs/PERFORMANCE.md, "undici's parser memory").
 * Usage: node --import tsx bench/undici-forwarder.ts <upstream-url>
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { Pool, type Dispatcher } from 'undici';
import { addFramingProtection, BUILTIN_STRIPPED_HEADERS, compileHeaderFilter, sanitiseRequestHeaders, sanitiseResponseHeaders } from '../src/proxy/headers.ts';
import { carriesBody, headerList, writeResponseHead } from '../src/proxy/message-head.ts';
import { COUNTED_BODY_BYTES, processBodyMemory } from '../src/proxy/body-memory.ts';
import { keepTickShape } from '../src/server/tick-shape.ts';
import { announceReady, exitWithParent, failStartup } from './announce-ready.ts';

exitWithParent();
// As the sidecar and the bare proxy do (src/server/tick-shape.ts).
keepTickShape();
// Before the first connection: undici compiles its parser then.
if (process.env['BENCH_UNDICI_LIFTOFF'] === '1') setFlagsFromString('--liftoff-only');
const bodyMemory = processBodyMemory();

const target = process.argv[2];
if (!target) failStartup(new Error('usage: undici-forwarder.ts <upstream-url>'));
const origin = new URL(target as string).origin;

// The same limits as bare-forwarder.ts: 256 connections, 30 s for the head and between body bytes, 4 s idle.
const pool = new Pool(origin, { connections: 256, pipelining: 1, connectTimeout: 5_000, headersTimeout: 30_000, bodyTimeout: 30_000, keepAliveTimeout: 4_000 });
const stripped = compileHeaderFilter([...BUILTIN_STRIPPED_HEADERS, 'x-request-id']);
const ownCookie = (name: string): boolean => name.startsWith('spg_');
let counter = 0;

/** undici hands the head over as raw name/value buffers; Node's header object is what the hygiene works on. */
function headerObject(raw: readonly Buffer[]): http.IncomingHttpHeaders {
  const headers: http.IncomingHttpHeaders = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as Buffer).toString('latin1').toLowerCase();
    const value = (raw[i + 1] as Buffer).toString('latin1');
    if (name === 'set-cookie') (headers['set-cookie'] ??= []).push(value);
    else {
      const previous = headers[name];
      headers[name] = previous === undefined ? value : `${String(previous)}, ${value}`;
    }
  }
  return headers;
}

const server = http.createServer((req, res) => {
  const facts = { forwardedFor: req.socket.remoteAddress ?? '', proto: 'http' as const, host: req.headers.host ?? '', requestId: `r-${++counter}`, requestIdHeader: 'x-request-id' };
  sanitiseRequestHeaders(req.headers, facts, { stripped, ownCookie });
  const fail = (): void => {
    if (res.headersSent) res.destroy();
    else res.writeHead(502, { 'Content-Type': 'text/plain' }).end('Bad Gateway');
  };
  // As BodyMemory.watch decides for the sidecar's core: bodies of 1 MiB or more, or of unknown length.
  let counted = false;
  const handler: Dispatcher.DispatchHandler = {
    // undici 7 calls every callback of the (legacy) handler API it wraps, this one included.
    onConnect() {},
    onHeaders(status, raw, resume, statusText) {
      const headers = headerObject(raw as unknown as Buffer[]);
      const length = headers['content-length'];
      counted = length === undefined || Number(length) >= COUNTED_BODY_BYTES;
      sanitiseResponseHeaders(headers, [], ownCookie, (res as http.ServerResponse & { shouldKeepAlive: boolean }).shouldKeepAlive, 'unset');
      addFramingProtection(headers, 'same_origin');
      writeResponseHead(res, status, statusText, headers);
      res.on('drain', resume);
      return true;
    },
    onData(chunk) {
      if (counted) bodyMemory.count(chunk);
      return res.write(chunk);
    },
    onComplete() {
      res.end();
    },
    onError: fail,
  };
  pool.dispatch(
    { origin, path: req.url ?? '/', method: (req.method ?? 'GET') as Dispatcher.HttpMethod, headers: headerList(req.headers), body: carriesBody(req.headers) ? req : null },
    handler,
  );
});
server.on('error', failStartup);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  announceReady(`http://127.0.0.1:${port}`);
});
