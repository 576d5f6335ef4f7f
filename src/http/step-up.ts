import type { Context } from 'koa';
import { FlowError } from '../flows/flow-error.ts';
import type { StepUpFlow, StepUpRecord } from '../flows/step-up.ts';
import type { PasskeyFormView } from '../pages/passkey-parts.tsx';
import type { Actor } from '../flows/two-factor-settings.ts';
import { renderNudgePage, renderStepUpDonePage, renderStepUpPage } from '../pages/step-up-page.tsx';
import type { RuleDescription } from '../policy/types.ts';
import type { Lang } from '../i18n/language.ts';
import type { GuardHttp } from './guard-http.ts';
import { flowMessage } from '../pages/flow-messages.ts';
import { acceptFlowError, sendError, sendPage, uiOf } from './answer.ts';
import { actorOf, answerActorCall, signedInForm } from './request.ts';
import { safeReturnTo } from './return-to.ts';

/**
 * The step-up page and API (a fresh verification for a sensitive operation), the page that
 * continues the operation afterwards, and the invitation to enable 2FA. The gate that asks for a
 * step-up is step-up-gate.ts.
 */

const STEP_UP = '/_guard/step-up';
const DONE = '/_guard/step-up/done';

export interface StepUpRoutesDeps {
  readonly flow: StepUpFlow;
  readonly http: GuardHttp;
  readonly landing: string;
  /** The "use a passkey" form of the step-up page, when the account can use one (passkey-pages.ts). */
  readonly passkeyForm?: ((ctx: Context, actor: Actor, record: StepUpRecord) => Promise<PasskeyFormView | null>) | undefined;
}

/** The rule's description in the page's language: its own text for it, else the one it has. */
function describeRule(description: RuleDescription | undefined, lang: Lang): string | null {
  if (description === undefined) return null;
  if (typeof description === 'string') return description.trim() || null;
  const own = lang === 'zh-CN' ? description['zh-cn'] : description.en;
  return own ?? description.en ?? description['zh-cn'] ?? null;
}

/** The step-up page, with what the server knows about sending now (never what a URL says). */
async function stepUpPage(d: StepUpRoutesDeps, ctx: Context, actor: Actor, status: number, extra: { error?: string; notice?: string }): Promise<void> {
  const { flow, http } = d;
  const record = await flow.current(actor.session);
  if (!record) return http.redirect(ctx, safeReturnTo(ctx.query['return_to'], d.landing));
  const shown = flow.describe(record);
  const ui = uiOf(ctx);
  const description = describeRule(record.description, ui.lang);
  const [state, recovery] = await Promise.all([flow.sendState(actor.session, record), flow.recoveryAvailable(actor.session, record)]);
  const passkey = d.passkeyForm ? await d.passkeyForm(ctx, actor, record) : null;
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
  sendPage(
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
}

/** GET /_guard/step-up */
export async function showStepUp(d: StepUpRoutesDeps, ctx: Context): Promise<void> {
  const actor = actorOf(d.http, ctx);
  if (!actor) return d.http.redirect(ctx, '/_guard/login');
  // What the page says about sending comes from the server; an error or notice from the flash.
  const flash = d.http.takeFlash(ctx, actor.session, STEP_UP);
  await stepUpPage(d, ctx, actor, flash?.status ?? 200, {
    ...(flash?.error ? { error: flash.error } : {}),
    ...(flash?.notice ? { notice: flash.notice } : {}),
  });
}

/** POST /_guard/step-up: send a code, or verify one. */
export async function stepUpForm(d: StepUpRoutesDeps, ctx: Context): Promise<void> {
  const { flow, http } = d;
  const posted = await signedInForm(http, ctx);
  if (!posted) return;
  const { actor, body } = posted;
  // Every answer to this form is a 303 to the page (Post/Redirect/Get): Back and reload meet a GET.
  const back = (status: number, message: { error?: string; notice?: string }): void => {
    const returnTo = safeReturnTo(body['return_to'], d.landing);
    http.redirectWithFlash(ctx, actor.session, STEP_UP, { status, ...message }, `?return_to=${encodeURIComponent(returnTo)}`);
  };
  if (!http.formTokenValid(ctx, actor.session, body['_csrf'])) return back(403, { error: uiOf(ctx).t.formExpired });
  if (body['action'] === 'send') {
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
    await flow.verify(actor, body['code']);
    // The result page says it worked and continues the operation itself (PRG: reload is harmless).
    return http.redirect(ctx, DONE);
  } catch (error) {
    const failure = acceptFlowError(ctx, error);
    return back(failure.status, { error: flowMessage(uiOf(ctx).t, failure) });
  }
}

/** GET /_guard/step-up/done */
export async function showStepUpDone(d: StepUpRoutesDeps, ctx: Context): Promise<void> {
  const { http } = d;
  const actor = actorOf(http, ctx);
  if (!actor) return http.redirect(ctx, '/_guard/login');
  // Facts from the server only: a crafted link cannot make the page say "Verified".
  const result = await d.flow.lastResult(actor.session);
  if (!result) return http.redirect(ctx, d.landing);
  const target = safeReturnTo(result.returnTo, d.landing);
  const description = describeRule(result.description, uiOf(ctx).lang);
  sendPage(
    ctx,
    200,
    renderStepUpDonePage(uiOf(ctx), {
      ...(description !== null ? { description } : {}),
      csrf: http.formToken(ctx, actor.session),
      continueTo: result.retry === 'other' ? null : target,
      back: safeReturnTo(result.from, d.landing),
      freshMinutes: Math.max(1, Math.round(result.freshForMs / 60_000)),
      nudge: result.nudge,
    }),
  );
}

/** GET /_guard/step-up/nudge */
export function showNudge(d: StepUpRoutesDeps, ctx: Context): void {
  const actor = actorOf(d.http, ctx);
  if (!actor) return d.http.redirect(ctx, '/_guard/login');
  sendPage(ctx, 200, renderNudgePage(uiOf(ctx), { csrf: d.http.formToken(ctx, actor.session), returnTo: safeReturnTo(ctx.query['return_to'], d.landing) }));
}

/** POST /_guard/step-up/nudge: "not now" to the invitation to enable 2FA. */
export async function snoozeNudgeForm(d: StepUpRoutesDeps, ctx: Context): Promise<void> {
  const { http } = d;
  const posted = await signedInForm(http, ctx);
  if (!posted) return;
  const { actor, body } = posted;
  if (!http.formTokenValid(ctx, actor.session, body['_csrf'])) {
    return sendError(ctx, 403, 'invalid_csrf_token', 'This form has expired. Please try again.');
  }
  await d.flow.snoozeNudge(actor);
  http.redirect(ctx, safeReturnTo(body['return_to'], d.landing));
}

/** POST /_guard/api/step-up/start */
export function startStepUpApi(d: StepUpRoutesDeps, ctx: Context): Promise<void> {
  return answerActorCall(d.http, ctx, async (actor) => ({ body: await d.flow.start(actor) }));
}

/** POST /_guard/api/step-up/verify */
export function verifyStepUpApi(d: StepUpRoutesDeps, ctx: Context): Promise<void> {
  return answerActorCall(d.http, ctx, async (actor, body) => {
    const code = body['code'];
    if (typeof code !== 'string') throw new FlowError(400, 'invalid_code_format', 'Send {"code": "123456"} with the code as a string.');
    const { return_to: _returnTo, from: _from, retry: _retry, fresh_for_ms: _fresh, ...answer } = await d.flow.verify(actor, code);
    return { body: answer };
  });
}

/** POST /_guard/api/step-up/nudge */
export function snoozeNudgeApi(d: StepUpRoutesDeps, ctx: Context): Promise<void> {
  return answerActorCall(d.http, ctx, async (actor) => {
    await d.flow.snoozeNudge(actor);
    return { body: { status: 'snoozed' } };
  });
}
