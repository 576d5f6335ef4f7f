import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Tracing } from '../observability/tracing.ts';
import type { ClientFacts } from '../proxy/client-address.ts';
import type { ForwardingFacts } from '../proxy/headers.ts';
import { UpstreamError, type Upstream, type UpstreamAnswer } from '../proxy/forward.ts';
import type { CanonicalTarget } from '../proxy/canonical-target.ts';
import type { Admission, UpstreamAdmission } from '../proxy/admission.ts';
import { isStoreUnavailable } from '../store/ephemeral.ts';
import { addressKey } from '../flows/regulation.ts';
import type { Brand } from '../pages/page-ui.tsx';
import type { Access } from '../access/decide.ts';
import type { Identity, IdentityResolver } from '../access/ports.ts';
import type { AccessResult } from '../access/result.ts';
import { ANSWER_MESSAGES, writeError } from '../http/answer.ts';
import { hasBody, type BodyWatch, type ClientLimits } from './client-limits.ts';
import type { Traffic } from './traffic.ts';

/**
 * The full proxy's entry: every HTTP request arrives here, is decided once (access/decide.ts),
 * and is either forwarded upstream straight from the Node request (the hot path: no Koa context)
 * or handed, with its AccessResult, to the sidecar's own routes (entry/own-routes.ts), which
 * answer every other result.
 */

/** What the proxy entry worked out, for the own-routes entry to go on with. */
export interface HandedOver {
  readonly client: ClientFacts;
  readonly requestId: string;
  readonly started: bigint;
  readonly result: AccessResult;
  readonly storeDown: boolean;
}

export type Forward = (req: IncomingMessage, res: ServerResponse, target: CanonicalTarget, client: ClientFacts, requestId: string, who: Identity) => Promise<void>;

export interface ForwarderDeps {
  readonly upstream: Upstream;
  readonly identity: Pick<IdentityResolver, 'upstreamCookieHeader' | 'observeUpstreamResponse'>;
  readonly traffic: Traffic;
  readonly requestIdHeader: string;
  readonly brand: Brand;
  readonly logger: Logger;
  readonly metrics?: Metrics | undefined;
  readonly tracing?: Tracing | undefined;
  /** Per-address connection cap and request-body pace (THREATS T17); none: unlimited. */
  readonly clientLimits?: ClientLimits | undefined;
  /** Who may hold an upstream socket (THREATS T17); none: every passed request is forwarded at once. */
  readonly admission?: UpstreamAdmission | undefined;
}

/** The upstream sees only the session cookies bound to this identity (HTTP and websockets alike). */
export function bindUpstreamCookies(identity: Pick<IdentityResolver, 'upstreamCookieHeader'>, req: IncomingMessage, who: Identity): void {
  const cookie = identity.upstreamCookieHeader(req.headers.cookie, who, req.socket);
  if (cookie === undefined) delete req.headers.cookie;
  else req.headers.cookie = cookie;
}

const noRelease = (): void => undefined;

/** Forwarding a passed request upstream, and the body pace watch that may cut it short. */
export function createForwarder(deps: ForwarderDeps): { forward: Forward; watchBody(req: IncomingMessage, res: ServerResponse, client: ClientFacts, requestId: string): void } {
  const { traffic, logger: log, metrics } = deps;
  // An entry is removed when its watch stops, not left to the map's weakness: the watch refers to
  // its request, and V8's young-generation collections keep such a key alive through its own
  // value, so every request with a body, its answer and all they held survived into the old
  // generation and waited for a full collection (about 11 KB per sign-in, issue 16).
  const bodyWatches = new WeakMap<IncomingMessage, BodyWatch>();

  /**
   * Forwards a request the access decision passed. Resolves once the response is written; an
   * upstream that failed before answering gets the 502/504 page or JSON.
   */
  async function forward(req: IncomingMessage, res: ServerResponse, target: CanonicalTarget, client: ClientFacts, requestId: string, who: Identity): Promise<void> {
    if (traffic.draining) (res as { shouldKeepAlive?: boolean }).shouldKeepAlive = false;
    const identity = deps.identity;
    bindUpstreamCookies(identity, req, who);
    const observe =
      identity.observeUpstreamResponse && who.session
        ? (answer: UpstreamAnswer) => identity.observeUpstreamResponse?.(who, answer)
        : undefined;
    const facts: ForwardingFacts = {
      forwardedFor: client.forwardedFor,
      proto: client.proto,
      host: client.host,
      requestId,
      requestIdHeader: deps.requestIdHeader,
    };
    // From here the body is judged by its pace: a long upload may take as long as it keeps coming.
    bodyWatches.get(req)?.toRate();
    const admitted = admit(req, res, client, requestId, who);
    // A place free now is taken without a turn of the microtask queue.
    const release = admitted instanceof Promise ? await admitted : admitted;
    if (release === null) return;
    const call = deps.tracing?.spanOf(req)?.upstream(req, target.path);
    try {
      const answered = await deps.upstream.web(req, res, target.forwarded, facts, observe);
      call?.end(answered.status);
    } catch (error) {
      call?.fail(error instanceof UpstreamError ? error.failure : 'error');
      if (!(error instanceof UpstreamError)) throw error;
      if (error.failure === 'client_timeout') {
        writeError(req, res, 408, 'request_timeout', ANSWER_MESSAGES.bodyTimeout, requestId, deps.brand, { Connection: 'close' });
        return;
      }
      metrics?.upstreamError(error.failure);
      log.warn({ requestId, failure: error.failure, err: error.cause }, 'upstream failed');
      if (error.failure === 'timeout') {
        writeError(req, res, 504, 'upstream_timeout', ANSWER_MESSAGES.upstreamTimeout, requestId, deps.brand);
      } else {
        writeError(req, res, 502, 'upstream_unavailable', ANSWER_MESSAGES.upstreamUnavailable, requestId, deps.brand);
      }
    } finally {
      release();
    }
  }

  /**
   * A place on the upstream pool for this request (THREATS T17): signed-in traffic has its reserve,
   * one address its cap. Null when refused (answered 429/503 here) or the client left while waiting;
   * a promise only when the request has to wait for a place.
   */
  function admit(req: IncomingMessage, res: ServerResponse, client: ClientFacts, requestId: string, who: Identity): (() => void) | null | Promise<(() => void) | null> {
    const admission = deps.admission;
    if (!admission) return noRelease;
    const kind = who.user.authenticated ? 'signed_in' : 'anonymous';
    const key = addressKey(client.address);
    const granted = admission.tryAcquire(kind, key);
    if (granted !== null) return admittedOrAnswered(req, res, client, requestId, kind, granted);
    const gone = new AbortController();
    const onClose = (): void => gone.abort();
    res.once('close', onClose);
    return admission.acquire(kind, key, gone.signal).then((waited) => {
      res.off('close', onClose);
      return admittedOrAnswered(req, res, client, requestId, kind, waited);
    });
  }

  function admittedOrAnswered(req: IncomingMessage, res: ServerResponse, client: ClientFacts, requestId: string, kind: 'signed_in' | 'anonymous', granted: Admission): (() => void) | null {
    if (granted.ok) return granted.release;
    if (granted.reason === 'gone') return null;
    if (granted.reason === 'address_limit') {
      traffic.refused('upstream_requests_per_address', requestId, client, kind);
      writeError(req, res, 429, 'too_many_requests', ANSWER_MESSAGES.requests, requestId, deps.brand, { 'Retry-After': '1' });
    } else {
      traffic.refused('upstream_queue', requestId, client, kind);
      writeError(req, res, 503, 'upstream_busy', ANSWER_MESSAGES.busy, requestId, deps.brand, { 'Retry-After': '5' });
    }
    return null;
  }

  /**
   * Watches the body of a request that has one (THREATS T17): too slow, and the request is
   * answered 408 and its connection closed; a proxied one is abandoned upstream first.
   */
  function watchBody(req: IncomingMessage, res: ServerResponse, client: ClientFacts, requestId: string): void {
    const limits = deps.clientLimits;
    if (!limits || !hasBody(req)) return;
    const watch = limits.watchBody(req, () => {
      traffic.refused('body_timeout', requestId, client);
      // An answer (or part of one) is already out, perhaps finished on a kept-alive connection
      // that Node would go on draining: cutting the connection is all that is left.
      if (res.headersSent) {
        req.socket.destroy();
        return;
      }
      // forward() answers the 408 once the upstream request is torn down.
      if (deps.upstream.abortSlowBody(req)) return;
      writeError(req, res, 408, 'request_timeout', ANSWER_MESSAGES.bodyTimeout, requestId, deps.brand, { Connection: 'close' });
      // Once the answer is out, the request is ended for whoever still reads it (a body parser
      // would otherwise wait for the rest of the body for ever: Node does not abort a request
      // whose response has finished).
      res.once('finish', () => req.destroy());
    }, () => bodyWatches.delete(req));
    // A watch already stopped (the body was in) has nothing left to do.
    if (!watch.stopped()) bodyWatches.set(req, watch);
  }

  return { forward, watchBody };
}

export interface ProxyEntryDeps {
  readonly access: Access;
  readonly traffic: Traffic;
  readonly forwarder: ReturnType<typeof createForwarder>;
  readonly brand: Brand;
  readonly logger: Logger;
  readonly metrics?: Metrics | undefined;
  readonly tracing?: Tracing | undefined;
  readonly clientLimits?: ClientLimits | undefined;
  /** The sidecar's own routes answer everything not forwarded; without `handed`, they decide themselves. */
  readonly handOver: (req: IncomingMessage, res: ServerResponse, handed?: HandedOver) => void;
}

export function createProxyEntry(deps: ProxyEntryDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { access, traffic, forwarder, logger: log, metrics } = deps;

  return function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const started = process.hrtime.bigint();
    const { client, requestId } = traffic.factsOf(req);
    const span = deps.tracing?.startRequest(req, res, client, requestId, started);
    if (deps.clientLimits?.overConnectionCap(req.socket)) {
      traffic.refused('connections_per_address', requestId, client);
      writeError(req, res, 429, 'too_many_connections', ANSWER_MESSAGES.connections, requestId, deps.brand, { Connection: 'close', 'Retry-After': '1' });
      traffic.logAccess(requestId, req.method, 429, client, started);
      return;
    }
    forwarder.watchBody(req, res, client, requestId);
    const routing = access.route(req.method ?? 'GET', req.url ?? '', client);
    span?.routed(routing);
    const known = access.knownFacts(routing, req, client, 'http');
    if (known !== null) {
      // Anonymous, nothing to look up: decided and forwarded without waiting on a promise.
      let result: AccessResult;
      try {
        result = access.decide(routing, known, 'http', req.headers);
      } catch {
        deps.handOver(req, res);
        return;
      }
      void settle(result, known.storeDown);
      return;
    }
    void (async () => {
      let result: AccessResult;
      let storeDown: boolean;
      try {
        const facts = await access.gather(routing, req, client, requestId, 'http');
        storeDown = facts.storeDown;
        result = access.decide(routing, facts, 'http', req.headers);
      } catch {
        // The own routes decide again and answer the failure with their error handling.
        deps.handOver(req, res);
        return;
      }
      await settle(result, storeDown);
    })();

    /** Forwards a passed request; hands every other result to the own routes. */
    async function settle(result: AccessResult, storeDown: boolean): Promise<void> {
      if (result.kind !== 'forward') {
        if (result.kind !== 'reject' && result.kind !== 'sidecar_route') span?.decided(result.explanation);
        deps.handOver(req, res, { client, requestId, started, result, storeDown });
        return;
      }
      span?.decided(result.explanation);
      traffic.inFlight++;
      try {
        await forwarder.forward(req, res, result.routing.target, client, requestId, result.identity);
      } catch (error) {
        if (isStoreUnavailable(error)) metrics?.storeError('request');
        log.error({ err: error, requestId }, 'unhandled error');
        if (!res.headersSent) writeError(req, res, 500, 'internal_error', ANSWER_MESSAGES.internal, requestId, deps.brand);
        else res.destroy();
      } finally {
        traffic.inFlight--;
        traffic.logAccess(requestId, req.method, res.statusCode, client, started, routing, result.explanation);
      }
    }
  };
}
