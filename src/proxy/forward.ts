import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { ProxyServer } from 'http-proxy-3';
import {
  addFramingProtection,
  asSetCookieList,
  type FramingPolicy,
  sanitiseRequestHeaders,
  sanitiseResponseHeaders,
  type ForwardingFacts,
  type HeaderFilter,
} from './headers.ts';

/**
 * Streams requests to the upstream through http-proxy-3. Bodies are piped both ways (never
 * buffered); the request-target sent is exactly the canonical one the policy decided on.
 */

/** `client_timeout`: the client's body arrived too slowly, and the request was abandoned (408). */
export type UpstreamFailure = 'connect' | 'timeout' | 'reset' | 'client_timeout';

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
  /** Framing protection for upstream HTML responses that lack it (config headers.framing; default same_origin). */
  readonly framing?: FramingPolicy;
}

/** What an observer of a proxied answer is told (status, Location, Set-Cookie; never the body). */
export interface UpstreamAnswer {
  readonly status: number;
  readonly location: string | undefined;
  readonly setCookies: readonly string[];
}

export interface ForwardResult {
  readonly status: number;
}

/** The send watch samples this many times per sendTimeout; a cut comes within sendTimeout + one tick. */
const SEND_WATCH_TICKS = 4;

interface ClientWatch {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly proxyRes: http.IncomingMessage;
  readonly upstreamSocket: import('node:net').Socket;
  lastQueued: number;
  lastRead: number;
  stalledTicks: number;
}

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

export class Upstream {
  private readonly proxy: ProxyServer;
  private readonly agent: http.Agent;
  private readonly basePath: string;
  private readonly observers = new WeakMap<http.IncomingMessage, (answer: UpstreamAnswer) => void>();
  private readonly timeoutArmed = new WeakSet<import('node:net').Socket>();
  private readonly inFlight = new WeakMap<http.IncomingMessage, http.ClientRequest>();
  private readonly requestIds = new WeakMap<http.IncomingMessage, string>();
  /** Responses that had to wait for their client at least once (the send watch). */
  private readonly watched = new Set<ClientWatch>();
  /** The response an upstream socket carries while it waits for its client (keyed weakly: sockets are pooled). */
  private readonly waitingOnClient = new WeakMap<import('node:net').Socket, ClientWatch>();
  private sweepTimer: NodeJS.Timeout | undefined;

  /** Set-Cookie names the browser never gets: the sidecar's own and the bound upstream session cookies. */
  private readonly withheldSetCookie: (name: string) => boolean;

  constructor(private readonly options: UpstreamOptions) {
    const bound = options.upstreamSessionCookie;
    this.withheldSetCookie = bound ? (name) => options.ownCookie(name) || bound(name) : options.ownCookie;
    const secure = options.url.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets, maxFreeSockets: 64, scheduling: 'lifo' as const };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.basePath = options.url.pathname.replace(/\/$/, '');
    this.proxy = new ProxyServer({
      target: new URL(options.url.origin),
      agent: this.agent,
      // The request-target is already canonical: toProxy makes http-proxy-3 take req.url verbatim
      // instead of re-parsing it with WHATWG URL rules (which turn '\' into '/' and fold dots).
      toProxy: true,
      prependPath: false,
      xfwd: false,
      ws: true,
    });
    // http-proxy's deleteLength pass rewrites a chunked DELETE/OPTIONS to Content-Length: 0 and
    // still pipes the body, so the body's bytes would reach the upstream as a second request
    // (node-http-proxy #1720). Framing is set by sanitiseRequestHeaders instead.
    const passes = (this.proxy as unknown as { webPasses: Array<{ name: string }> }).webPasses;
    const index = passes.findIndex((p) => p.name === 'deleteLength');
    if (index === -1) throw new Error('http-proxy-3 no longer has a deleteLength pass: re-check the smuggling guard');
    passes.splice(index, 1);
    this.proxy.on('proxyRes', (proxyRes, req, res) => {
      const observe = this.observers.get(req);
      if (observe) observe({ status: proxyRes.statusCode ?? 0, location: proxyRes.headers.location, setCookies: proxyRes.headers['set-cookie'] ?? [] });
      const own = asSetCookieList(res.getHeader('set-cookie'));
      sanitiseResponseHeaders(proxyRes.headers, own, this.withheldSetCookie, (res as http.ServerResponse & { shouldKeepAlive: boolean }).shouldKeepAlive, 'unset');
      addFramingProtection(proxyRes.headers, this.options.framing ?? 'same_origin');
      this.watchClientReading(proxyRes, req, res as http.ServerResponse);
    });
    this.proxy.on('proxyReq', (proxyReq, req, _res, _options, socket) => {
      this.inFlight.set(req, proxyReq);
      this.armTimeouts(proxyReq, socket);
    });
    this.proxy.on('proxyReqWs', (proxyReq) => {
      proxyReq.on('socket', (socket) => this.armTimeouts(proxyReq, socket));
      // http-proxy-3 copies the upstream's hand-shake answer to the client without emitting
      // proxyRes; these listeners run before its own (registration order), so the headers are
      // cleaned in place first: no upstream may set the sidecar's cookies through a 101 or a refusal.
      proxyReq.on('upgrade', (proxyRes: http.IncomingMessage) => {
        sanitiseResponseHeaders(proxyRes.headers, [], this.withheldSetCookie, true);
        proxyRes.headers.connection = 'Upgrade';
        proxyRes.headers.upgrade = 'websocket';
      });
      proxyReq.on('response', (proxyRes: http.IncomingMessage) => {
        sanitiseResponseHeaders(proxyRes.headers, [], this.withheldSetCookie, false);
      });
    });
    // Errors are handled through the per-call callbacks; this keeps a stray one from throwing.
    this.proxy.on('error', () => undefined);
  }

  private armTimeouts(proxyReq: http.ClientRequest, socket: import('node:net').Socket): void {
    if (socket.connecting) {
      const timer = setTimeout(() => {
        proxyReq.destroy(Object.assign(new Error('upstream connect timeout'), { code: 'UPSTREAM_CONNECT_TIMEOUT' }));
      }, this.options.connectTimeoutMs);
      timer.unref();
      socket.once('connect', () => clearTimeout(timer));
      proxyReq.once('close', () => clearTimeout(timer));
    }
    // An idle timeout on the socket: its listener is attached once per socket, and each request
    // only re-arms it (the agent disarms it while the socket waits in the pool). A timeout destroys
    // the socket, which fails the request in flight with UPSTREAM_TIMEOUT (504).
    if (!this.timeoutArmed.has(socket)) {
      this.timeoutArmed.add(socket);
      socket.on('timeout', () => this.onUpstreamIdle(socket));
    }
    socket.setTimeout(this.options.responseTimeoutMs);
  }

  /**
   * `pipe` pauses the upstream response while the client's socket is full and resumes it on
   * drain, which can happen on every chunk of a large body. So nothing here runs per chunk: the
   * first pause puts the response on a watch list, and one coarse timer (a quarter of
   * sendTimeout) samples what is on it. A client must make progress: within every sendTimeout
   * (+ one tick) either the bytes queued for it shrink or the upstream socket is read further
   * (pipe resumed because the client drained), or it is cut off. A client that keeps reading,
   * however slowly, keeps its download; one that stopped reading does not hold the upstream
   * socket for ever. The upstream's idle timeout stays armed: when it fires while its response
   * waits for the client, it is re-armed instead (a slow client is not a slow upstream).
   */
  private watchClientReading(proxyRes: http.IncomingMessage, req: http.IncomingMessage, res: http.ServerResponse): void {
    const upstreamSocket = proxyRes.socket;
    proxyRes.once('pause', () => {
      if (res.destroyed || proxyRes.destroyed) return;
      const watch: ClientWatch = { req, res, proxyRes, upstreamSocket, lastQueued: -1, lastRead: -1, stalledTicks: 0 };
      this.waitingOnClient.set(upstreamSocket, watch);
      const sendTimeoutMs = this.options.sendTimeoutMs;
      if (sendTimeoutMs === undefined) return;
      this.watched.add(watch);
      const forget = (): void => {
        this.watched.delete(watch);
      };
      res.once('close', forget);
      proxyRes.once('close', forget);
      if (!this.sweepTimer) {
        this.sweepTimer = setInterval(() => this.sweepClients(), Math.max(25, Math.floor(sendTimeoutMs / SEND_WATCH_TICKS)));
        this.sweepTimer.unref();
      }
    });
  }

  /** One tick of the send watch (see watchClientReading). */
  private sweepClients(): void {
    if (this.watched.size === 0) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
      return;
    }
    for (const watch of this.watched) {
      const { res, proxyRes, upstreamSocket } = watch;
      if (res.destroyed || proxyRes.destroyed) {
        this.watched.delete(watch);
        continue;
      }
      const handle = (res.socket as (NonNullable<typeof res.socket> & { _handle?: { writeQueueSize?: number } }) | null)?._handle;
      const queued = res.writableLength + (handle?.writeQueueSize ?? 0);
      const read = upstreamSocket.bytesRead;
      const stalled = queued > 0 && proxyRes.isPaused() && queued >= watch.lastQueued && read === watch.lastRead;
      watch.lastQueued = queued;
      watch.lastRead = read;
      watch.stalledTicks = stalled ? watch.stalledTicks + 1 : 0;
      if (watch.stalledTicks >= SEND_WATCH_TICKS) {
        this.watched.delete(watch);
        this.options.onSendStall?.(watch.req, this.requestIds.get(watch.req));
        res.destroy();
      }
    }
  }

  /** The upstream socket's idle timeout fired: an upstream failure, unless its response is waiting for the client. */
  private onUpstreamIdle(socket: import('node:net').Socket): void {
    const watch = this.waitingOnClient.get(socket);
    if (watch && !watch.res.destroyed && !watch.proxyRes.complete && watch.proxyRes.isPaused()) {
      socket.setTimeout(this.options.responseTimeoutMs);
      return;
    }
    socket.destroy(Object.assign(new Error('upstream response timeout'), { code: 'UPSTREAM_TIMEOUT' }));
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
   * Forwards one request. Resolves when the response has been fully written; rejects with an
   * UpstreamError when the upstream failed before a response started (the caller answers 502/504).
   * A failure after the response started ends the client connection, as there is no honest way to
   * signal it within a half-sent body.
   */
  web(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    target: string,
    facts: ForwardingFacts,
    observeSetCookies?: (answer: UpstreamAnswer) => void,
  ): Promise<ForwardResult> {
    req.url = this.basePath + target;
    this.requestIds.set(req, facts.requestId);
    if (observeSetCookies) this.observers.set(req, observeSetCookies);
    sanitiseRequestHeaders(req.headers, facts, { stripped: this.options.stripped, ownCookie: this.options.ownCookie });
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (): void => {
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode });
      };
      res.once('finish', done);
      res.once('close', done);
      this.proxy.web(req, res, {}, (error) => {
        if (settled) return;
        if (res.headersSent) {
          settled = true;
          res.destroy();
          resolve({ status: res.statusCode });
          return;
        }
        settled = true;
        reject(new UpstreamError(this.classify(error), error));
      });
    });
  }

  /** Forwards an already authorised websocket hand-shake and pipes the sockets. */
  ws(req: http.IncomingMessage, socket: Duplex, head: Buffer, target: string, facts: ForwardingFacts, onError: (failure: UpstreamFailure) => void): void {
    req.url = this.basePath + target;
    sanitiseRequestHeaders(req.headers, facts, { stripped: this.options.stripped, ownCookie: this.options.ownCookie, websocket: true });
    this.proxy.ws(req, socket, head, {}, (error) => onError(this.classify(error)));
  }

  close(): void {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.agent.destroy();
  }
}
