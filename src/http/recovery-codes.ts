import type { Context } from 'koa';
import type { Actor } from '../flows/two-factor-settings.ts';
import { renderRecoveryCodesPage, type RecoveryView } from '../pages/recovery-codes-page.tsx';
import type { PageMessage } from '../pages/security-parts.tsx';
import type { SessionRecord } from '../session/sessions.ts';
import { sendPage, uiOf } from './answer.ts';
import { one, setRotated } from './request.ts';
import { failTo, flashed, formPost, problem, RECOVERY, sendRefused, sendView, signedInPage, type SecurityDeps } from './security-steps.ts';

/** New recovery codes on Login & Security, confirmed with the method's code. */

async function recoveryPage(d: SecurityDeps, ctx: Context, session: SessionRecord, status: number, view: RecoveryView, message: PageMessage = {}): Promise<void> {
  // New recovery codes are confirmed with the method's code only (a recovery code cannot renew itself).
  const send = view.step === 'code' ? await sendView(d, session, 'recovery', view.method, view.destination, false) : null;
  sendPage(ctx, status, renderRecoveryCodesPage(uiOf(ctx), { csrf: d.http.formToken(ctx, session), view, send, ...message }));
}

async function recoveryView(d: SecurityDeps, actor: Actor, step: 'start' | 'code'): Promise<RecoveryView> {
  const status = await d.settings.status(actor.session.user);
  return status.enabled && status.method ? { step, method: status.method, destination: status.destination } : { step: 'restart', notEnabled: true };
}

function recoveryFailure(d: SecurityDeps, ctx: Context, actor: Actor, error: unknown, step: 'start' | 'code'): void {
  const { status, message, code } = problem(ctx, error);
  const restart = code === 'step_out_of_order' || code === 'account_changed' || code === 'not_enabled';
  failTo(d, ctx, actor, RECOVERY, !restart && step === 'code' ? `${RECOVERY}?step=code` : RECOVERY, status, sendRefused(error) && step === 'code' ? {} : message);
}

/** GET /_guard/security/recovery-codes */
export function showRecoveryCodes(d: SecurityDeps, ctx: Context): Promise<void> {
  return signedInPage(d, ctx, RECOVERY, async (actor) => {
    const step = one(ctx.query['step']) === 'code' ? 'code' : 'start';
    const view = await recoveryView(d, actor, step);
    const { t } = uiOf(ctx);
    const { status: shown, message: failed } = flashed(d, ctx, actor.session, RECOVERY);
    const message =
      view.step === 'restart'
        ? { warning: t.noCodesNotOn, ...failed }
        : { ...(one(ctx.query['sent']) === '1' ? { notice: t.newCodeSent } : {}), ...failed };
    await recoveryPage(d, ctx, actor.session, shown, view, message);
  });
}

/** POST /_guard/security/recovery-codes */
export function recoveryCodesStep(d: SecurityDeps, ctx: Context): Promise<void> {
  const { settings, http } = d;
  return formPost(d, ctx, RECOVERY, async (actor, body) => {
    const step = one(body['step']);
    if (step === 'start' || (step === 'code' && one(body['action']) === 'resend')) {
      try {
        await settings.recoveryStart(actor);
        return http.redirect(ctx, `${RECOVERY}?step=code${step === 'code' ? '&sent=1' : ''}`);
      } catch (error) {
        // The flow waits for a code: the code step says that none was sent, and when to ask again.
        if (sendRefused(error)) return http.redirect(ctx, `${RECOVERY}?step=code`);
        return recoveryFailure(d, ctx, actor, error, step);
      }
    }
    if (step === 'code') {
      try {
        const { result, rotated } = await settings.recoveryConfirm(actor, body['code']);
        // New codes end the other sessions; this browser continues under a new session id.
        setRotated(http, ctx, rotated);
        // Shown in this answer only.
        return recoveryPage(d, ctx, rotated.session, 200, { step: 'codes', recoveryCodes: result.recovery_codes });
      } catch (error) {
        return recoveryFailure(d, ctx, actor, error, 'code');
      }
    }
    return failTo(d, ctx, actor, RECOVERY, RECOVERY, 400, { error: uiOf(ctx).t.notThisPage });
  });
}
