import type { Context } from 'koa';
import { maskEmail } from '../channels/phone.ts';
import { FlowError } from '../flows/flow-error.ts';
import type { Actor } from '../flows/two-factor-settings.ts';
import { formatKeyForDisplay } from '../factors/totp/algorithm.ts';
import { renderEnablePage } from '../pages/security-enable-page.tsx';
import type { EnableView } from '../pages/security-enable-view.ts';
import type { PageMessage } from '../pages/security-parts.tsx';
import type { SessionRecord } from '../session/sessions.ts';
import { sendPage, uiOf } from './answer.ts';
import { one, setRotated } from './request.ts';
import { safeReturnTo } from './return-to.ts';
import { asChannel, asMethod, ENABLE, failTo, flashed, formPost, METHODS, parseMethods, problem, sendRefused, sendView, signedInPage, type SecurityDeps } from './security-steps.ts';

/** Turning 2FA on, as the Login & Security wizard: password, identity code, method, confirm. */

const PHONE_ERRORS = new Set(['phone_required', 'invalid_phone', 'phone_mismatch']);

function enableUrl(query: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, value);
  const text = params.toString();
  return text ? `${ENABLE}?${text}` : ENABLE;
}

async function enablePage(d: SecurityDeps, ctx: Context, session: SessionRecord, status: number, view: EnableView, message: PageMessage = {}): Promise<void> {
  const send =
    view.step === 'code'
      ? await sendView(d, session, 'identity', view.channel, view.channel === 'email' ? view.maskedEmail : null, false)
      : view.step === 'confirm'
        ? await sendView(d, session, 'enable', view.method, view.method === 'email' ? view.maskedEmail : null, false)
        : null;
  sendPage(ctx, status, renderEnablePage(uiOf(ctx), { csrf: d.http.formToken(ctx, session), view, send, ...message }));
}

/** Where a failed step is shown: its own page, or "start again" when the flow lost its place or the account changed under it. */
async function enableFailure(d: SecurityDeps, ctx: Context, actor: Actor, error: unknown, view: EnableView): Promise<void> {
  const { status, message, code } = problem(ctx, error);
  if (code === 'step_out_of_order' || code === 'account_changed' || code === 'already_enabled') return failTo(d, ctx, actor, ENABLE, enableUrl({ step: 'restart' }), status, message);
  // A send that sent nothing is told by the code step's sending status, not as an error line.
  const told = sendRefused(error) && (view.step === 'code' || view.step === 'confirm');
  failTo(d, ctx, actor, ENABLE, enableViewUrl(view), status, told ? {} : message);
}

/** The GET page that shows a view of the wizard (the views a failed step returns to). */
function enableViewUrl(view: EnableView): string {
  const sms = 'phoneOnFile' in view && view.phoneOnFile ? '1' : undefined;
  switch (view.step) {
    case 'identity':
      return enableUrl({ step: 'identity', sms: view.smsOffered ? '1' : undefined });
    case 'code':
      return enableUrl({ step: 'code', channel: view.channel, sms });
    case 'method':
      return enableUrl({ step: 'method', methods: view.methods.join(','), sms, phone: view.askPhone && view.phoneOnFile ? '1' : undefined });
    case 'confirm':
      return enableUrl({ step: 'confirm', method: view.method, sms });
    case 'password':
      return ENABLE;
    default:
      return enableUrl({ step: 'restart' });
  }
}

/** GET /_guard/security/enable: the wizard's view named by the URL. */
export function showEnable(d: SecurityDeps, ctx: Context): Promise<void> {
  const { settings } = d;
  return signedInPage(d, ctx, ENABLE, async (actor) => {
    const phoneOnFile = one(ctx.query['sms']) === '1';
    const maskedEmail = maskEmail(actor.session.user);
    const { status: shown, message } = flashed(d, ctx, actor.session, ENABLE);
    const notice = { ...(one(ctx.query['sent']) === '1' ? { notice: uiOf(ctx).t.newCodeSent } : {}), ...message };
    switch (one(ctx.query['step'])) {
      case 'identity':
        return enablePage(d, ctx, actor.session, shown, { step: 'identity', smsOffered: phoneOnFile, maskedEmail }, message);
      case 'code':
        return enablePage(d, ctx, actor.session, shown, { step: 'code', channel: asChannel(ctx.query['channel']), maskedEmail, phoneOnFile }, notice);
      case 'method':
        return enablePage(d, ctx, actor.session, shown, { step: 'method', methods: parseMethods(ctx.query['methods']), phoneOnFile, askPhone: !phoneOnFile || one(ctx.query['phone']) === '1' }, message);
      case 'confirm':
        return enablePage(d, ctx, actor.session, shown, { step: 'confirm', method: asMethod(ctx.query['method']) ?? 'totp', maskedEmail, phoneOnFile }, notice);
      case 'restart': {
        const status = await settings.status(actor.session.user);
        return enablePage(d, ctx, actor.session, shown, { step: 'restart', alreadyEnabled: status.enabled }, message);
      }
      default: {
        const status = await settings.status(actor.session.user);
        if (status.enabled) {
          return enablePage(d, ctx, actor.session, shown, { step: 'restart', alreadyEnabled: true }, message.error ? message : { notice: uiOf(ctx).t.alreadyOnNotice });
        }
        // Carried by the form, remembered by its POST: a GET changes nothing (THREATS T22).
        const back = safeReturnTo(ctx.query['return_to'], '');
        return enablePage(d, ctx, actor.session, shown, { step: 'password', ...(back !== '' ? { returnTo: back } : {}) }, message);
      }
    }
  });
}

/** POST /_guard/security/enable: one step of the wizard. */
export function enableStep(d: SecurityDeps, ctx: Context): Promise<void> {
  const { settings, http } = d;
  return formPost(d, ctx, ENABLE, async (actor, body) => {
    const phoneOnFile = one(body['sms']) === '1';
    const sms = phoneOnFile ? '1' : undefined;
    const maskedEmail = maskEmail(actor.session.user);
    const action = one(body['action']);
    switch (one(body['step'])) {
      case 'password': {
        const back = safeReturnTo(body['return_to'], '');
        try {
          const started = await settings.enableStart(actor, body['password'] ?? '');
          await settings.rememberReturn(actor.session, back !== '' ? back : null);
          return http.redirect(ctx, enableUrl({ step: 'identity', sms: started.channels.includes('sms') ? '1' : undefined }));
        } catch (error) {
          return enableFailure(d, ctx, actor, error, { step: 'password', ...(back !== '' ? { returnTo: back } : {}) });
        }
      }

      case 'identity': {
        const channel = body['channel'];
        try {
          const sent = await settings.enableIdentity(actor, channel);
          return http.redirect(ctx, enableUrl({ step: 'code', channel: sent.channel, sms }));
        } catch (error) {
          return enableFailure(d, ctx, actor, error, { step: 'identity', smsOffered: phoneOnFile, maskedEmail });
        }
      }

      case 'code': {
        const channel = asChannel(body['channel']);
        const view: EnableView = { step: 'code', channel, maskedEmail, phoneOnFile };
        try {
          if (action === 'resend') {
            await settings.enableIdentity(actor, channel);
            return http.redirect(ctx, enableUrl({ step: 'code', channel, sms, sent: '1' }));
          }
          const verified = await settings.enableIdentityVerify(actor, body['code']);
          return http.redirect(ctx, enableUrl({ step: 'method', methods: verified.methods.join(','), sms }));
        } catch (error) {
          return enableFailure(d, ctx, actor, error, view);
        }
      }

      case 'method': {
        const methods = parseMethods(body['methods']);
        try {
          const chosen = await settings.enableMethod(actor, body['method'], body['phone']);
          if (chosen.status === 'confirm_code_required') {
            // The key is shown in this answer only: a later GET cannot show it again.
            return enablePage(d, ctx, actor.session, 200, {
              step: 'totp',
              key: formatKeyForDisplay(chosen['secret'] ?? ''),
              qrSvg: chosen['qr_svg'] ?? '',
              otpauthUri: chosen['otpauth_uri'] ?? '',
            });
          }
          return http.redirect(ctx, enableUrl({ step: 'confirm', method: chosen.method, sms }));
        } catch (error) {
          const askPhone = !phoneOnFile || (error instanceof FlowError && PHONE_ERRORS.has(error.code));
          return enableFailure(d, ctx, actor, error, { step: 'method', methods, phoneOnFile, askPhone });
        }
      }

      case 'confirm': {
        const method = asMethod(body['method']) ?? 'totp';
        try {
          if (action === 'resend' && method !== 'totp') {
            await settings.enableMethod(actor, method, body['phone']);
            return http.redirect(ctx, enableUrl({ step: 'confirm', method, sms, sent: '1' }));
          }
          const back = await settings.returnOf(actor.session);
          const { result, rotated } = await settings.enableConfirm(actor, body['code']);
          setRotated(http, ctx, rotated);
          const status = await settings.status(actor.session.user);
          // The recovery codes are in this answer only, never in anything a GET can show.
          return enablePage(d, ctx, rotated.session, 200, {
            step: 'done',
            method: result.method,
            destination: status.destination,
            recoveryCodes: result.recovery_codes,
            ...(back !== null ? { back } : {}),
          });
        } catch (error) {
          if (error instanceof FlowError && PHONE_ERRORS.has(error.code)) {
            return enableFailure(d, ctx, actor, error, { step: 'method', methods: [...METHODS], phoneOnFile, askPhone: true });
          }
          return enableFailure(d, ctx, actor, error, { step: 'confirm', method, maskedEmail, phoneOnFile });
        }
      }

      default:
        return failTo(d, ctx, actor, ENABLE, enableUrl({ step: 'restart' }), 400, { error: uiOf(ctx).t.notThisPage });
    }
  });
}
