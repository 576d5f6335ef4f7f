import type { IncomingMessage, ServerResponse } from 'node:http';
import Koa, { type Context, type Next } from 'koa';
import Router from '@koa/router';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Tracing } from '../observability/tracing.ts';
import { isStoreUnavailable } from '../store/ephemeral.ts';
import type { Brand } from '../pages/page-ui.tsx';
import type { Access } from '../access/decide.ts';
import { ANONYMOUS } from '../access/ports.ts';
import type { AccessResult } from '../access/result.ts';
import type { GuardRoute } from '../access/routing.ts';
import type { GuardState } from '../http/guard-http.ts';
import { ANSWER_MESSAGES, answerRefusal, answerStoreUnavailable, sendError, type InterceptHandler, type MandateAnswer, type StepUpAnswer } from '../http/answer.ts';
import type { Forward, HandedOver } from './proxy.ts';
import type { Traffic } from './traffic.ts';

/**
 * The sidecar's own routes (login, verify, security, step-up, …, under /_guard/) and every answer
 * that is not a forward: the proxy entry hands over each request it does not forward with its
 * AccessResult, and this entry translates that result — to the matched route handler, a refusal
 * (http/answer.ts), or the flow that a step-up, require_2fa or an intercepted login starts.
 */

export interface OwnRoutesDeps {
  readonly access: Access;
  readonly traffic: Traffic;
  readonly forward: Forward;
  readonly routes: ReadonlyArray<GuardRoute & { register(router: Router): void }>;
  readonly brand: Brand;
  readonly logger: Logger;
  readonly metrics?: Metrics | undefined;
  readonly tracing?: Tracing | undefined;
  readonly intercept: InterceptHandler;
  readonly stepUp: StepUpAnswer;
  readonly mandate?: MandateAnswer | undefined;
  /** Resolves once the security events recorded so far are stored (see GuardAppDeps.settleAudit). */
  readonly settleAudit?: (() => Promise<void>) | undefined;
}

export function createOwnRoutes(deps: OwnRoutesDeps): { handOver(req: IncomingMessage, res: ServerResponse, handed?: HandedOver): void } {
  const { access, traffic, logger: log, metrics } = deps;
  const app = new Koa({ proxy: false });
  const handedOver = new WeakMap<IncomingMessage, HandedOver>();
  const router = new Router({ sensitive: true, strict: false });
  for (const route of deps.routes) route.register(router);

  // 1. Request facts, access log, in-flight accounting.
  app.use(async (ctx: Context, next: Next) => {
    const handed = handedOver.get(ctx.req);
    const started = handed?.started ?? process.hrtime.bigint();
    traffic.inFlight++;
    const { client, requestId } = handed ?? traffic.factsOf(ctx.req);
    const state = ctx.state as GuardState;
    state.client = client;
    state.requestId = requestId;
    state.brand = deps.brand;
    state.identity = ANONYMOUS;
    if (traffic.draining) ctx.set('Connection', 'close');
    try {
      await next();
    } catch (error) {
      if (isStoreUnavailable(error)) {
        metrics?.storeError('request');
        log.error({ err: error, requestId }, 'store unavailable: request refused (fail closed)');
        if (!ctx.headerSent) {
          ctx.respond = true;
          answerStoreUnavailable(ctx);
        }
      } else {
        log.error({ err: error, requestId }, 'unhandled error');
        if (!ctx.headerSent) {
          ctx.respond = true;
          sendError(ctx, 500, 'internal_error', ANSWER_MESSAGES.internal);
        }
      }
    } finally {
      // Koa sends the answer only after this middleware returns: the audit records of this request
      // are stored first (a proxied response that streams on its own is not held back by this).
      if (deps.settleAudit) await deps.settleAudit();
      traffic.inFlight--;
      traffic.logAccess(requestId, ctx.method, ctx.res.statusCode, client, started, state.routing, state.explanation);
    }
    // Answered before the whole body was read (a refusal, a redirect): the connection closes,
    // or Node would go on reading whatever the client still trickles in (THREATS T17).
    if (!ctx.req.complete && ctx.respond !== false) ctx.set('Connection', 'close');
  });

  // 2. The access decision's result, translated: decided by the proxy entry, or here when the
  //    request came in without one (the proxy entry's fact gathering failed).
  app.use(async (ctx: Context, next: Next) => {
    const state = ctx.state as GuardState;
    const handed = handedOver.get(ctx.req);
    let result: AccessResult;
    if (handed) {
      result = handed.result;
      if (handed.storeDown) state.storeDown = true;
    } else {
      const routing = access.route(ctx.method, ctx.req.url ?? '', state.client);
      state.routing = routing;
      const facts = await access.gather(routing, ctx.req, state.client, state.requestId, 'http');
      if (facts.storeDown) state.storeDown = true;
      result = access.decide(routing, facts, 'http', ctx.req.headers);
      if (result.kind !== 'reject' && result.kind !== 'sidecar_route') deps.tracing?.spanOf(ctx.req)?.decided(result.explanation);
    }
    if (result.kind === 'reject') {
      state.routing = result;
      answerRefusal(ctx, result);
      return;
    }
    if (result.kind === 'sidecar_route') return;
    state.routing = result.routing;
    state.explanation = result.explanation;
    state.identity = result.identity;
    const target = result.routing.target;
    switch (result.kind) {
      case 'own_route':
        await next();
        return;
      case 'forward':
        ctx.respond = false;
        await deps.forward(ctx.req, ctx.res, target, state.client, state.requestId, result.identity);
        return;
      case 'step_up_required':
        await deps.stepUp.requireStepUp(ctx, result.identity, result.spec, result.method, target);
        return;
      case 'intercept':
        await deps.intercept.handle(result.intercept, ctx, target);
        return;
      case 'two_factor_setup_required':
        if (!deps.mandate) {
          answerRefusal(ctx, { ...result, kind: 'deny', code: '2fa_required' });
          return;
        }
        // True only for a client that cannot show the page during the grace period, which the
        // access decision already forwards: kept so the mandate's answer is honoured as it says.
        if (await deps.mandate.answer(ctx, result.identity, result.grace, target)) {
          if (result.routing.internal) await next();
          else {
            ctx.respond = false;
            await deps.forward(ctx.req, ctx.res, target, state.client, state.requestId, result.identity);
          }
        }
        return;
      default:
        answerRefusal(ctx, result);
    }
  });

  // 3. The sidecar's own pages and API (reached only when the access decision let them pass).
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: false }));
  app.use(async (ctx: Context) => {
    if (ctx.status === 404 && !ctx.body) sendError(ctx, 404, 'not_found', 'There is no such page.');
  });

  const koaHandler = app.callback();
  return {
    handOver(req, res, handed) {
      if (handed) handedOver.set(req, handed);
      void koaHandler(req, res);
    },
  };
}
