import type { Context, Next } from 'koa';
import type Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import { randomUuid } from '../core/ids.ts';
import type { Random } from '../core/random.ts';
import type { Logger } from '../observability/logger.ts';
import { AdminError, type AdminActor } from './model.ts';
import type { AdminOperations } from './operations.ts';
import type { AdminTokens } from './tokens.ts';

/**
 * The support API under /admin/ on the admin listener (DESIGN §5), behind bearer tokens. Every
 * /admin path, known or not, asks for a token first, so nothing about the API shows without one.
 * Without any configured token the API is off (503), never open.
 */

export interface AdminApiDeps {
  readonly tokens: AdminTokens;
  readonly operations: AdminOperations;
  readonly logger: Logger;
  /** Request ids (X-Request-Id). */
  readonly random: Random;
}

const parseJson = bodyParser({ enableTypes: ['json'], jsonLimit: '16kb', jsonStrict: true, encoding: 'utf-8' });

function sendJson(ctx: Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = body;
}

function fail(ctx: Context, status: number, error: string, message: string): void {
  sendJson(ctx, status, { error, message });
}

/** The JSON object of the request with exactly the allowed fields; no body at all is `{}`. */
async function readBody(ctx: Context, allowed: readonly string[]): Promise<Record<string, unknown>> {
  const type = ctx.request.is('application/json');
  if (type === null) return {};
  if (type === false) {
    // Some clients frame an empty POST as chunked without a type: nothing was sent, nothing to refuse.
    if (!ctx.get('content-type') && (await isEmpty(ctx))) return {};
    throw new AdminError(415, 'unsupported_media_type', 'Send the body as application/json.');
  }
  try {
    await parseJson(ctx, async () => undefined);
  } catch (error) {
    if ((error as { status?: number }).status === 413) throw new AdminError(413, 'payload_too_large', 'The request body is too large (at most 16 KB).');
    throw new AdminError(400, 'bad_json', 'The request body is not valid JSON.');
  }
  const body = (ctx.request as { body?: unknown }).body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AdminError(400, 'bad_json', 'The request body must be a JSON object.');
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new AdminError(400, 'unknown_fields', `Unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; allowed: ${allowed.join(', ')}.`);
  }
  return body as Record<string, unknown>;
}

async function isEmpty(ctx: Context): Promise<boolean> {
  let seen = 0;
  for await (const chunk of ctx.req) {
    seen += (chunk as Buffer).length;
    if (seen > 0) break;
  }
  return seen === 0;
}

function singleQuery(ctx: Context, allowed: readonly string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(ctx.query)) {
    if (!allowed.includes(key)) throw new AdminError(400, 'unknown_parameter', `Unknown query parameter "${key}"; allowed: ${allowed.join(', ')}.`);
    if (typeof value !== 'string') throw new AdminError(400, 'bad_parameter', `Give "${key}" once.`);
    out[key] = value;
  }
  return out;
}

interface AdminState {
  actor: AdminActor;
}

export function mountAdminApi(app: Koa, deps: AdminApiDeps | undefined): void {
  const router = new Router({ sensitive: true, strict: true });
  // The API's routes run only behind the token check below, never as app-wide middleware.
  const dispatch = router.routes();
  const allowed = router.allowedMethods({
    throw: true,
    methodNotAllowed: () => new AdminError(405, 'method_not_allowed', 'This admin endpoint does not take that method.'),
    notImplemented: () => new AdminError(405, 'method_not_allowed', 'This admin endpoint does not take that method.'),
  });

  // Errors, authentication and no-store for everything under /admin.
  app.use(async (ctx: Context, next: Next) => {
    if (ctx.path !== '/admin' && !ctx.path.startsWith('/admin/')) return next();
    ctx.set('Cache-Control', 'no-store');
    if (!deps || !deps.tokens.enabled) {
      fail(ctx, 503, 'admin_disabled', 'admin API disabled: no token configured (admin.tokens or GUARD_ADMIN_TOKEN).');
      return;
    }
    const check = deps.tokens.check(ctx.get('authorization') || undefined);
    if (!check.ok) {
      const requestId = randomUuid(deps.random);
      deps.logger.warn({ event: 'admin_auth_failure', reason: check.reason, client: ctx.req.socket.remoteAddress, path: ctx.path, requestId }, 'admin request refused');
      ctx.set('WWW-Authenticate', check.reason === 'missing' ? 'Bearer realm="smartpush-guard admin"' : 'Bearer realm="smartpush-guard admin", error="invalid_token"');
      fail(
        ctx,
        401,
        'unauthorized',
        check.reason === 'missing'
          ? 'This needs an admin token: Authorization: Bearer <token>.'
          : check.reason === 'malformed'
            ? 'The Authorization header must be "Bearer <token>".'
            : 'The admin token is not valid.',
      );
      return;
    }
    const requestId = randomUuid(deps.random);
    ctx.set('X-Request-Id', requestId);
    (ctx.state as AdminState).actor = { actor: `admin:${check.name}`, requestId, ...(ctx.req.socket.remoteAddress ? { client: ctx.req.socket.remoteAddress } : {}) };
    try {
      const routed = ctx as Parameters<typeof dispatch>[0];
      await dispatch(routed, () => allowed(routed as Parameters<typeof allowed>[0], next));
    } catch (error) {
      if (error instanceof AdminError) {
        fail(ctx, error.status, error.code, error.message);
        return;
      }
      deps.logger.error({ err: error, requestId, path: ctx.path }, 'admin request failed');
      fail(ctx, 500, 'internal_error', `The operation failed unexpectedly (request ${requestId}); see the service log.`);
    }
  });
  if (!deps) return;
  const ops = deps.operations;
  const actor = (ctx: Context): AdminActor => (ctx.state as AdminState).actor;
  const user = (ctx: Context): string => ops.parseAccount(ctx.params['email']);

  router.get('/admin/users/:email', async (ctx) => {
    singleQuery(ctx, []);
    sendJson(ctx, 200, await ops.status(user(ctx)));
  });
  router.post('/admin/users/:email/2fa/reset', async (ctx) => {
    const account = user(ctx);
    const body = await readBody(ctx, ['reason']);
    sendJson(ctx, 200, await ops.resetTwoFactor(account, body['reason'], actor(ctx)));
  });
  router.put('/admin/users/:email/2fa/destination', async (ctx) => {
    const account = user(ctx);
    const body = await readBody(ctx, ['destination', 'reason']);
    sendJson(ctx, 200, await ops.setDestination(account, body['destination'], body['reason'], actor(ctx)));
  });
  router.post('/admin/users/:email/sessions/revoke', async (ctx) => {
    const account = user(ctx);
    const body = await readBody(ctx, ['reason']);
    sendJson(ctx, 200, await ops.revokeSessions(account, body['reason'], actor(ctx)));
  });
  router.get('/admin/users/:email/sessions', async (ctx) => {
    singleQuery(ctx, []);
    sendJson(ctx, 200, await ops.sessions(user(ctx)));
  });
  router.post('/admin/users/:email/sessions/:handle/revoke', async (ctx) => {
    const account = user(ctx);
    const body = await readBody(ctx, ['reason']);
    sendJson(ctx, 200, await ops.revokeSession(account, ctx.params['handle'] ?? '', body['reason'], actor(ctx)));
  });
  router.post('/admin/users/:email/unlock', async (ctx) => {
    const account = user(ctx);
    const body = await readBody(ctx, ['reason']);
    sendJson(ctx, 200, await ops.unlock(account, body['reason'], actor(ctx)));
  });
  router.post('/admin/users/:email/remembered-browsers/revoke', async (ctx) => {
    const account = user(ctx);
    const body = await readBody(ctx, ['reason', 'id']);
    sendJson(ctx, 200, await ops.revokeRememberedBrowsers(account, body['id'], body['reason'], actor(ctx)));
  });
  router.get('/admin/audit', async (ctx) => {
    const q = singleQuery(ctx, ['user', 'event', 'since', 'limit']);
    const since = q['since'] === undefined ? undefined : Date.parse(q['since']);
    const limit = q['limit'] === undefined ? undefined : /^\d{1,5}$/.test(q['limit']) ? Number(q['limit']) : NaN;
    const events = await ops.auditEvents({
      ...(q['user'] !== undefined ? { user: ops.parseAccount(q['user']) } : {}),
      ...(q['event'] !== undefined ? { event: q['event'] } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(limit !== undefined ? { limit } : {}),
    });
    sendJson(ctx, 200, { events });
  });
}
