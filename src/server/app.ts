import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { BlockList } from 'node:net';
import type { Duplex } from 'node:stream';
import Koa, { type Context, type Next } from 'koa';
import Router from '@koa/router';
import type { Logger } from '../observability/logger.ts';
import { AccessEntry, createAccessLog } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Tracing } from '../observability/tracing.ts';
import { clientFacts, type ClientFacts } from '../proxy/client-address.ts';
import type { ForwardingFacts } from '../proxy/headers.ts';
import { Upstream, UpstreamError, type UpstreamAnswer } from '../proxy/forward.ts';
import type { CanonicalTarget } from '../proxy/canonical-target.ts';
import type { CompiledPolicy, Explanation, InterceptKind, SensitiveSpec, UserState } from '../policy/types.ts';
import { GUARD_PREFIX, GuardRouteTable, evaluate, route, type GuardRoute, type Routing } from './enforce.ts';
import type { SessionRecord } from '../session/sessions.ts';
import { sendError, setOwnResponseHeaders, wantsHtml, writeError } from './respond.ts';
import type { Random } from '../core/random.ts';
import { isStoreUnavailable } from '../store/ephemeral.ts';
import type { Site } from '../pages/site.ts';
import type { Brand } from '../pages/page-ui.tsx';
import { hasBody, type BodyWatch, type ClientLimits } from './client-limits.ts';
import type { UpstreamAdmission } from '../proxy/admission.ts';
import { addressKey } from '../flows/regulation.ts';
import type { RequiredTwoFactor } from './required-two-factor.ts';

/** Per-request facts every later stage reads; set once by the first middleware. */
export interface GuardState {
  requestId: string;
  client: ClientFacts;
  identity: Identity;
  routing?: Routing;
  explanation?: Explanation;
  /** The store could not say who this is: only what anonymous visitors may do can go on. */
  storeDown?: boolean;
  /** Product name, support contact and logo the sidecar's pages show. */
  brand: Brand;
}

export interface Identity {
  readonly user: UserState;
  readonly session: SessionRecord | null;
}

export interface IdentityResolver {
  /** Who the request's sidecar cookie says this is; anonymous when none or invalid. */
  resolve(req: IncomingMessage, client: ClientFacts): Promise<Identity>;
  /**
   * The Cookie header the upstream may see: its session cookies only as bound to a fully
   * authenticated sidecar session, never as the client sent them (cookie binding, DESIGN §2).
   */
  upstreamCookieHeader(header: string | undefined, identity: Identity): string | undefined;
  /** The upstream answered a proxied request of this identity (it may have rotated or ended its session). */
  observeUpstreamResponse?(identity: Identity, answer: UpstreamAnswer): void;
}

/** Sensitive rules (DESIGN §3): what the decision needs to know, and how a step-up is asked for. */
export interface SensitiveGate {
  /** The user state a sensitive rule is decided with: risk level, and freshness for its category. */
  userState(identity: Identity, spec: SensitiveSpec, req: IncomingMessage, client: ClientFacts, requestId?: string): Promise<UserState>;
  /** Records the step-up this session owes and answers 303 (pages) or 401 (API). */
  requireStepUp(ctx: Context, identity: Identity, spec: SensitiveSpec, action: 'email_code' | 'fresh_code' | 'phishing_resistant', target: CanonicalTarget): Promise<void>;
}

export interface InterceptHandler {
  handle(kind: InterceptKind, ctx: Context, target: CanonicalTarget): Promise<void>;
}

export interface GuardAppDeps {
  readonly policy: () => CompiledPolicy;
  readonly upstream: Upstream;
  readonly logger: Logger;
  readonly random: Random;
  readonly trustedProxies: BlockList;
  readonly hasTrustedProxies: boolean;
  readonly requestIdHeader: string;
  readonly identity: IdentityResolver;
  readonly intercept: InterceptHandler;
  readonly sensitive: SensitiveGate;
  /** Request, upstream and store counters (none when absent). */
  readonly metrics?: Metrics;
  /** The sidecar's own routes (login, verify, security, …) mounted under /_guard/. */
  readonly routes: ReadonlyArray<GuardRoute & { register(router: Router): void }>;
  /** The pages' brand and its assets (config `product`). */
  readonly site: Site;
  /** Per-address connection cap and request-body pace (THREATS T17); none: unlimited. */
  readonly clientLimits?: ClientLimits;
  /** Who may hold an upstream socket (THREATS T17); none: every passed request is forwarded at once. */
  readonly admission?: UpstreamAdmission;
  /**
   * Resolves once the security events recorded so far are stored by every audit sink; awaited
   * before a sidecar answer is sent, so what a user was told happened is in the audit trail even
   * after a kill -9 (issue 14 item 15). Returns at once when nothing was recorded.
   */
  readonly settleAudit?: () => Promise<void>;
  /** OpenTelemetry spans (config `tracing`); none: tracing is off and costs a null check per hook. */
  readonly tracing?: Tracing;
  /** Policy `require_2fa` (required-two-factor.ts); none: a covered rule refuses users without 2FA (fail closed). */
  readonly requireTwoFactor?: Pick<RequiredTwoFactor, 'userState' | 'answer'>;
}

export interface GuardApp {
  readonly app: Koa;
  /** The listener's request handler: the enforcement point, then the proxy or the sidecar's pages. */
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Requests and upgrades still being handled (for graceful shutdown). */
  inFlight(): number;
  /** Once set, responses ask clients to close their connections. */
  startDraining(): void;
}

const ANONYMOUS: Identity = { user: { authenticated: false }, session: null };
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function loginUrl(target: CanonicalTarget): string {
  return `${GUARD_PREFIX}/login?return_to=${encodeURIComponent(target.forwarded)}`;
}

/** What the entry handler already worked out, so Koa does not do it twice. */
interface Decided {
  readonly client: ClientFacts;
  readonly requestId: string;
  readonly started: bigint;
  readonly routing: Routing;
  readonly identity?: Identity;
  /** The user state the decision was made with (differs from identity.user on sensitive rules). */
  readonly user?: UserState;
  readonly storeDown?: boolean;
}

const BODY_TIMEOUT_MESSAGE = 'The request body arrived too slowly and was refused. Please try again.';
const CONNECTIONS_MESSAGE = 'Too many connections from your network address. Close some tabs or wait a moment, then try again.';
const REQUESTS_MESSAGE = 'Too many requests from your network address at once. Please wait a moment, then try again.';
const BUSY_MESSAGE = 'The service is busy right now. Please try again in a moment.';

const STORE_DOWN_MESSAGE = 'Sign-in and verification are temporarily unavailable. Nothing was changed; please try again in a minute.';
/** Seconds a client is asked to wait before retrying while the store is unreachable. */
const STORE_DOWN_RETRY_AFTER = '5';

export function createGuardApp(deps: GuardAppDeps): GuardApp {
  const app = new Koa({ proxy: false });
  const decided = new WeakMap<IncomingMessage, Decided>();
  const bodyWatches = new WeakMap<IncomingMessage, BodyWatch>();
  let inFlight = 0;
  let draining = false;
  const log = deps.logger;
  // The access log line is built from fields that never hold secrets, so it skips redaction, which
  // would otherwise walk every line on the hot path.
  const accessLog = createAccessLog(log);

  const baseRoutes = deps.routes;
  const guardRoutes = new GuardRouteTable(baseRoutes);
  const router = new Router({ sensitive: true, strict: false });
  for (const route of baseRoutes) route.register(router);

  // Request ids need to be unique, not secret: a random per-process prefix and a counter cost
  // nothing per request (randomBytes per request was measured at ~5% of the hot path).
  const idPrefix = deps.random.bytes(6).toString('hex');
  let idCounter = 0;
  /** A trusted proxy's request id is kept so one id follows the request end to end. */
  const newRequestId = (headers: IncomingMessage['headers'], client: ClientFacts): string => {
    const incoming = headers[deps.requestIdHeader];
    if (client.peerTrusted && typeof incoming === 'string' && REQUEST_ID.test(incoming)) return incoming;
    idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
    return `${idPrefix}-${idCounter.toString(36)}`;
  };

  const factsOf = (req: IncomingMessage): { client: ClientFacts; requestId: string } => {
    const client = clientFacts(
      req.socket.remoteAddress,
      'encrypted' in req.socket && Boolean((req.socket as { encrypted?: boolean }).encrypted),
      req.headers,
      deps.trustedProxies,
      deps.hasTrustedProxies,
    );
    return { client, requestId: newRequestId(req.headers, client) };
  };

  const forwarding = (state: GuardState): ForwardingFacts => ({
    forwardedFor: state.client.forwardedFor,
    proto: state.client.proto,
    host: state.client.host,
    requestId: state.requestId,
    requestIdHeader: deps.requestIdHeader,
  });

  const metrics = deps.metrics;
  const logAccess = (requestId: string, method: string | undefined, status: number, client: ClientFacts, started: bigint, routing?: Routing, explanation?: Explanation): void => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const rule = routing?.kind === 'routed' ? routing.match.rule.name : undefined;
    const decision = explanation?.decision.kind ?? routing?.kind;
    metrics?.observeRequest(rule ?? '(none)', decision ?? '(none)', ms / 1000);
    metrics?.observeResponse(status);
    accessLog(new AccessEntry(requestId, method, routing?.kind === 'routed' ? routing.target.path : undefined, status, rule, decision, client.address, ms));
  };

  // 1. Request facts, access log, in-flight accounting.
  app.use(async (ctx: Context, next: Next) => {
    const early = decided.get(ctx.req);
    const started = early?.started ?? process.hrtime.bigint();
    inFlight++;
    const { client, requestId } = early ?? factsOf(ctx.req);
    const state = ctx.state as GuardState;
    state.client = client;
    state.requestId = requestId;
    state.brand = deps.site.brand;
    state.identity = early?.identity ?? ANONYMOUS;
    if (early?.routing) state.routing = early.routing;
    if (draining) ctx.set('Connection', 'close');
    try {
      await next();
    } catch (error) {
      if (isStoreUnavailable(error)) {
        metrics?.storeError('request');
        log.error({ err: error, requestId }, 'store unavailable: request refused (fail closed)');
        if (!ctx.headerSent) {
          ctx.respond = true;
          storeUnavailable(ctx);
        }
      } else {
        log.error({ err: error, requestId }, 'unhandled error');
        if (!ctx.headerSent) {
          ctx.respond = true;
          sendError(ctx, 500, 'internal_error', 'Something went wrong on our side. Please try again.');
        }
      }
    } finally {
      // Koa sends the answer only after this middleware returns: the audit records of this request
      // are stored first (a proxied response that streams on its own is not held back by this).
      if (deps.settleAudit) await deps.settleAudit();
      inFlight--;
      logAccess(requestId, ctx.method, ctx.res.statusCode, client, started, state.routing, state.explanation);
    }
    // Answered before the whole body was read (a refusal, a redirect): the connection closes,
    // or Node would go on reading whatever the client still trickles in (THREATS T17).
    if (!ctx.req.complete && ctx.respond !== false) ctx.set('Connection', 'close');
  });

  // 2. The central enforcement point: canonical target → policy rule → identity → decision.
  app.use(async (ctx: Context, next: Next) => {
    const state = ctx.state as GuardState;
    const early = decided.get(ctx.req);
    const routing = early?.routing ?? route(deps.policy(), guardRoutes, ctx.method, ctx.req.url ?? '', state.client);
    state.routing = routing;
    if (routing.kind === 'reject') {
      if (routing.status === 421) sendError(ctx, 421, 'unknown_host', 'This site is not served at this address. Check the address you typed or followed.');
      else sendError(ctx, 400, 'bad_request', `The request address (path or query) was refused: ${routing.reason}.`);
      return;
    }
    // Identity is resolved for every request that carries a session, not only for protected rules:
    // the upstream cookie binding applies to public routes too.
    let user: UserState;
    if (early?.identity) {
      state.identity = early.identity;
      user = early.user ?? (await userStateFor(routing, state.identity, ctx.req, state.client, state.requestId));
    } else if (early?.storeDown) {
      state.storeDown = true;
      user = ANONYMOUS.user;
    } else {
      const known = await decideWho(routing, ctx.req, state.client, state.requestId);
      state.identity = known.identity;
      user = known.user;
      if (known.storeDown) state.storeDown = true;
    }
    const explanation = evaluate(routing, user);
    state.explanation = explanation;
    deps.tracing?.spanOf(ctx.req)?.decided(explanation);
    // Fail closed (THREATS T16): without the store nobody can be recognised, so only what an
    // anonymous visitor may do goes on; anything that needs a session is refused, never guessed.
    if (state.storeDown && explanation.decision.kind !== 'pass') {
      storeUnavailable(ctx);
      return;
    }
    await apply(ctx, routing.target, explanation, routing.internal, next);
  });

  function storeUnavailable(ctx: Context): void {
    ctx.set('Retry-After', STORE_DOWN_RETRY_AFTER);
    sendError(ctx, 503, 'store_unavailable', STORE_DOWN_MESSAGE);
  }

  /**
   * Who the request is and the user state its rule is decided with. A store that cannot answer
   * makes the request anonymous (and says so), so public routes keep working during an outage.
   */
  async function decideWho(
    routing: Routing,
    req: IncomingMessage,
    client: ClientFacts,
    requestId: string,
    /** False for websocket upgrades: they are decided on the identity alone (no risk assessment). */
    assessRule = true,
  ): Promise<{ identity: Identity; user: UserState; storeDown: boolean }> {
    const lookup = deps.tracing?.spanOf(req)?.begin('guard.session');
    try {
      const identity = await deps.identity.resolve(req, client);
      lookup?.end({ 'guard.authenticated': identity.user.authenticated });
      const user = assessRule ? await userStateFor(routing, identity, req, client, requestId) : identity.user;
      return { identity, user, storeDown: false };
    } catch (error) {
      lookup?.fail(error);
      if (!isStoreUnavailable(error)) throw error;
      metrics?.storeError('request');
      log.warn({ err: error }, 'store unavailable: request treated as anonymous (fail closed)');
      return { identity: ANONYMOUS, user: ANONYMOUS.user, storeDown: true };
    }
  }

  async function apply(ctx: Context, target: CanonicalTarget, explanation: Explanation, internal: boolean, next: Next): Promise<void> {
    const decision = explanation.decision;
    switch (decision.kind) {
      case 'pass':
        if (internal) {
          await next();
          return;
        }
        await proxyToUpstream(ctx, target);
        return;
      case 'login_required': {
        const url = loginUrl(target);
        if (wantsHtml(ctx.req.headers)) {
          setOwnResponseHeaders(ctx);
          ctx.status = 303;
          ctx.redirect(url);
        } else {
          sendError(ctx, 401, 'login_required', 'Sign in to continue.', { login_url: url });
        }
        return;
      }
      case 'deny':
        sendError(ctx, 403, 'forbidden', 'You do not have access to this page.');
        return;
      case 'step_up_required': {
        const spec = explanation.rule.sensitive;
        const identity = (ctx.state as GuardState).identity;
        if (!spec || !identity.session) {
          sendError(ctx, 403, 'forbidden', 'You do not have access to this page.');
          return;
        }
        await deps.sensitive.requireStepUp(ctx, identity, spec, decision.action, target);
        return;
      }
      case 'intercept':
        await deps.intercept.handle(decision.intercept, ctx, target);
        return;
      case 'two_factor_required': {
        const identity = (ctx.state as GuardState).identity;
        if (!deps.requireTwoFactor) {
          sendError(ctx, 403, '2fa_required', 'Your organisation requires two-step verification (2FA) here.');
          return;
        }
        // An API client during the grace period goes on to the upstream (it cannot show the page).
        if (await deps.requireTwoFactor.answer(ctx, identity, decision.grace, target)) {
          if (internal) await next();
          else await proxyToUpstream(ctx, target);
        }
        return;
      }
    }
  }

  /** The upstream sees only the session cookies bound to this identity (HTTP and websockets alike). */
  function bindUpstreamCookies(req: IncomingMessage, who: Identity): void {
    const cookie = deps.identity.upstreamCookieHeader(req.headers.cookie, who);
    if (cookie === undefined) delete req.headers.cookie;
    else req.headers.cookie = cookie;
  }

  /**
   * Forwards a request the enforcement point passed. Resolves once the response is written; an
   * upstream that failed before answering gets the 502/504 page or JSON.
   */
  async function forward(req: IncomingMessage, res: ServerResponse, target: CanonicalTarget, client: ClientFacts, requestId: string, who: Identity): Promise<void> {
    if (draining) (res as { shouldKeepAlive?: boolean }).shouldKeepAlive = false;
    const identity = deps.identity;
    bindUpstreamCookies(req, who);
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
    const release = await admit(req, res, client, requestId, who);
    if (release === null) return;
    const call = deps.tracing?.spanOf(req)?.upstream(req, target.path);
    try {
      const answered = await deps.upstream.web(req, res, target.forwarded, facts, observe);
      call?.end(answered.status);
    } catch (error) {
      call?.fail(error instanceof UpstreamError ? error.failure : 'error');
      if (!(error instanceof UpstreamError)) throw error;
      if (error.failure === 'client_timeout') {
        writeError(req, res, 408, 'request_timeout', BODY_TIMEOUT_MESSAGE, requestId, deps.site.brand, { Connection: 'close' });
        return;
      }
      metrics?.upstreamError(error.failure);
      log.warn({ requestId, failure: error.failure, err: error.cause }, 'upstream failed');
      if (error.failure === 'timeout') {
        writeError(req, res, 504, 'upstream_timeout', 'SmartPush did not answer in time. Please try again in a moment.', requestId, deps.site.brand);
      } else {
        writeError(req, res, 502, 'upstream_unavailable', 'SmartPush cannot be reached right now. Please try again in a moment.', requestId, deps.site.brand);
      }
    } finally {
      release();
    }
  }

  /**
   * A place on the upstream pool for this request (THREATS T17): signed-in traffic has its reserve,
   * one address its cap. Null when refused (answered 429/503 here) or the client left while waiting.
   */
  async function admit(req: IncomingMessage, res: ServerResponse, client: ClientFacts, requestId: string, who: Identity): Promise<(() => void) | null> {
    const admission = deps.admission;
    if (!admission) return () => undefined;
    const traffic = who.user.authenticated ? 'signed_in' : 'anonymous';
    const key = addressKey(client.address);
    let granted = admission.tryAcquire(traffic, key);
    if (granted === null) {
      const gone = new AbortController();
      const onClose = (): void => gone.abort();
      res.once('close', onClose);
      granted = await admission.acquire(traffic, key, gone.signal);
      res.off('close', onClose);
    }
    if (granted.ok) return granted.release;
    if (granted.reason === 'gone') return null;
    if (granted.reason === 'address_limit') {
      refused('upstream_requests_per_address', requestId, client, traffic);
      writeError(req, res, 429, 'too_many_requests', REQUESTS_MESSAGE, requestId, deps.site.brand, { 'Retry-After': '1' });
    } else {
      refused('upstream_queue', requestId, client, traffic);
      writeError(req, res, 503, 'upstream_busy', BUSY_MESSAGE, requestId, deps.site.brand, { 'Retry-After': '5' });
    }
    return null;
  }

  function refused(limit: string, requestId: string | undefined, client: { address: string }, traffic?: string): void {
    metrics?.clientLimit(limit);
    log.warn({ requestId, client: client.address, limit, ...(traffic ? { traffic } : {}) }, 'client limit reached: refused');
  }

  /**
   * Watches the body of a request that has one (THREATS T17): too slow, and the request is
   * answered 408 and its connection closed; a proxied one is abandoned upstream first.
   */
  function watchBody(req: IncomingMessage, res: ServerResponse, client: ClientFacts, requestId: string): void {
    const limits = deps.clientLimits;
    if (!limits || !hasBody(req)) return;
    const watch = limits.watchBody(req, () => {
      refused('body_timeout', requestId, client);
      // An answer (or part of one) is already out, perhaps finished on a kept-alive connection
      // that Node would go on draining: cutting the connection is all that is left.
      if (res.headersSent) {
        req.socket.destroy();
        return;
      }
      // forward() answers the 408 once the upstream request is torn down.
      if (deps.upstream.abortSlowBody(req)) return;
      writeError(req, res, 408, 'request_timeout', BODY_TIMEOUT_MESSAGE, requestId, deps.site.brand, { Connection: 'close' });
      // Once the answer is out, the request is ended for whoever still reads it (a body parser
      // would otherwise wait for the rest of the body for ever: Node does not abort a request
      // whose response has finished).
      res.once('finish', () => req.destroy());
    });
    bodyWatches.set(req, watch);
  }

  async function proxyToUpstream(ctx: Context, target: CanonicalTarget): Promise<void> {
    const state = ctx.state as GuardState;
    ctx.respond = false;
    await forward(ctx.req, ctx.res, target, state.client, state.requestId, state.identity);
  }

  // 3. The sidecar's own pages and API (reached only after the enforcement point let them pass).
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: false }));
  app.use(async (ctx: Context) => {
    if (ctx.status === 404 && !ctx.body) sendError(ctx, 404, 'not_found', 'There is no such page.');
  });

  /** Sensitive rules are decided with the risk level and the freshness of a step-up; others need neither. */
  async function userStateFor(routing: Routing, identity: Identity, req: IncomingMessage, client: ClientFacts, requestId: string): Promise<UserState> {
    const user = await sensitiveStateFor(routing, identity, req, client, requestId);
    return requiredStateFor(routing, identity, user, requestId);
  }

  /** `require_2fa`: where a signed-in user without 2FA stands with its grace period (only on covered rules). */
  async function requiredStateFor(routing: Routing, identity: Identity, user: UserState, requestId: string): Promise<UserState> {
    if (routing.kind !== 'routed' || routing.match.rule.requireTwoFactor !== true || !identity.session || user.twoFactorEnabled === true) return user;
    return deps.requireTwoFactor ? deps.requireTwoFactor.userState(identity, user, requestId) : user;
  }

  async function sensitiveStateFor(routing: Routing, identity: Identity, req: IncomingMessage, client: ClientFacts, requestId: string): Promise<UserState> {
    const spec = routing.kind === 'routed' && !routing.internal ? routing.match.rule.sensitive : null;
    if (!spec || !identity.session) return identity.user;
    const risk = deps.tracing?.spanOf(req)?.begin('guard.risk');
    if (!risk) return deps.sensitive.userState(identity, spec, req, client, requestId);
    try {
      const user = await deps.sensitive.userState(identity, spec, req, client, requestId);
      risk.end({ 'guard.risk.level': user.risk ?? 'none', 'guard.fresh': user.fresh ?? false });
      return user;
    } catch (error) {
      risk.fail(error);
      throw error;
    }
  }

  const koaHandler = app.callback();

  /**
   * Every HTTP request enters here. The enforcement point's decision is made once, up front; a
   * request it passes to the upstream is forwarded without building a Koa context (the hot path),
   * and everything else (refusals, redirects, the sidecar's own pages) continues in Koa with that
   * same decision.
   */
  function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const started = process.hrtime.bigint();
    const { client, requestId } = factsOf(req);
    const span = deps.tracing?.startRequest(req, res, client, requestId, started);
    if (deps.clientLimits?.overConnectionCap(req.socket)) {
      refused('connections_per_address', requestId, client);
      writeError(req, res, 429, 'too_many_connections', CONNECTIONS_MESSAGE, requestId, deps.site.brand, { Connection: 'close', 'Retry-After': '1' });
      logAccess(requestId, req.method, 429, client, started);
      return;
    }
    watchBody(req, res, client, requestId);
    const routing = route(deps.policy(), guardRoutes, req.method ?? 'GET', req.url ?? '', client);
    span?.routed(routing);
    const toKoa = (identity: Identity | undefined, user?: UserState, storeDown?: boolean): void => {
      decided.set(req, {
        client,
        requestId,
        started,
        routing,
        ...(identity ? { identity } : {}),
        ...(user ? { user } : {}),
        ...(storeDown ? { storeDown } : {}),
      });
      void koaHandler(req, res);
    };
    if (routing.kind === 'reject' || routing.internal) {
      toKoa(undefined);
      return;
    }
    void (async () => {
      let identity: Identity;
      let user: UserState;
      let storeDown: boolean;
      try {
        ({ identity, user, storeDown } = await decideWho(routing, req, client, requestId));
      } catch {
        // Koa resolves again and answers the failure with its error handling.
        toKoa(undefined);
        return;
      }
      const explanation = evaluate(routing, user);
      span?.decided(explanation);
      if (explanation.decision.kind !== 'pass') {
        toKoa(storeDown ? undefined : identity, storeDown ? undefined : user, storeDown);
        return;
      }
      inFlight++;
      try {
        await forward(req, res, routing.target, client, requestId, identity);
      } catch (error) {
        if (isStoreUnavailable(error)) metrics?.storeError('request');
        log.error({ err: error, requestId }, 'unhandled error');
        if (!res.headersSent) writeError(req, res, 500, 'internal_error', 'Something went wrong on our side. Please try again.', requestId, deps.site.brand);
        else res.destroy();
      } finally {
        inFlight--;
        logAccess(requestId, req.method, res.statusCode, client, started, routing, explanation);
      }
    })();
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    inFlight++;
    let counted = true;
    const release = (): void => {
      if (counted) {
        counted = false;
        inFlight--;
      }
    };
    socket.once('close', release);
    socket.on('error', () => socket.destroy());
    void (async () => {
      const { client, requestId } = factsOf(req);
      const refuse = (status: number, error: string, extra: Record<string, unknown> = {}): void => {
        const body = JSON.stringify({ error, ...extra });
        socket.end(
          `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
        socket.destroy();
        log.info({ requestId, method: req.method, status, client: client.address, upgrade: true, error }, 'upgrade refused');
      };
      if (deps.clientLimits?.overConnectionCap(req.socket)) {
        refused('connections_per_address', requestId, client);
        refuse(429, 'too_many_connections', { message: CONNECTIONS_MESSAGE });
        return;
      }
      const protocol = (req.headers.upgrade ?? '').toLowerCase();
      if (protocol !== 'websocket' || req.method !== 'GET') {
        refuse(400, 'unsupported_upgrade');
        return;
      }
      if (draining) {
        refuse(503, 'shutting_down');
        return;
      }
      const routing = route(deps.policy(), guardRoutes, 'GET', req.url ?? '', client);
      if (routing.kind === 'reject') {
        refuse(routing.status, routing.status === 421 ? 'unknown_host' : 'bad_request', { message: routing.reason });
        return;
      }
      if (routing.internal) {
        refuse(404, 'not_found');
        return;
      }
      const { identity, storeDown } = await decideWho(routing, req, client, requestId, false);
      let upgradeUser = identity.user;
      try {
        upgradeUser = await requiredStateFor(routing, identity, identity.user, requestId);
      } catch (error) {
        if (!isStoreUnavailable(error)) throw error;
        refuse(503, 'store_unavailable', { message: STORE_DOWN_MESSAGE });
        return;
      }
      const explanation = evaluate(routing, upgradeUser);
      const decided = explanation.decision;
      // require_2fa during the grace period: a socket cannot show the page, so it goes on (as API calls do).
      const decision = decided.kind === 'two_factor_required' && decided.grace ? ({ kind: 'pass' } as const) : decided;
      if (storeDown && decision.kind !== 'pass') {
        refuse(503, 'store_unavailable', { message: STORE_DOWN_MESSAGE });
        return;
      }
      if (decision.kind === 'login_required') {
        refuse(401, 'login_required', { login_url: loginUrl(routing.target) });
        return;
      }
      if (decision.kind === 'two_factor_required') {
        refuse(403, '2fa_required', { enable_url: `${GUARD_PREFIX}/security/enable` });
        return;
      }
      if (decision.kind !== 'pass') {
        refuse(403, 'forbidden');
        return;
      }
      bindUpstreamCookies(req, identity);
      deps.upstream.ws(req, socket, head, routing.target.forwarded, {
        forwardedFor: client.forwardedFor,
        proto: client.proto,
        host: client.host,
        requestId,
        requestIdHeader: deps.requestIdHeader,
      }, (failure) => {
        if (socket.writable) refuse(502, `upstream_${failure}`);
        else socket.destroy();
      });
      log.info({ requestId, method: 'GET', path: routing.target.path, rule: routing.match.rule.name, client: client.address, upgrade: true }, 'upgrade');
    })().catch((error: unknown) => {
      log.error({ err: error, upgrade: true }, 'upgrade failed');
      socket.destroy();
    });
  }

  return {
    app,
    handleRequest,
    handleUpgrade,
    inFlight: () => inFlight,
    startDraining: () => {
      draining = true;
    },
  };
}
