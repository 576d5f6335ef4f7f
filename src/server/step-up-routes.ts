import type { Context } from 'koa';
import { FlowError } from '../flows/flow-error.ts';
import { passkeyStepUpKey, type StepUpFlow, type StepUpRecord } from '../flows/step-up.ts';
import type { PasskeyFormView } from '../pages/passkey-parts.tsx';
import type { Actor } from '../flows/two-factor-settings.ts';
import type { Logger } from '../observability/logger.ts';
import { renderNudgePage, renderStepUpDonePage, renderStepUpPage } from '../pages/step-up-page.tsx';
import { explainRisk } from '../risk/assess.ts';
import type { RiskService } from '../risk/service.ts';
import { cookieName, readCookies } from '../session/cookies.ts';
import type { Clock } from '../core/clock.ts';
import type { RouteDefinition } from './auth-routes.ts';
import type { SensitiveGate } from './app.ts';
import type { GuardHttp } from './guard-http.ts';
import { flowMessage } from '../pages/flow-messages.ts';
import { acceptFlowError, sendError, sendFlowError, sendPage, setOwnResponseHeaders, uiOf, wantsHtml } from './respond.ts';
import { safeReturnTo } from './return-to.ts';

const STEP_UP = '/_guard/step-up';
import type { RuleDescription } from '../policy/types.ts';
import type { Lang } from '../i18n/language.ts';

/** The rule's description in the page's language: its own text for it, else the one it has. */
export function describeRule(description: RuleDescription | undefined, lang: Lang): string | null {
  if (description === undefined) return null;
  if (typeof description === 'string') return description.trim() || null;
  const own = lang === 'zh-CN' ? description['zh-cn'] : description.en;
  return own ?? description.en ?? description['zh-cn'] ?? null;
}

/**
 * Sensitive operations over HTTP: the gate the enforcement point consults (risk level and step-up
 * freshness), the answer when a step-up is owed (303 to the step-up page, or 401 for API
 * clients), the step-up page and API, and the invitation to enable 2FA afterwards.
 */
export function createStepUp(deps: {
  flow: StepUpFlow;
  risk: RiskService;
  http: GuardHttp;
  clock: Clock;
  logger: Logger;
  publicOrigin?: string;
  landing: string;
  /** The "use a passkey" form of the step-up page, when the account can use one (src/server/passkey-pages.ts). */
  passkeyForm?: ((ctx: Context, actor: Actor, record: StepUpRecord) => Promise<PasskeyFormView | null>) | undefined;
}): { gate: SensitiveGate; routes: RouteDefinition[] } {
  const { flow, risk, http, logger } = deps;
  const DONE = '/_guard/step-up/done';
  const stepUpUrl = (returnTo: string): string => `/_guard/step-up?return_to=${encodeURIComponent(returnTo)}`;

  const gate: SensitiveGate = {
    async userState(identity, spec, req, client, requestId) {
      const session = identity.session;
      if (!session) return identity.user;
      // The operation is counted before it is assessed, so a burst includes the request at hand.
      await risk.countSensitiveOperation(session.user);
      const secure = deps.publicOrigin !== undefined ? deps.publicOrigin.startsWith('https:') : client.proto === 'https';
      const assessment = await risk.assess({
        user: session.user,
        deviceCookie: readCookies(req.headers.cookie)[cookieName('device', secure)],
        clientAddress: client.address,
        userAgent: req.headers['user-agent'] ?? '',
        category: spec.category,
        context: { requestId },
      });
      if (assessment.level !== 'low') {
        logger.info(
          { event: 'risk_assessed', user: session.user, category: spec.category, level: assessment.level, score: assessment.score, signals: explainRisk(assessment) },
          'sensitive operation risk assessed',
        );
      }
      const at = session.stepUps?.[spec.category];
      const fresh = at !== undefined && deps.clock.now() - at < spec.freshForMs;
      const byPasskey = session.stepUps?.[passkeyStepUpKey(spec.category)];
      const freshPhishingResistant = byPasskey !== undefined && deps.clock.now() - byPasskey < spec.freshForMs;
      return { ...identity.user, risk: assessment.level, fresh, freshPhishingResistant };
    },
    async requireStepUp(ctx, identity, spec, action, target) {
      if (!identity.session) return;
      const record = await flow.require(identity.session, spec, action, target.forwarded, {
        from: cameFrom(ctx, target.forwarded),
        retry: ctx.method === 'GET' || ctx.method === 'HEAD' ? 'get' : 'other',
      });
      const url = stepUpUrl(target.forwarded);
      setOwnResponseHeaders(ctx);
      if (wantsHtml(ctx.req.headers)) {
        ctx.status = 303;
        ctx.redirect(url);
        return;
      }
      if (record.action === 'phishing_resistant') {
        // Stable codes for API clients: a passkey is needed, and whether the account has one.
        if (!(await flow.hasPasskey(identity.session.user))) {
          return sendError(ctx, 403, 'phishing_resistant_required', 'This operation needs a passkey or security key, and your account has none. Add one under Login & Security first.', { security_url: '/_guard/security/passkeys' });
        }
        return sendError(ctx, 401, 'step_up_required', 'This operation needs a fresh verification with a passkey.', { step_up_url: url, method: 'passkey' });
      }
      sendError(ctx, 401, 'step_up_required', 'This operation needs a fresh verification.', { step_up_url: url, method: record.method });
    },
  };

  /**
   * The same-origin page the operation was asked from (its Referer), for "back to where you were";
   * undefined when unknown, another site, the operation itself or a sidecar page.
   */
  const cameFrom = (ctx: Context, target: string): string | undefined => {
    const referer = ctx.get('referer');
    if (!referer) return undefined;
    let url: URL;
    try {
      url = new URL(referer);
    } catch {
      return undefined;
    }
    const sameSite = deps.publicOrigin !== undefined ? url.origin === new URL(deps.publicOrigin).origin : url.host === ctx.get('host');
    if (!sameSite) return undefined;
    const path = safeReturnTo(`${url.pathname}${url.search}`, '');
    return path === '' || path === target ? undefined : path;
  };

  const actorOf = (ctx: Context): Actor | null => {
    const state = http.state(ctx);
    return state.identity.session ? { session: state.identity.session, client: state.client, requestId: state.requestId, userAgent: ctx.get('user-agent') || undefined } : null;
  };

  const page = sendPage;

  /** The step-up page, with what the server knows about sending now (never what a URL says). */
  const stepUpPage = async (ctx: Context, actor: Actor, status: number, extra: { error?: string; notice?: string }): Promise<void> => {
    const record = await flow.current(actor.session);
    if (!record) return http.redirect(ctx, safeReturnTo(ctx.query['return_to'], deps.landing));
    const shown = flow.describe(record);
    const ui = uiOf(ctx);
    const description = describeRule(record.description, ui.lang);
    const [state, recovery] = await Promise.all([flow.sendState(actor.session, record), flow.recoveryAvailable(actor.session, record)]);
    const passkey = deps.passkeyForm ? await deps.passkeyForm(ctx, actor, record) : null;
    const send =
      state !== null && shown.method !== 'totp'
        ? {
            method: shown.method,
            destination: shown.destination,
            live: state.live,
            refused: state.refused,
            resendAfter: Math.ceil(state.resendInMs / 1000),
            recovery,
          }
        : null;
    page(
      ctx,
      status,
      renderStepUpPage(ui, {
        csrf: http.formToken(ctx, actor.session),
        method: shown.method,
        destination: shown.destination,
        noDestination: shown.method !== 'totp' && shown.destination === null,
        ...(description !== null ? { description } : {}),
        send,
        recovery,
        passkey,
        passkeyOnly: record.action === 'phishing_resistant',
        returnTo: record.returnTo,
        ...(extra.error ? { error: extra.error } : {}),
        ...(extra.notice ? { notice: extra.notice } : {}),
      }),
    );
  };

  const jsonCall = (path: string, run: (actor: Actor, body: Record<string, unknown>) => Promise<unknown>): RouteDefinition => ({
    path,
    access: 'authenticated',
    register(router) {
      router.post(path, async (ctx) => {
        const body = await http.readJsonCall(ctx);
        if (body === null) return;
        const actor = actorOf(ctx);
        if (!actor) return sendError(ctx, 401, 'login_required', 'Sign in to continue.', { login_url: '/_guard/login' });
        try {
          const answer = await run(actor, body);
          setOwnResponseHeaders(ctx);
          ctx.body = answer;
        } catch (error) {
          sendFlowError(ctx, error);
        }
      });
    },
  });

  const routes: RouteDefinition[] = [
    {
      path: '/_guard/step-up',
      access: 'authenticated',
      register(router) {
        router.get('/_guard/step-up', async (ctx) => {
          const actor = actorOf(ctx);
          if (!actor) return http.redirect(ctx, '/_guard/login');
          // What the page says about sending comes from the server; an error or notice from the flash.
          const flash = http.takeFlash(ctx, actor.session, STEP_UP);
          await stepUpPage(ctx, actor, flash?.status ?? 200, {
            ...(flash?.error ? { error: flash.error } : {}),
            ...(flash?.notice ? { notice: flash.notice } : {}),
          });
        });
        router.post('/_guard/step-up', async (ctx) => {
          if (http.refuseCrossSite(ctx)) return;
          const read = await http.readBody(ctx, ['form']);
          if (!read) return;
          const actor = actorOf(ctx);
          if (!actor) return http.redirect(ctx, '/_guard/login');
          // Every answer to this form is a 303 to the page (Post/Redirect/Get): Back and reload meet a GET.
          const back = (status: number, message: { error?: string; notice?: string }): void => {
            const returnTo = safeReturnTo(read.body['return_to'], deps.landing);
            http.redirectWithFlash(ctx, actor.session, STEP_UP, { status, ...message }, `?return_to=${encodeURIComponent(returnTo)}`);
          };
          if (!http.formTokenValid(ctx, actor.session, read.body['_csrf'])) return back(403, { error: uiOf(ctx).t.formExpired });
          if (read.body['action'] === 'send') {
            try {
              const started = await flow.start(actor);
              const { t } = uiOf(ctx);
              return back(200, { notice: started.status === 'code_sent' ? t.stepUpCodeSent : t.stepUpAppNotice });
            } catch (error) {
              const failure = acceptFlowError(ctx, error);
              // A refusal by the send budget is told by the page's sending status (no code, when, what else works).
              const told = failure.code === 'too_many_codes' && failure.extra['limit'] === 'send_budget';
              return back(failure.status, told ? {} : { error: flowMessage(uiOf(ctx).t, failure) });
            }
          }
          try {
            await flow.verify(actor, read.body['code']);
            // The result page says it worked and continues the operation itself (PRG: reload is harmless).
            return http.redirect(ctx, DONE);
          } catch (error) {
            const failure = acceptFlowError(ctx, error);
            return back(failure.status, { error: flowMessage(uiOf(ctx).t, failure) });
          }
        });
      },
    },
    {
      path: '/_guard/step-up/done',
      access: 'authenticated',
      register(router) {
        router.get(DONE, async (ctx) => {
          const actor = actorOf(ctx);
          if (!actor) return http.redirect(ctx, '/_guard/login');
          // Facts from the server only: a crafted link cannot make the page say "Verified".
          const result = await flow.lastResult(actor.session);
          if (!result) return http.redirect(ctx, deps.landing);
          const target = safeReturnTo(result.returnTo, deps.landing);
          const description = describeRule(result.description, uiOf(ctx).lang);
          page(
            ctx,
            200,
            renderStepUpDonePage(uiOf(ctx), {
              ...(description !== null ? { description } : {}),
              csrf: http.formToken(ctx, actor.session),
              continueTo: result.retry === 'other' ? null : target,
              back: safeReturnTo(result.from, deps.landing),
              freshMinutes: Math.max(1, Math.round(result.freshForMs / 60_000)),
              nudge: result.nudge,
            }),
          );
        });
      },
    },
    {
      path: '/_guard/step-up/nudge',
      access: 'authenticated',
      register(router) {
        router.get('/_guard/step-up/nudge', (ctx) => {
          const actor = actorOf(ctx);
          if (!actor) return http.redirect(ctx, '/_guard/login');
          page(ctx, 200, renderNudgePage(uiOf(ctx), { csrf: http.formToken(ctx, actor.session), returnTo: safeReturnTo(ctx.query['return_to'], deps.landing) }));
        });
        router.post('/_guard/step-up/nudge', async (ctx) => {
          if (http.refuseCrossSite(ctx)) return;
          const read = await http.readBody(ctx, ['form']);
          if (!read) return;
          const actor = actorOf(ctx);
          if (!actor) return http.redirect(ctx, '/_guard/login');
          if (!http.formTokenValid(ctx, actor.session, read.body['_csrf'])) {
            return sendError(ctx, 403, 'invalid_csrf_token', 'This form has expired. Please try again.');
          }
          await flow.snoozeNudge(actor);
          http.redirect(ctx, safeReturnTo(read.body['return_to'], deps.landing));
        });
      },
    },
    jsonCall('/_guard/api/step-up/start', (actor) => flow.start(actor)),
    jsonCall('/_guard/api/step-up/verify', async (actor, body) => {
      const code = body['code'];
      if (typeof code !== 'string') throw new FlowError(400, 'invalid_code_format', 'Send {"code": "123456"} with the code as a string.');
      const { return_to: _returnTo, from: _from, retry: _retry, fresh_for_ms: _fresh, ...answer } = await flow.verify(actor, code);
      return answer;
    }),
    jsonCall('/_guard/api/step-up/nudge', async (actor) => {
      await flow.snoozeNudge(actor);
      return { status: 'snoozed' };
    }),
  ];

  return { gate, routes };
}
