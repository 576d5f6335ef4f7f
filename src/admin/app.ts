import Koa, { type Context } from 'koa';
import Router from '@koa/router';
import { mountAdminApi, type AdminApiDeps } from './routes.ts';

interface AdminDeps {
  /** Not ready while draining or while a store cannot answer. */
  readonly ready: () => Promise<{ ready: boolean; reason?: string }>;
  /** The Prometheus exposition (`GET /metrics`, no token: the admin listener is private). */
  readonly metrics?: () => Promise<{ contentType: string; body: string }>;
  /** The support API under /admin/ (bearer tokens); absent, /admin/ answers 503 (off, never open). */
  readonly api?: AdminApiDeps;
  /** Awaited before an answer is sent: the audit records of the support action are stored first. */
  readonly settleAudit?: () => Promise<void>;
}

/**
 * The admin listener: health for orchestrators (no token, for probes) and the support API under
 * /admin/ (bearer tokens). It binds to its own port (loopback by default) and is never reachable
 * through the public listener.
 */
export function createAdminApp(deps: AdminDeps): Koa {
  const app = new Koa({ proxy: false });
  const settle = deps.settleAudit;
  if (settle) {
    app.use(async (_ctx, next) => {
      await next();
      await settle();
    });
  }
  mountAdminApi(app, deps.api);
  const router = new Router({ sensitive: true });
  router.get('/healthz', (ctx: Context) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx: Context) => {
    const state = await deps.ready();
    ctx.set('Cache-Control', 'no-store');
    ctx.status = state.ready ? 200 : 503;
    ctx.body = state.ready ? { status: 'ready' } : { status: 'not_ready', reason: state.reason };
  });
  const metrics = deps.metrics;
  if (metrics) {
    router.get('/metrics', async (ctx: Context) => {
      const out = await metrics();
      ctx.set('Cache-Control', 'no-store');
      ctx.body = out.body;
      ctx.set('Content-Type', out.contentType);
    });
  }
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use((ctx: Context) => {
    ctx.status = 404;
    ctx.body = { error: 'not_found', message: 'No such admin endpoint.' };
  });
  return app;
}
