import type { Context } from 'koa';
import type { Actor, Rotated, TwoFactorSettings } from '../flows/two-factor-settings.ts';
import { setCookieHeader } from '../session/cookies.ts';
import type { RouteDefinition } from './auth-routes.ts';
import type { GuardHttp } from './guard-http.ts';
import { sendError, sendFlowError, setOwnResponseHeaders } from './respond.ts';

/**
 * The JSON API of the 2FA settings flows (DESIGN §5). Access is decided by the enforcement point
 * (every route here needs a session); handlers only translate between HTTP and the flow.
 */

type Handler = (actor: Actor, body: Record<string, unknown>) => Promise<{ body: unknown; rotated?: Rotated }>;

export function createTwoFactorApi(deps: { settings: TwoFactorSettings; http: GuardHttp }): RouteDefinition[] {
  const { settings, http } = deps;

  const actorOf = (ctx: Context): Actor | null => {
    const state = http.state(ctx);
    const session = state.identity.session;
    return session ? { session, client: state.client, requestId: state.requestId, userAgent: ctx.get('user-agent') || undefined } : null;
  };

  const post = (path: string, handler: Handler): RouteDefinition => ({
    path,
    access: 'authenticated',
    register(router) {
      router.post(path, async (ctx) => {
        const body = await http.readJsonCall(ctx);
        if (body === null) return;
        const actor = actorOf(ctx);
        if (!actor) {
          sendError(ctx, 401, 'login_required', 'Sign in to continue.', { login_url: '/_guard/login' });
          return;
        }
        try {
          const { body: answer, rotated } = await handler(actor, body);
          setOwnResponseHeaders(ctx);
          if (rotated) http.appendSetCookie(ctx, [setCookieHeader('session', rotated.cookieValue, http.cookieOptions(ctx))]);
          ctx.body = answer;
        } catch (error) {
          sendFlowError(ctx, error);
        }
      });
    },
  });

  return [
    {
      path: '/_guard/api/2fa',
      access: 'authenticated',
      register(router) {
        router.get('/_guard/api/2fa', async (ctx) => {
          const actor = actorOf(ctx);
          if (!actor) {
            sendError(ctx, 401, 'login_required', 'Sign in to continue.', { login_url: '/_guard/login' });
            return;
          }
          const status = await settings.status(actor.session.user);
          setOwnResponseHeaders(ctx);
          ctx.body = { enabled: status.enabled, method: status.method, destination: status.destination, recovery_codes_left: status.recoveryCodesLeft };
        });
      },
    },
    post('/_guard/api/2fa/enable/start', async (actor, body) => ({ body: await settings.enableStart(actor, body['password']) })),
    post('/_guard/api/2fa/enable/identity', async (actor, body) => ({ body: await settings.enableIdentity(actor, body['channel']) })),
    post('/_guard/api/2fa/enable/identity/verify', async (actor, body) => ({ body: await settings.enableIdentityVerify(actor, body['code']) })),
    post('/_guard/api/2fa/enable/method', async (actor, body) => ({ body: await settings.enableMethod(actor, body['method'], body['phone']) })),
    post('/_guard/api/2fa/enable/confirm', async (actor, body) => {
      const { result, rotated } = await settings.enableConfirm(actor, body['code']);
      return { body: result, rotated };
    }),
    post('/_guard/api/2fa/disable/start', async (actor, body) => ({ body: await settings.disableStart(actor, body['password']) })),
    post('/_guard/api/2fa/disable/verify', async (actor, body) => ({ body: await settings.disableVerify(actor, body['code']) })),
    post('/_guard/api/2fa/disable/confirm', async (actor) => {
      const { result, rotated } = await settings.disableConfirm(actor);
      return { body: result, rotated };
    }),
    post('/_guard/api/2fa/recovery-codes/start', async (actor) => ({ body: await settings.recoveryStart(actor) })),
    post('/_guard/api/2fa/recovery-codes/confirm', async (actor, body) => {
      const { result, rotated } = await settings.recoveryConfirm(actor, body['code']);
      return { body: result, rotated };
    }),
  ];
}
