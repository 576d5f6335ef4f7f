import type { Context } from 'koa';
import { relyingParty, type RelyingParty, type WebAuthnSettings } from '../factors/passkey/ceremony.ts';
import { FlowError } from '../flows/flow-error.ts';
import type { LoginFlow } from '../flows/login.ts';
import { passkeyRefused, passkeysUnavailable } from '../flows/passkey-errors.ts';
import type { PasskeySettings } from '../flows/passkey-settings.ts';
import type { StepUpFlow } from '../flows/step-up.ts';
import type { Actor, Rotated } from '../flows/two-factor-settings.ts';
import type { DurableStore } from '../store/durable.ts';
import { setCookieHeader } from '../session/cookies.ts';
import type { RouteDefinition, SignInHelpers } from './auth-routes.ts';
import type { GuardHttp } from './guard-http.ts';
import { sendError, sendFlowError, setOwnResponseHeaders } from './respond.ts';

/**
 * The passkey JSON API (README, "Passkeys"): list, add (password → code → WebAuthn registration),
 * remove, and a passkey as the second step of a sign-in or a step-up. Access is decided by the
 * enforcement point; handlers translate between HTTP and the flows. The pages' small script
 * (/_guard/assets/passkey.js) calls these same routes.
 */

export interface PasskeyRoutesDeps {
  readonly settings: PasskeySettings;
  readonly login: LoginFlow;
  readonly stepUp: StepUpFlow;
  readonly durable: DurableStore;
  readonly http: GuardHttp;
  readonly signIn: SignInHelpers;
  readonly webauthn: WebAuthnSettings;
}

type Handler = (actor: Actor, body: Record<string, unknown>, ctx: Context) => Promise<{ body: unknown; rotated?: Rotated }>;

export function rpOf(http: GuardHttp, webauthn: WebAuthnSettings, ctx: Context): RelyingParty | null {
  const { client } = http.state(ctx);
  return relyingParty(webauthn, { proto: client.proto, host: client.host });
}

export function createPasskeyApi(deps: PasskeyRoutesDeps): RouteDefinition[] {
  const { settings, http } = deps;
  const rp = (ctx: Context): RelyingParty | null => rpOf(http, deps.webauthn, ctx);

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
        if (!actor) return sendError(ctx, 401, 'login_required', 'Sign in to continue.', { login_url: '/_guard/login' });
        try {
          const { body: answer, rotated } = await handler(actor, body, ctx);
          setOwnResponseHeaders(ctx);
          if (rotated) http.appendSetCookie(ctx, [setCookieHeader('session', rotated.cookieValue, http.cookieOptions(ctx))]);
          ctx.body = answer;
        } catch (error) {
          sendFlowError(ctx, error);
        }
      });
    },
  });

  const loginCall = (path: string, run: (ctx: Context, body: Record<string, unknown>) => Promise<void>): RouteDefinition => ({
    path,
    access: 'public',
    register(router) {
      router.post(path, async (ctx) => {
        const body = await http.readJsonCall(ctx);
        if (body === null) return;
        setOwnResponseHeaders(ctx);
        try {
          await run(ctx, body);
        } catch (error) {
          sendFlowError(ctx, error);
        }
      });
    },
  });

  return [
    {
      path: '/_guard/api/2fa/passkeys',
      access: 'authenticated',
      register(router) {
        router.get('/_guard/api/2fa/passkeys', async (ctx) => {
          const actor = actorOf(ctx);
          if (!actor) return sendError(ctx, 401, 'login_required', 'Sign in to continue.', { login_url: '/_guard/login' });
          const [passkeys, enrollment] = await Promise.all([settings.list(actor.session.user), deps.durable.getEnrollment(actor.session.user)]);
          setOwnResponseHeaders(ctx);
          ctx.body = { passkeys, can_add: enrollment !== null, available_here: rp(ctx) !== null };
        });
      },
    },
    post('/_guard/api/2fa/passkeys/start', async (actor, body) => ({ body: await settings.start(actor, body['password']) })),
    post('/_guard/api/2fa/passkeys/verify', async (actor, body) => ({ body: await settings.verify(actor, body['code']) })),
    post('/_guard/api/2fa/passkeys/register/options', async (actor, _body, ctx) => ({ body: await settings.registrationOptions(actor, rp(ctx)) })),
    post('/_guard/api/2fa/passkeys/register/verify', async (actor, body) => {
      const { result, rotated } = await settings.register(actor, body['response'], body['name']);
      return { body: result, rotated };
    }),
    post('/_guard/api/2fa/passkeys/remove', async (actor, body) => {
      const { result, rotated } = await settings.remove(actor, body['id']);
      return { body: result, rotated };
    }),

    loginCall('/_guard/api/login/passkey/options', async (ctx) => {
      const found = await deps.login.passkeyOptions(http.cookie(ctx, 'pending'), rp(ctx), deps.signIn.presenter(ctx));
      switch (found.kind) {
        case 'options':
          ctx.body = found.options;
          return;
        case 'no_pending_login':
          return sendError(ctx, 410, 'code_expired', 'This sign-in has expired. Start again with your email and password.', { login_url: '/_guard/login' });
        case 'account_changed':
          return deps.signIn.accountChangedJson(ctx);
        case 'no_passkey':
          throw new FlowError(409, 'no_passkey', 'Your account has no passkey. Enter a code instead.');
        case 'unavailable':
          throw passkeysUnavailable();
      }
    }),
    loginCall('/_guard/api/login/passkey/verify', async (ctx, body) => {
      const result = await deps.login.verifyPasskey(http.cookie(ctx, 'pending'), body['response'], deps.signIn.presenter(ctx));
      switch (result.kind) {
        case 'authenticated':
          deps.signIn.complete(ctx, result);
          ctx.body = { status: 'authenticated' };
          return;
        case 'passkey_refused':
          throw passkeyRefused(result.reason);
        case 'account_changed':
          return deps.signIn.accountChangedJson(ctx);
        default:
          return sendError(ctx, 410, 'code_expired', 'This sign-in has expired. Start again with your email and password.', { login_url: '/_guard/login' });
      }
    }),

    post('/_guard/api/step-up/passkey/options', async (actor, _body, ctx) => ({ body: await deps.stepUp.passkeyOptions(actor, rp(ctx)) })),
    post('/_guard/api/step-up/passkey/verify', async (actor, body) => {
      const { return_to: _r, from: _f, retry: _t, fresh_for_ms: _m, ...answer } = await deps.stepUp.verifyPasskey(actor, body['response']);
      return { body: answer };
    }),
  ];
}
