import type { Context } from 'koa';
import type { WebAuthnSettings } from '../factors/passkey/ceremony.ts';
import { FlowError } from '../flows/flow-error.ts';
import type { LoginFlow, PendingLogin } from '../flows/login.ts';
import { passkeyRefused } from '../flows/passkey-errors.ts';
import type { PasskeySettings } from '../flows/passkey-settings.ts';
import { maskDestination } from '../flows/second-factor.ts';
import type { StepUpFlow, StepUpRecord } from '../flows/step-up.ts';
import type { Actor } from '../flows/two-factor-settings.ts';
import { flowMessage } from '../pages/flow-messages.ts';
import type { PasskeyFormView } from '../pages/passkey-parts.tsx';
import { renderPasskeyPage, type PasskeyPageStep } from '../pages/passkey-page.tsx';
import { PASSKEY_JS } from '../pages/passkey-script.ts';
import type { SessionRecord } from '../session/sessions.ts';
import { setCookieHeader } from '../session/cookies.ts';
import type { DurableStore } from '../store/durable.ts';
import type { RouteDefinition, SignInHelpers } from './auth-routes.ts';
import type { GuardHttp } from './guard-http.ts';
import { rpOf } from './passkey-routes.ts';
import { acceptFlowError, sendPage, uiOf } from './respond.ts';
import { safeReturnTo } from './return-to.ts';

/**
 * The passkey pages (HTML, no JavaScript needed except for the WebAuthn ceremony itself):
 * Login & Security › Passkeys (/_guard/security/passkeys), and the forms the sign-in code page
 * and the step-up page show beside the code (`loginForm` / `stepUpForm` build them; the answers
 * post to /_guard/verify/passkey and /_guard/step-up/passkey). The script is /_guard/assets/passkey.js.
 */

export interface PasskeyPagesDeps {
  readonly settings: PasskeySettings;
  readonly login: LoginFlow;
  readonly stepUp: StepUpFlow;
  readonly durable: DurableStore;
  readonly http: GuardHttp;
  readonly signIn: SignInHelpers;
  readonly webauthn: WebAuthnSettings;
  readonly landing: string;
}

const PAGE = '/_guard/security/passkeys';
const VERIFY = '/_guard/verify';
const STEP_UP = '/_guard/step-up';

export interface PasskeyPageHooks {
  readonly routes: RouteDefinition[];
  /** The "use a passkey" form of the sign-in code page (null: not offered to this sign-in). */
  loginForm(ctx: Context, pending: PendingLogin): Promise<PasskeyFormView | null>;
  /** The "use a passkey" form of the step-up page (null: not offered). */
  stepUpForm(ctx: Context, actor: Actor, record: StepUpRecord): Promise<PasskeyFormView | null>;
}

export function createPasskeyPages(deps: PasskeyPagesDeps): PasskeyPageHooks {
  const { http, settings } = deps;

  const actorOf = (ctx: Context): Actor | null => {
    const state = http.state(ctx);
    const session = state.identity.session;
    return session ? { session, client: state.client, requestId: state.requestId, userAgent: ctx.get('user-agent') || undefined } : null;
  };

  const back = (ctx: Context, session: SessionRecord, status: number, message: { error?: string; notice?: string }): void =>
    http.redirectWithFlash(ctx, session, PAGE, { status, ...message });

  const failed = (ctx: Context, session: SessionRecord, error: unknown): void => {
    const failure = acceptFlowError(ctx, error);
    back(ctx, session, failure.status, { error: flowMessage(uiOf(ctx).t, failure) });
  };

  const managePage = async (ctx: Context, actor: Actor): Promise<void> => {
    const flash = http.takeFlash(ctx, actor.session, PAGE);
    const [keys, enrollment, state] = await Promise.all([settings.list(actor.session.user), deps.durable.getEnrollment(actor.session.user), settings.state(actor)]);
    let view: PasskeyPageStep;
    if (!enrollment) view = { step: 'two_factor_off' };
    else if (state === 'verify') view = { step: 'code', method: enrollment.method, destination: maskDestination(enrollment.method, enrollment.destination) };
    else if (state === 'verified') {
      let add: PasskeyFormView | null = null;
      let problem: string | undefined;
      try {
        add = { options: JSON.stringify(await settings.registrationOptions(actor, rpOf(http, deps.webauthn, ctx))) };
      } catch (error) {
        if (!(error instanceof FlowError)) throw error;
        problem = flowMessage(uiOf(ctx).t, error);
      }
      view = { step: 'verified', add, problem };
    } else view = { step: 'password' };
    sendPage(
      ctx,
      flash?.status ?? 200,
      renderPasskeyPage(uiOf(ctx), {
        csrf: http.formToken(ctx, actor.session),
        keys: keys.map((k) => ({ id: k.id, name: k.name, createdAt: k.created_at, lastUsedAt: k.last_used_at })),
        view,
        ...(flash?.error ? { error: flash.error } : {}),
        ...(flash?.notice ? { notice: flash.notice } : {}),
      }),
    );
  };

  const routes: RouteDefinition[] = [
    {
      path: '/_guard/assets/passkey.js',
      access: 'public',
      register(router) {
        router.get('/_guard/assets/passkey.js', (ctx) => {
          ctx.type = 'text/javascript; charset=utf-8';
          ctx.set({ 'Cache-Control': 'public, max-age=3600', 'X-Content-Type-Options': 'nosniff' });
          ctx.body = PASSKEY_JS;
        });
      },
    },
    {
      path: PAGE,
      access: 'authenticated',
      register(router) {
        router.get(PAGE, async (ctx) => {
          const actor = actorOf(ctx);
          if (!actor) return http.redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(PAGE)}`);
          await managePage(ctx, actor);
        });
        router.post(PAGE, async (ctx) => {
          if (http.refuseCrossSite(ctx)) return;
          const read = await http.readBody(ctx, ['form']);
          if (!read) return;
          const actor = actorOf(ctx);
          if (!actor) return http.redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(PAGE)}`);
          const { t } = uiOf(ctx);
          if (!http.formTokenValid(ctx, actor.session, read.body['_csrf'])) return back(ctx, actor.session, 403, { error: t.forged });
          const body = read.body;
          try {
            if (body['action'] === 'resend') {
              await settings.resend(actor);
              return back(ctx, actor.session, 200, { notice: t.newCodeSent });
            }
            switch (body['step']) {
              case 'password':
                await settings.start(actor, body['password']);
                return http.redirect(ctx, PAGE);
              case 'code':
                await settings.verify(actor, body['code']);
                return back(ctx, actor.session, 200, { notice: t.passkey.verifiedNotice });
              case 'add': {
                const { result, rotated } = await settings.register(actor, parseResponse(body['response']), body['name']);
                http.appendSetCookie(ctx, [setCookieHeader('session', rotated.cookieValue, http.cookieOptions(ctx))]);
                return back(ctx, rotated.session, 200, { notice: t.passkey.added(result.passkey.name) });
              }
              case 'remove': {
                const { rotated } = await settings.remove(actor, body['id']);
                http.appendSetCookie(ctx, [setCookieHeader('session', rotated.cookieValue, http.cookieOptions(ctx))]);
                return back(ctx, rotated.session, 200, { notice: t.passkey.removed });
              }
              default:
                return back(ctx, actor.session, 400, { error: t.flowUnknown });
            }
          } catch (error) {
            return failed(ctx, actor.session, error);
          }
        });
      },
    },
    {
      path: '/_guard/verify/passkey',
      access: 'public',
      register(router) {
        router.post('/_guard/verify/passkey', async (ctx) => {
          if (http.refuseCrossSite(ctx)) return;
          const read = await http.readBody(ctx, ['form']);
          if (!read) return;
          const returnTo = safeReturnTo(read.body['return_to'], deps.landing);
          const again = `?return_to=${encodeURIComponent(returnTo)}`;
          const { t } = uiOf(ctx);
          if (!http.formTokenValid(ctx, null, read.body['_csrf'])) return http.redirectWithFlash(ctx, null, VERIFY, { status: 403, error: t.formExpired }, again);
          const result = await deps.login.verifyPasskey(http.cookie(ctx, 'pending'), parseResponse(read.body['response']), deps.signIn.presenter(ctx));
          switch (result.kind) {
            case 'authenticated':
              deps.signIn.complete(ctx, result);
              return http.redirect(ctx, returnTo);
            case 'account_changed':
              return deps.signIn.accountChangedPage(ctx, returnTo);
            case 'passkey_refused': {
              const failure = passkeyRefused(result.reason);
              return http.redirectWithFlash(ctx, null, VERIFY, { status: failure.status, error: flowMessage(t, failure) }, again);
            }
            default:
              return http.redirect(ctx, `/_guard/login${again}`);
          }
        });
      },
    },
    {
      path: '/_guard/step-up/passkey',
      access: 'authenticated',
      register(router) {
        router.post('/_guard/step-up/passkey', async (ctx) => {
          if (http.refuseCrossSite(ctx)) return;
          const read = await http.readBody(ctx, ['form']);
          if (!read) return;
          const actor = actorOf(ctx);
          if (!actor) return http.redirect(ctx, '/_guard/login');
          const returnTo = safeReturnTo(read.body['return_to'], deps.landing);
          const again = `?return_to=${encodeURIComponent(returnTo)}`;
          const { t } = uiOf(ctx);
          if (!http.formTokenValid(ctx, actor.session, read.body['_csrf'])) return http.redirectWithFlash(ctx, actor.session, STEP_UP, { status: 403, error: t.formExpired }, again);
          try {
            await deps.stepUp.verifyPasskey(actor, parseResponse(read.body['response']));
            return http.redirect(ctx, '/_guard/step-up/done');
          } catch (error) {
            const failure = acceptFlowError(ctx, error);
            return http.redirectWithFlash(ctx, actor.session, STEP_UP, { status: failure.status, error: flowMessage(t, failure) }, again);
          }
        });
      },
    },
  ];

  return {
    routes,
    async loginForm(ctx, pending) {
      if (!(await deps.login.passkeyAvailable(pending))) return null;
      const found = await deps.login.passkeyOptions(pending.id, rpOf(http, deps.webauthn, ctx), deps.signIn.presenter(ctx));
      return found.kind === 'options' ? { options: JSON.stringify(found.options) } : null;
    },
    async stepUpForm(ctx, actor, record) {
      if (!(await deps.stepUp.passkeyAvailable(actor.session, record))) return null;
      try {
        return { options: JSON.stringify(await deps.stepUp.passkeyOptions(actor, rpOf(http, deps.webauthn, ctx))) };
      } catch (error) {
        if (error instanceof FlowError) return null;
        throw error;
      }
    },
  };
}

/** The form's `response` field: the JSON the script put there (anything else is refused by the ceremony). */
function parseResponse(value: unknown): unknown {
  if (typeof value !== 'string' || value.length === 0 || value.length > 16_384) return null;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return null;
  }
}
