import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { ProxyServer } from 'http-proxy-3';
import {
  addFramingProtection,
  asSetCookieList,
  type FramingPolicy,
  sanitiseRequestHeaders,
  sanitiseResponseHeaders,
  type ForwardingFacts,
  type HeaderFilter,
} from './headers.ts';
import { BodyMemory, processBodyMemory } from './body-memory.ts';
import { SendWatch } from './send-watch.ts';
import { createUpstreamAgent, type UpstreamAgent } from './upstream-agent.ts';
import { createWebsocketProxy } from './websocket-proxy.ts';
import { isStaleConnection, MAX_ATTEMPTS, REPLAYABLE_METHODS } from './retry.ts';
import { carriesBody, headerList, serverNameFor, writeResponseHead } from './message-head.ts';
import { relayBody } from './relay-body.ts';

/**
 * Streams requests to the upstream with node:http's client on a keep-alive agent: one
 * `http.request` per request, the bodies streamed both ways (never buffered, with backpressure:
 * `pipe` up, `relayBody` down), the response head written once with
 * `res.writeHead(status, [name, value, …])` after header hygiene.
 * The request-target sent is exactly the canonical one the policy decided on. The timeouts live on
 * the agent's sockets, not on each request; the one thing that runs per chunk, and only for bodies
 * of 1 MiB or more, is a byte count that gives their memory back early (body-memory.ts).
 *
 * Websocket hand-shakes still go through http-proxy-3 (loaded on the first upgrade): its upgrade
 * path (the 101 or refusal relayed to the raw socket, then both sockets piped) is not on the hot
 * path and carries no per-request cost worth rewriting.
 */

/** `client_timeout`: the client's body arrived too slowly, and the request was abandoned (408). */
type UpstreamFailure = 'connect' | 'timeout' | 'reset' | 'client_timeout';

const CLIENT_BODY_TIMEOUT = 'CLIENT_BODY_TIMEOUT';

export class UpstreamError extends Error {
  constructor(readonly failure: UpstreamFailure, detail: unknown) {
    super(`upstream ${failure}`, { cause: detail });
  }
}

export interface UpstreamOptions {
  readonly url: URL;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  /**
   * A pooled connection unused this long is closed; none: kept until the upstream closes it. A
   * shorter `Keep-Alive: timeout=N` from the upstream closes it 1 s before that either way.
   */
  readonly idleTimeoutMs?: number;
  readonly maxSockets: number;
  readonly stripped: HeaderFilter;
  readonly ownCookie: (name: string) => boolean;
  /**
   * The upstream's session cookie names (as frameworks fold them): kept server-side, so their
   * Set-Cookie headers are dropped from responses after the binding observed them.
   */
  readonly upstreamSessionCookie?: (name: string) => boolean;
  readonly requestIdHeader: string;
  /**
   * A client that accepts no byte of a response for this long is cut off (THREATS T17); while the
   * response waits for the client, the upstream's idle timeout is suspended (the upstream is not
   * the slow one).
   */
  readonly sendTimeoutMs?: number;
  /** Told when a client was cut off for not reading (metrics, log). */
  readonly onSendStall?: (req: http.IncomingMessage, requestId: string | undefined) => void;
  /** Told when a request is sent again because its pooled connection had just been closed (metrics, log). */
  readonly onRetry?: (requestId: string | undefined, error: unknown) => void;
  /** Framing protection for upstream HTML responses that lack it (config headers.framing; default same_origin). */
  readonly framing?: FramingPolicy;
  /** Gives large bodies' chunk memory back as they stream (default: the process's one, body-memory.ts). */
  readonly bodyMemory?: BodyMemory;
}

/** What an observer of a proxied answer is told (status, Location, Set-Cookie; never the body). */
export interface UpstreamAnswer {
  readonly status: number;
  readonly location: string | undefined;
  readonly setCookies: readonly string[];
}

interface ForwardResult {
  readonly status: number;
}

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

export class Upstream {
  private readonly agent: http.Agent;
  private readonly client: typeof http.request;
  private readonly secure: boolean;
  private readonly hostname: string;
  private readonly port: number;
  private readonly basePath: string;
  private wsProxy: ProxyServer | undefined;
  /**
   * Requests whose body is being piped upstream (only those can be abandoned for a slow body). An
   * entry is deleted when the exchange settles: its upstream request's listeners refer back to the
   * request, and V8's young-generation collections keep a weak key alive through such a value
   * (src/entry/proxy.ts, bodyWatches).
   */
  private readonly inFlight = new WeakMap<http.IncomingMessage, http.ClientRequest>();
  private readonly sendWatch: SendWatch;
  private readonly noteKeepAlive: UpstreamAgent['noteKeepAlive'];
  private readonly bodyMemory: BodyMemory;

  /** Set-Cookie names the browser never gets: the sidecar's own and the bound upstream session cookies. */
  private readonly withheldSetCookie: (name: string) => boolean;

  constructor(private readonly options: UpstreamOptions) {
    this.sendWatch = new SendWatch(options);
    this.bodyMemory = options.bodyMemory ?? processBodyMemory();
    const bound = options.upstreamSessionCookie;
    this.withheldSetCookie = bound ? (name) => options.ownCookie(name) || bound(name) : options.ownCookie;
    const url = options.url;
    const secure = url.protocol === 'https:';
    this.secure = secure;
    // WHATWG URL keeps an IPv6 literal in brackets; the socket wants the bare address.
    this.hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
    const pool = createUpstreamAgent({
      secure,
      host: this.hostname,
      port: this.port,
      maxSockets: options.maxSockets,
      connectTimeoutMs: options.connectTimeoutMs,
      responseTimeoutMs: options.responseTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      onIdle: (socket) => this.sendWatch.onUpstreamIdle(socket),
    });
    this.agent = pool.agent;
    this.noteKeepAlive = pool.noteKeepAlive;
    this.client = secure ? https.request : http.request;
    this.basePath = url.pathname.replace(/\/$/, '');
  }

  /**
   * Abandons a proxied request whose client body came too slowly: the upstream request is
   * destroyed (its half-sent body cannot be finished) and `web()` rejects with `client_timeout`.
   * False when the request has no upstream request (yet).
   */
  abortSlowBody(req: http.IncomingMessage): boolean {
    const proxyReq = this.inFlight.get(req);
    if (!proxyReq || proxyReq.destroyed) return false;
    proxyReq.destroy(Object.assign(new Error('client body too slow'), { code: CLIENT_BODY_TIMEOUT }));
    return true;
  }

  private classify(error: unknown): UpstreamFailure {
    const code = (error as NodeJS.ErrnoException | undefined)?.code ?? '';
    if (code === CLIENT_BODY_TIMEOUT) return 'client_timeout';
    if (code === 'UPSTREAM_TIMEOUT' || code === 'UPSTREAM_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return 'timeout';
    if (CONNECT_FAILURES.has(code)) return 'connect';
    return 'reset';
  }

  /**
   * Forwards one request. Resolves when the response has been fully written (or the client went
   * away); rejects with an UpstreamError when the upstream failed before a response started (the
   * caller answers 502/504). A failure after the response started ends the client connection, as
   * there is no honest way to signal it within a half-sent body. A bodiless GET, HEAD, OPTIONS or
   * TRACE whose pooled connection turns out closed before any answer is sent again.
   */
  web(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    target: string,
    facts: ForwardingFacts,
    observeSetCookies?: (answer: UpstreamAnswer) => void,
  ): Promise<ForwardResult> {
    sanitiseRequestHeaders(req.headers, facts, { stripped: this.options.stripped, ownCookie: this.options.ownCookie });
    const headers = req.headers;
    const withBody = carriesBody(headers);
    const requestOptions: http.RequestOptions = {
      agent: this.agent,
      host: this.hostname,
      port: this.port,
      method: req.method,
      path: this.basePath + target,
      headers: headerList(headers),
      ...(this.secure ? { servername: serverNameFor(headers.host ?? this.hostname) } : {}),
    };
    const replayable = !withBody && REPLAYABLE_METHODS.has(req.method ?? '');
    return new Promise((resolve, reject) => {
      let settled = false;
      let answered = false;
      let attempts = 0;
      let proxyReq: http.ClientRequest;
      const finish = (): void => {
        if (settled) return;
        settled = true;
        if (withBody) this.inFlight.delete(req);
        resolve({ status: res.statusCode });
      };
      const fail = (error: unknown): void => {
        if (settled) return;
        if (res.headersSent) {
          // Half a response is out: the client connection is all that can be cut.
          res.destroy();
          finish();
          return;
        }
        settled = true;
        if (withBody) this.inFlight.delete(req);
        reject(new UpstreamError(this.classify(error), error));
      };
      res.on('close', () => {
        // The client went away (or the answer is complete): an unfinished upstream exchange is dropped.
        if (!res.writableFinished && !proxyReq.destroyed) proxyReq.destroy();
        finish();
      });
      const onResponse = (proxyRes: http.IncomingMessage): void => {
        answered = true;
        if (settled || res.destroyed) {
          proxyReq.destroy();
          return;
        }
        const upstreamHeaders = proxyRes.headers;
        const keepAliveHint = upstreamHeaders['keep-alive'];
        if (typeof keepAliveHint === 'string') this.noteKeepAlive(proxyRes.socket, keepAliveHint);
        const status = proxyRes.statusCode ?? 502;
        if (observeSetCookies) observeSetCookies({ status, location: upstreamHeaders.location, setCookies: upstreamHeaders['set-cookie'] ?? [] });
        const own = asSetCookieList(res.getHeader('set-cookie'));
        sanitiseResponseHeaders(upstreamHeaders, own, this.withheldSetCookie, (res as http.ServerResponse & { shouldKeepAlive: boolean }).shouldKeepAlive, 'unset');
        addFramingProtection(upstreamHeaders, this.options.framing ?? 'same_origin');
        try {
          writeResponseHead(res, status, proxyRes.statusMessage, upstreamHeaders);
        } catch (error) {
          // A head Node refuses to write (an invalid status or header): nothing was sent yet.
          proxyReq.destroy();
          fail(error);
          return;
        }
        // An upstream that breaks off mid-body ends the client's connection too (never a
        // truncated body that looks complete).
        proxyRes.on('error', () => res.destroy());
        this.sendWatch.watch(proxyRes, req, res, facts.requestId);
        this.bodyMemory.watch(proxyRes, upstreamHeaders['content-length']);
        relayBody(proxyRes, res);
      };
      const send = (): void => {
        attempts++;
        const attempt = this.client(requestOptions);
        proxyReq = attempt;
        // Once attached, the listener stays: a destroyed request may still report its error.
        attempt.on('error', (error) => {
          if (attempt !== proxyReq) return;
          // A pooled connection the upstream closed as it was handed out (its keep-alive timeout
          // ran out just then): nothing was answered, so a request that can be sent again is, as
          // RFC 9112 §9.3.1 allows and Go's transport and nginx do. A fresh connection's failure is final.
          if (replayable && !answered && !settled && !res.destroyed && attempt.reusedSocket && attempts < MAX_ATTEMPTS && isStaleConnection(error)) {
            this.options.onRetry?.(facts.requestId, error);
            send();
            return;
          }
          fail(error);
        });
        attempt.on('response', onResponse);
        if (withBody) {
          this.inFlight.set(req, attempt);
          this.bodyMemory.watch(req, req.headers['content-length']);
          req.pipe(attempt);
        } else {
          attempt.end();
        }
      };
      send();
    });
  }

  /** Forwards an already authorised websocket hand-shake and pipes the sockets. */
  ws(req: http.IncomingMessage, socket: Duplex, head: Buffer, target: string, facts: ForwardingFacts, onError: (failure: UpstreamFailure) => void): void {
    req.url = this.basePath + target;
    sanitiseRequestHeaders(req.headers, facts, { stripped: this.options.stripped, ownCookie: this.options.ownCookie, websocket: true });
    this.websocketProxy().ws(req, socket, head, {}, (error) => onError(this.classify(error)));
  }

  private websocketProxy(): ProxyServer {
    this.wsProxy ??= createWebsocketProxy(this.options.url, this.agent, this.withheldSetCookie);
    return this.wsProxy;
  }

  close(): void {
    this.sendWatch.close();
    this.agent.destroy();
  }
}
