import type { Context } from 'koa';
import type { Actor } from '../flows/two-factor-settings.ts';
import { renderDisablePage, type DisableView } from '../pages/security-disable-page.tsx';
import type { PageMessage } from '../pages/security-parts.tsx';
import type { SessionRecord } from '../session/sessions.ts';
import { sendPage, uiOf } from './answer.ts';
import { one, setRotated } from './request.ts';
import { DISABLE, failTo, flashed, formPost, problem, SECURITY, sendRefused, sendView, signedInPage, type SecurityDeps } from './security-steps.ts';

/** Turning 2FA off on Login & Security: password, a code (or a recovery code), confirm. */

async function disablePage(d: SecurityDeps, ctx: Context, session: SessionRecord, status: number, view: DisableView, message: PageMessage = {}): Promise<void> {
  const send = view.step === 'code' ? await sendView(d, session, 'disable', view.method, view.destination, (await d.settings.recoveryCodesLeft(session.user)) > 0) : null;
  sendPage(ctx, status, renderDisablePage(uiOf(ctx), { csrf: d.http.formToken(ctx, session), view, send, ...message }));
}

async function disableFailure(d: SecurityDeps, ctx: Context, actor: Actor, error: unknown, view: DisableView): Promise<void> {
  const { status, message, code } = problem(ctx, error);
  // The GET page decides from the account whether 2FA is still on (the restart views).
  const url = code === 'step_out_of_order' || code === 'account_changed' || code === 'not_enabled' || view.step === 'restart' || view.step === 'password' ? DISABLE : `${DISABLE}?step=${view.step}`;
  failTo(d, ctx, actor, DISABLE, url, status, sendRefused(error) && view.step === 'code' ? {} : message);
}

/** GET /_guard/security/disable */
export function showDisable(d: SecurityDeps, ctx: Context): Promise<void> {
  const { settings } = d;
  return signedInPage(d, ctx, DISABLE, async (actor) => {
    const status = await settings.status(actor.session.user);
    const { status: shown, message } = flashed(d, ctx, actor.session, DISABLE);
    if (!status.enabled || !status.method) {
      return disablePage(d, ctx, actor.session, shown, { step: 'restart', notEnabled: true }, message.error ? message : { warning: uiOf(ctx).t.notOnNotice });
    }
    switch (one(ctx.query['step'])) {
      case 'code':
        return disablePage(d, ctx, actor.session, shown, { step: 'code', method: status.method, destination: status.destination }, message);
      case 'confirm':
        return disablePage(d, ctx, actor.session, shown, { step: 'confirm' }, message);
      default:
        return disablePage(d, ctx, actor.session, shown, { step: 'password' }, message);
    }
  });
}

/** POST /_guard/security/disable: one step. */
export function disableStep(d: SecurityDeps, ctx: Context): Promise<void> {
  const { settings, http } = d;
  return formPost(d, ctx, DISABLE, async (actor, body) => {
    switch (one(body['step'])) {
      case 'password':
        try {
          await settings.disableStart(actor, body['password']);
          return http.redirect(ctx, `${DISABLE}?step=code`);
        } catch (error) {
          // The password passed and the flow waits for a code: a send that sent nothing
          // leads to the code step anyway, which says so and still takes a recovery code.
          if (sendRefused(error)) return http.redirect(ctx, `${DISABLE}?step=code`);
          return disableFailure(d, ctx, actor, error, { step: 'password' });
        }
      case 'code':
        try {
          await settings.disableVerify(actor, body['code']);
          return http.redirect(ctx, `${DISABLE}?step=confirm`);
        } catch (error) {
          return disableFailure(d, ctx, actor, error, { step: 'code', method: 'totp', destination: null });
        }
      case 'confirm':
        try {
          const { rotated } = await settings.disableConfirm(actor);
          setRotated(http, ctx, rotated);
          return http.redirect(ctx, `${SECURITY}?done=disabled`);
        } catch (error) {
          return disableFailure(d, ctx, actor, error, { step: 'confirm' });
        }
      default:
        return failTo(d, ctx, actor, DISABLE, DISABLE, 400, { error: uiOf(ctx).t.notThisPage });
    }
  });
}
