import type { Context } from 'koa';
import { FlowError } from '../flows/flow-error.ts';
import type { Actor, TwoFactorSettings } from '../flows/two-factor-settings.ts';
import { flowMessage } from '../pages/flow-messages.ts';
import { CHANGE_ACTION, renderChangePage, type ChangeView } from '../pages/security-change-page.tsx';
import type { PageMessage } from '../pages/security-parts.tsx';
import type { SendView } from '../pages/send-status.tsx';
import type { SessionRecord } from '../session/sessions.ts';
import type { GuardHttp } from './guard-http.ts';
import { acceptFlowError, sendPage, uiOf } from './answer.ts';
import { actorOf, one } from './request.ts';

/**
 * Changing the 2FA method (issue 17), as pages (`/_guard/security/change`, Post/Redirect/Get like
 * the other Login & Security pages; the JSON calls `/_guard/api/2fa/change/start|verify` are in
 * two-factor-api.ts). Both end in the enable flow's method step (`/_guard/security/enable?step=method`,
 * or `/_guard/api/2fa/enable/method` then `/enable/confirm`), whose confirm replaces the enrollment.
 */

export interface ChangeMethodDeps {
  readonly settings: TwoFactorSettings;
  readonly http: GuardHttp;
}

async function render(d: ChangeMethodDeps, ctx: Context, session: SessionRecord, status: number, view: ChangeView, message: PageMessage = {}): Promise<void> {
  let send: SendView | null = null;
  if (view.step === 'code' && view.method !== 'totp') {
    const state = await d.settings.sendState(session, 'change');
    send = { method: view.method, destination: view.destination, live: state.live, refused: state.refused, resendAfter: Math.ceil(state.resendInMs / 1000), recovery: true };
  }
  sendPage(ctx, status, renderChangePage(uiOf(ctx), { csrf: d.http.formToken(ctx, session), view, send, ...message }));
}

function fail(d: ChangeMethodDeps, ctx: Context, actor: Actor, error: unknown, step: 'password' | 'code'): void {
  const failure = acceptFlowError(ctx, error);
  const restart = failure.code === 'step_out_of_order' || failure.code === 'account_changed' || failure.code === 'not_enabled';
  d.http.redirectWithFlash(ctx, actor.session, CHANGE_ACTION, { status: failure.status, error: flowMessage(uiOf(ctx).t, failure) }, !restart && step === 'code' ? '?step=code' : '');
}

/** GET /_guard/security/change */
export async function showChangeMethod(d: ChangeMethodDeps, ctx: Context): Promise<void> {
  const { settings, http } = d;
  const actor = actorOf(http, ctx);
  if (!actor) return http.redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(CHANGE_ACTION)}`);
  const status = await settings.status(actor.session.user);
  const flash = http.takeFlash(ctx, actor.session, CHANGE_ACTION);
  const message: PageMessage = flash?.error ? { error: flash.error } : {};
  const shown = flash?.status ?? 200;
  if (!status.enabled || !status.method) return render(d, ctx, actor.session, shown, { step: 'restart', notEnabled: true }, message.error ? message : { warning: uiOf(ctx).t.notOnNotice });
  if (one(ctx.query['step']) === 'code') return render(d, ctx, actor.session, shown, { step: 'code', method: status.method, destination: status.destination }, message);
  return render(d, ctx, actor.session, shown, { step: 'password' }, message);
}

/** POST /_guard/security/change */
export async function changeMethodStep(d: ChangeMethodDeps, ctx: Context): Promise<void> {
  const { settings, http } = d;
  if (http.refuseCrossSite(ctx)) return;
  const read = await http.readBody(ctx, ['form']);
  if (!read) return;
  const actor = actorOf(http, ctx);
  if (!actor) return http.redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(CHANGE_ACTION)}`);
  if (!http.formTokenValid(ctx, actor.session, read.body['_csrf'])) {
    return http.redirectWithFlash(ctx, actor.session, CHANGE_ACTION, { status: 403, error: uiOf(ctx).t.forged });
  }
  const body = read.body;
  if (one(body['step']) === 'password') {
    try {
      await settings.changeStart(actor, body['password']);
    } catch (error) {
      const refusedSend = error instanceof FlowError && (error.code === 'too_many_codes' || error.code === 'delivery_failed');
      if (!refusedSend) return fail(d, ctx, actor, error, 'password');
    }
    return http.redirect(ctx, `${CHANGE_ACTION}?step=code`);
  }
  if (one(body['step']) === 'code') {
    try {
      const verified = await settings.changeVerify(actor, body['code']);
      const params = new URLSearchParams({ step: 'method', methods: verified.methods.join(',') });
      if (verified.phoneOnFile) params.set('sms', '1');
      return http.redirect(ctx, `/_guard/security/enable?${params.toString()}`);
    } catch (error) {
      return fail(d, ctx, actor, error, 'code');
    }
  }
  return http.redirectWithFlash(ctx, actor.session, CHANGE_ACTION, { status: 400, error: uiOf(ctx).t.notThisPage });
}
