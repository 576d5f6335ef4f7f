import type { Context } from 'koa';
import { maskEmail } from '../channels/phone.ts';
import { FlowError } from '../flows/flow-error.ts';
import type { Actor, Rotated, TwoFactorSettings } from '../flows/two-factor-settings.ts';
import { formatKeyForDisplay } from '../factors/totp.ts';
import { renderOtpHelpPage } from '../pages/otp-help-page.tsx';
import { renderRecoveryCodesPage, type RecoveryView } from '../pages/recovery-codes-page.tsx';
import { renderDisablePage, type DisableView } from '../pages/security-disable-page.tsx';
import { renderEnablePage } from '../pages/security-enable-page.tsx';
import type { EnableView } from '../pages/security-enable-view.ts';
import { renderSecurityPage } from '../pages/security-page.tsx';
import type { RememberedBrowsersSectionProps } from '../pages/remembered-browsers-section.tsx';
import type { PageMessage, PageMethod } from '../pages/security-parts.tsx';
import type { ActiveSessionsView } from '../pages/sessions-section.tsx';
import { setCookieHeader } from '../session/cookies.ts';
import type { SessionRecord } from '../session/sessions.ts';
import type { RouteDefinition } from './auth-routes.ts';
import type { GuardHttp } from './guard-http.ts';
import { flowMessage } from '../pages/flow-messages.ts';
import { acceptFlowError, sendPage, uiOf } from './respond.ts';
import type { SendView } from '../pages/send-status.tsx';
import { safeReturnTo } from './return-to.ts';

/**
 * The Login & Security pages (DESIGN §3): the same 2FA settings flows as the JSON API
 * (two-factor-routes.ts), as plain HTML forms that work without JavaScript. Each step is a POST
 * answered with a 303 to the next step's GET (Post/Redirect/Get); the step a browser is on lives in
 * the URL, and the flow, which keeps the real state server-side, refuses a step out of order. What
 * must be seen only once (the TOTP key and QR code, recovery codes) is the answer to the POST
 * itself, never something a later GET could show again. Access is decided by the enforcement point
 * (`access: 'authenticated'`); the handlers only translate between forms and the flows.
 */

export interface SecurityPagesDeps {
  readonly settings: TwoFactorSettings;
  readonly http: GuardHttp;
  /** "Active sessions" on the overview (src/server/session-routes.ts). */
  readonly activeSessions?: (ctx: Context, session: SessionRecord) => Promise<ActiveSessionsView>;
  /** The "Remembered browsers" section (remembered-browser-routes.ts); absent: not shown. */
  readonly rememberedSection?: ((ctx: Context, session: SessionRecord) => Promise<RememberedBrowsersSectionProps | undefined>) | undefined;
}

const SECURITY = '/_guard/security';
const ENABLE = '/_guard/security/enable';
const DISABLE = '/_guard/security/disable';
const RECOVERY = '/_guard/security/recovery-codes';
const HELP = '/_guard/help/otp';

const METHODS: readonly PageMethod[] = ['totp', 'sms', 'email'];
const PHONE_ERRORS = new Set(['phone_required', 'invalid_phone', 'phone_mismatch']);

type Body = Record<string, unknown>;

const one = (value: unknown): string | undefined => (typeof value === 'string' ? value : Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined);
const asMethod = (value: unknown): PageMethod | undefined => {
  const v = one(value);
  return v === 'totp' || v === 'sms' || v === 'email' ? v : undefined;
};
const asChannel = (value: unknown): 'email' | 'sms' => (one(value) === 'sms' ? 'sms' : 'email');
const parseMethods = (value: unknown): PageMethod[] => {
  const listed = (one(value) ?? '').split(',').filter((m): m is PageMethod => (METHODS as readonly string[]).includes(m));
  const unique = METHODS.filter((m) => listed.includes(m));
  return unique.length > 0 ? unique : [...METHODS];
};

export function createSecurityPages(deps: SecurityPagesDeps): RouteDefinition[] {
  const { settings, http } = deps;

  const actorOf = (ctx: Context): Actor | null => {
    const state = http.state(ctx);
    const session = state.identity.session;
    return session ? { session, client: state.client, requestId: state.requestId, userAgent: ctx.get('user-agent') || undefined } : null;
  };

  const html = sendPage;

  const setRotated = (ctx: Context, rotated: Rotated): void => {
    http.appendSetCookie(ctx, [setCookieHeader('session', rotated.cookieValue, http.cookieOptions(ctx))]);
  };

  /** Status and message of a flow error (other errors go on to the app's error handler). */
  const problem = (ctx: Context, error: unknown): { status: number; message: PageMessage; code: string } => {
    const failure = acceptFlowError(ctx, error);
    return { status: failure.status, message: { error: flowMessage(uiOf(ctx).t, failure) }, code: failure.code };
  };

  /**
   * A GET page of a flow. The enforcement point lets only signed-in browsers here; the session
   * check is for the type system (and sends anyone else to sign in rather than failing).
   */
  const page = (path: string, handler: (ctx: Context, actor: Actor) => Promise<void>): ((ctx: Context) => Promise<void>) => async (ctx) => {
    const actor = actorOf(ctx);
    if (!actor) return http.redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(path)}`);
    await handler(ctx, actor);
  };

  /**
   * A form POST: same-site only, a form body, and the form token bound to this session — checked
   * before anything else, so a forged or stale form changes nothing (403).
   */
  const formPost =
    (path: string, handler: (ctx: Context, actor: Actor, body: Body) => Promise<void>) =>
    async (ctx: Context): Promise<void> => {
      if (http.refuseCrossSite(ctx)) return;
      const read = await http.readBody(ctx, ['form']);
      if (!read) return;
      const actor = actorOf(ctx);
      if (!actor) return http.redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(path)}`);
      if (!http.formTokenValid(ctx, actor.session, read.body['_csrf'])) {
        return http.redirectWithFlash(ctx, actor.session, path, { status: 403, error: uiOf(ctx).t.forged }, '?step=restart');
      }
      await handler(ctx, actor, read.body);
    };

  /** What a code step says about sending, from the server's state on every request (never the URL). */
  const sendView = async (session: SessionRecord, step: 'identity' | 'enable' | 'disable' | 'recovery', method: PageMethod, destination: string | null, recovery: boolean): Promise<SendView | null> => {
    if (method === 'totp') return null;
    const state = await settings.sendState(session, step);
    return { method, destination, live: state.live, refused: state.refused, resendAfter: Math.ceil(state.resendInMs / 1000), recovery };
  };

  /** A send that sent nothing (budget, delivery, country): the code step's sending status tells it, with the ways that still work. */
  const sendRefused = (error: unknown): boolean =>
    error instanceof FlowError &&
    ((error.code === 'too_many_codes' && error.extra['limit'] === 'send_budget') || error.code === 'delivery_failed' || error.code === 'sms_country_not_allowed');

  /**
   * A failed or refused step: 303 to the GET page of the view it failed on, which shows the error
   * (Post/Redirect/Get), so Back and reload never resubmit the form. The view's place is in the
   * URL; the words and the status are in the signed flash.
   */
  const failTo = (ctx: Context, actor: Actor, path: string, url: string, status: number, message: PageMessage): void =>
    http.redirectWithFlash(ctx, actor.session, path, { status, error: message.error, notice: message.notice }, url.slice(path.length));

  /** What a GET page of a flow shows after a failed step: the flash's status and words, once. */
  const flashed = (ctx: Context, session: SessionRecord, path: string): { status: number; message: PageMessage } => {
    const flash = http.takeFlash(ctx, session, path);
    return { status: flash?.status ?? 200, message: { ...(flash?.error ? { error: flash.error } : {}), ...(flash?.notice ? { notice: flash.notice } : {}) } };
  };

  // ---- Login & Security ------------------------------------------------------------------------

  const notices = (ctx: Context): Readonly<Record<string, string | undefined>> => {
    const { t } = uiOf(ctx);
    return { enabled: t.noticeEnabled, codes: t.noticeCodes };
  };
  /** "2FA is off" is a warning, not a success. */
  const warnings = (ctx: Context): Readonly<Record<string, string | undefined>> => ({ disabled: uiOf(ctx).t.noticeDisabled });

  const overview: RouteDefinition = {
    path: SECURITY,
    access: 'authenticated',
    register(router) {
      router.get(
        SECURITY,
        page(SECURITY, async (ctx, actor) => {
          const status = await settings.status(actor.session.user);
          const required = status.enabled && (await settings.factorRequiredFor(actor.session, actor.requestId));
          const done = one(ctx.query['done']);
          const notice = done !== undefined ? notices(ctx)[done] : undefined;
          const warning = done !== undefined ? warnings(ctx)[done] : undefined;
          // The page's section forms (active sessions, remembered browsers) come back here with their
          // outcome in the flash (Post/Redirect/Get).
          const flash = http.takeFlash(ctx, actor.session, SECURITY);
          const activeSessions = deps.activeSessions ? await deps.activeSessions(ctx, actor.session) : undefined;
          const remembered = deps.rememberedSection ? await deps.rememberedSection(ctx, actor.session) : undefined;
          html(
            ctx,
            flash?.status ?? 200,
            renderSecurityPage(uiOf(ctx), {
              ...(activeSessions ? { activeSessions } : {}),
              csrf: http.formToken(ctx, actor.session),
              email: actor.session.user,
              enabled: status.enabled,
              method: status.method,
              destination: status.destination,
              recoveryCodesLeft: status.recoveryCodesLeft,
              ...(required ? { required } : {}),
              ...(notice ? { notice } : {}),
              ...(warning ? { warning } : {}),
              ...(flash?.notice ? { notice: flash.notice } : {}),
              ...(flash?.error ? { error: flash.error } : {}),
              ...(remembered ? { rememberedBrowsers: remembered } : {}),
            }),
          );
        }),
      );
    },
  };

  // ---- enable ------------------------------------------------------------------------------------

  const enableUrl = (query: Record<string, string | undefined>): string => {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, value);
    const text = params.toString();
    return text ? `${ENABLE}?${text}` : ENABLE;
  };

  const enablePage = async (ctx: Context, session: SessionRecord, status: number, view: EnableView, message: PageMessage = {}): Promise<void> => {
    const send =
      view.step === 'code'
        ? await sendView(session, 'identity', view.channel, view.channel === 'email' ? view.maskedEmail : null, false)
        : view.step === 'confirm'
          ? await sendView(session, 'enable', view.method, view.method === 'email' ? view.maskedEmail : null, false)
          : null;
    html(ctx, status, renderEnablePage(uiOf(ctx), { csrf: http.formToken(ctx, session), view, send, ...message }));
  };

  /** Where a failed step is shown: its own page, or "start again" when the flow lost its place or the account changed under it. */
  const enableFailure = async (ctx: Context, actor: Actor, error: unknown, view: EnableView): Promise<void> => {
    const { status, message, code } = problem(ctx, error);
    if (code === 'step_out_of_order' || code === 'account_changed' || code === 'already_enabled') return failTo(ctx, actor, ENABLE, enableUrl({ step: 'restart' }), status, message);
    // A send that sent nothing is told by the code step's sending status, not as an error line.
    const told = sendRefused(error) && (view.step === 'code' || view.step === 'confirm');
    failTo(ctx, actor, ENABLE, enableViewUrl(view), status, told ? {} : message);
  };

  /** The GET page that shows a view of the wizard (the views a failed step returns to). */
  const enableViewUrl = (view: EnableView): string => {
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
  };

  const enable: RouteDefinition = {
    path: ENABLE,
    access: 'authenticated',
    register(router) {
      router.get(
        ENABLE,
        page(ENABLE, async (ctx, actor) => {
          const phoneOnFile = one(ctx.query['sms']) === '1';
          const maskedEmail = maskEmail(actor.session.user);
          const { status: shown, message } = flashed(ctx, actor.session, ENABLE);
          const notice = { ...(one(ctx.query['sent']) === '1' ? { notice: uiOf(ctx).t.newCodeSent } : {}), ...message };
          switch (one(ctx.query['step'])) {
            case 'identity':
              return enablePage(ctx, actor.session, shown, { step: 'identity', smsOffered: phoneOnFile, maskedEmail }, message);
            case 'code':
              return enablePage(ctx, actor.session, shown, { step: 'code', channel: asChannel(ctx.query['channel']), maskedEmail, phoneOnFile }, notice);
            case 'method':
              return enablePage(ctx, actor.session, shown, { step: 'method', methods: parseMethods(ctx.query['methods']), phoneOnFile, askPhone: !phoneOnFile || one(ctx.query['phone']) === '1' }, message);
            case 'confirm':
              return enablePage(ctx, actor.session, shown, { step: 'confirm', method: asMethod(ctx.query['method']) ?? 'totp', maskedEmail, phoneOnFile }, notice);
            case 'restart': {
              const status = await settings.status(actor.session.user);
              return enablePage(ctx, actor.session, shown, { step: 'restart', alreadyEnabled: status.enabled }, message);
            }
            default: {
              const status = await settings.status(actor.session.user);
              if (status.enabled) {
                return enablePage(ctx, actor.session, shown, { step: 'restart', alreadyEnabled: true }, message.error ? message : { notice: uiOf(ctx).t.alreadyOnNotice });
              }
              // Carried by the form, remembered by its POST: a GET changes nothing (THREATS T22).
              const back = safeReturnTo(ctx.query['return_to'], '');
              return enablePage(ctx, actor.session, shown, { step: 'password', ...(back !== '' ? { returnTo: back } : {}) }, message);
            }
          }
        }),
      );

      router.post(
        ENABLE,
        formPost(
          ENABLE,
          async (ctx, actor, body) => {
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
                  return enableFailure(ctx, actor, error, { step: 'password', ...(back !== '' ? { returnTo: back } : {}) });
                }
              }

              case 'identity': {
                const channel = body['channel'];
                try {
                  const sent = await settings.enableIdentity(actor, channel);
                  return http.redirect(ctx, enableUrl({ step: 'code', channel: sent.channel, sms }));
                } catch (error) {
                  return enableFailure(ctx, actor, error, { step: 'identity', smsOffered: phoneOnFile, maskedEmail });
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
                  return enableFailure(ctx, actor, error, view);
                }
              }

              case 'method': {
                const methods = parseMethods(body['methods']);
                try {
                  const chosen = await settings.enableMethod(actor, body['method'], body['phone']);
                  if (chosen.status === 'confirm_code_required') {
                    // The key is shown in this answer only: a later GET cannot show it again.
                    return enablePage(ctx, actor.session, 200, {
                      step: 'totp',
                      key: formatKeyForDisplay(chosen.secret),
                      qrSvg: chosen.qr_svg,
                      otpauthUri: chosen.otpauth_uri,
                    });
                  }
                  return http.redirect(ctx, enableUrl({ step: 'confirm', method: chosen.method, sms }));
                } catch (error) {
                  const askPhone = !phoneOnFile || (error instanceof FlowError && PHONE_ERRORS.has(error.code));
                  return enableFailure(ctx, actor, error, { step: 'method', methods, phoneOnFile, askPhone });
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
                  setRotated(ctx, rotated);
                  const status = await settings.status(actor.session.user);
                  // The recovery codes are in this answer only, never in anything a GET can show.
                  return enablePage(ctx, rotated.session, 200, {
                    step: 'done',
                    method: result.method,
                    destination: status.destination,
                    recoveryCodes: result.recovery_codes,
                    ...(back !== null ? { back } : {}),
                  });
                } catch (error) {
                  if (error instanceof FlowError && PHONE_ERRORS.has(error.code)) {
                    return enableFailure(ctx, actor, error, { step: 'method', methods: [...METHODS], phoneOnFile, askPhone: true });
                  }
                  return enableFailure(ctx, actor, error, { step: 'confirm', method, maskedEmail, phoneOnFile });
                }
              }

              default:
                return failTo(ctx, actor, ENABLE, enableUrl({ step: 'restart' }), 400, { error: uiOf(ctx).t.notThisPage });
            }
          },
        ),
      );
    },
  };

  // ---- disable -----------------------------------------------------------------------------------

  const disablePage = async (ctx: Context, session: SessionRecord, status: number, view: DisableView, message: PageMessage = {}): Promise<void> => {
    const send = view.step === 'code' ? await sendView(session, 'disable', view.method, view.destination, (await settings.recoveryCodesLeft(session.user)) > 0) : null;
    html(ctx, status, renderDisablePage(uiOf(ctx), { csrf: http.formToken(ctx, session), view, send, ...message }));
  };

  const disableFailure = async (ctx: Context, actor: Actor, error: unknown, view: DisableView): Promise<void> => {
    const { status, message, code } = problem(ctx, error);
    // The GET page decides from the account whether 2FA is still on (the restart views).
    const url = code === 'step_out_of_order' || code === 'account_changed' || code === 'not_enabled' || view.step === 'restart' || view.step === 'password' ? DISABLE : `${DISABLE}?step=${view.step}`;
    failTo(ctx, actor, DISABLE, url, status, sendRefused(error) && view.step === 'code' ? {} : message);
  };

  /** The code view names the current method; the enrollment (not the URL) says which. */
  const disableCodeView = async (actor: Actor): Promise<DisableView> => {
    const status = await settings.status(actor.session.user);
    return status.enabled && status.method ? { step: 'code', method: status.method, destination: status.destination } : { step: 'restart', notEnabled: true };
  };

  const disable: RouteDefinition = {
    path: DISABLE,
    access: 'authenticated',
    register(router) {
      router.get(
        DISABLE,
        page(DISABLE, async (ctx, actor) => {
          const status = await settings.status(actor.session.user);
          const { status: shown, message } = flashed(ctx, actor.session, DISABLE);
          if (!status.enabled || !status.method) {
            return disablePage(ctx, actor.session, shown, { step: 'restart', notEnabled: true }, message.error ? message : { warning: uiOf(ctx).t.notOnNotice });
          }
          switch (one(ctx.query['step'])) {
            case 'code':
              return disablePage(ctx, actor.session, shown, { step: 'code', method: status.method, destination: status.destination }, message);
            case 'confirm':
              return disablePage(ctx, actor.session, shown, { step: 'confirm' }, message);
            default:
              return disablePage(ctx, actor.session, shown, { step: 'password' }, message);
          }
        }),
      );

      router.post(
        DISABLE,
        formPost(
          DISABLE,
          async (ctx, actor, body) => {
            switch (one(body['step'])) {
              case 'password':
                try {
                  await settings.disableStart(actor, body['password']);
                  return http.redirect(ctx, `${DISABLE}?step=code`);
                } catch (error) {
                  // The password passed and the flow waits for a code: a send that sent nothing
                  // leads to the code step anyway, which says so and still takes a recovery code.
                  if (sendRefused(error)) return http.redirect(ctx, `${DISABLE}?step=code`);
                  return disableFailure(ctx, actor, error, { step: 'password' });
                }
              case 'code':
                try {
                  await settings.disableVerify(actor, body['code']);
                  return http.redirect(ctx, `${DISABLE}?step=confirm`);
                } catch (error) {
                  return disableFailure(ctx, actor, error, { step: 'code', method: 'totp', destination: null });
                }
              case 'confirm':
                try {
                  const { rotated } = await settings.disableConfirm(actor);
                  setRotated(ctx, rotated);
                  return http.redirect(ctx, `${SECURITY}?done=disabled`);
                } catch (error) {
                  return disableFailure(ctx, actor, error, { step: 'confirm' });
                }
              default:
                return failTo(ctx, actor, DISABLE, DISABLE, 400, { error: uiOf(ctx).t.notThisPage });
            }
          },
        ),
      );
    },
  };

  // ---- recovery codes ----------------------------------------------------------------------------

  const recoveryPage = async (ctx: Context, session: SessionRecord, status: number, view: RecoveryView, message: PageMessage = {}): Promise<void> => {
    // New recovery codes are confirmed with the method's code only (a recovery code cannot renew itself).
    const send = view.step === 'code' ? await sendView(session, 'recovery', view.method, view.destination, false) : null;
    html(ctx, status, renderRecoveryCodesPage(uiOf(ctx), { csrf: http.formToken(ctx, session), view, send, ...message }));
  };

  const recoveryView = async (actor: Actor, step: 'start' | 'code'): Promise<RecoveryView> => {
    const status = await settings.status(actor.session.user);
    return status.enabled && status.method ? { step, method: status.method, destination: status.destination } : { step: 'restart', notEnabled: true };
  };

  const recoveryFailure = (ctx: Context, actor: Actor, error: unknown, step: 'start' | 'code'): void => {
    const { status, message, code } = problem(ctx, error);
    const restart = code === 'step_out_of_order' || code === 'account_changed' || code === 'not_enabled';
    failTo(ctx, actor, RECOVERY, !restart && step === 'code' ? `${RECOVERY}?step=code` : RECOVERY, status, sendRefused(error) && step === 'code' ? {} : message);
  };

  const recovery: RouteDefinition = {
    path: RECOVERY,
    access: 'authenticated',
    register(router) {
      router.get(
        RECOVERY,
        page(RECOVERY, async (ctx, actor) => {
          const step = one(ctx.query['step']) === 'code' ? 'code' : 'start';
          const view = await recoveryView(actor, step);
          const { t } = uiOf(ctx);
          const { status: shown, message: failed } = flashed(ctx, actor.session, RECOVERY);
          const message =
            view.step === 'restart'
              ? { warning: t.noCodesNotOn, ...failed }
              : { ...(one(ctx.query['sent']) === '1' ? { notice: t.newCodeSent } : {}), ...failed };
          await recoveryPage(ctx, actor.session, shown, view, message);
        }),
      );

      router.post(
        RECOVERY,
        formPost(
          RECOVERY,
          async (ctx, actor, body) => {
            const step = one(body['step']);
            if (step === 'start' || (step === 'code' && one(body['action']) === 'resend')) {
              try {
                await settings.recoveryStart(actor);
                return http.redirect(ctx, `${RECOVERY}?step=code${step === 'code' ? '&sent=1' : ''}`);
              } catch (error) {
                // The flow waits for a code: the code step says that none was sent, and when to ask again.
                if (sendRefused(error)) return http.redirect(ctx, `${RECOVERY}?step=code`);
                return recoveryFailure(ctx, actor, error, step);
              }
            }
            if (step === 'code') {
              try {
                const { result, rotated } = await settings.recoveryConfirm(actor, body['code']);
                // New codes end the other sessions; this browser continues under a new session id.
                setRotated(ctx, rotated);
                // Shown in this answer only.
                return recoveryPage(ctx, rotated.session, 200, { step: 'codes', recoveryCodes: result.recovery_codes });
              } catch (error) {
                return recoveryFailure(ctx, actor, error, 'code');
              }
            }
            return failTo(ctx, actor, RECOVERY, RECOVERY, 400, { error: uiOf(ctx).t.notThisPage });
          },
        ),
      );
    },
  };

  // ---- help --------------------------------------------------------------------------------------

  const help: RouteDefinition = {
    path: HELP,
    access: 'public',
    register(router) {
      router.get(HELP, (ctx) => html(ctx, 200, renderOtpHelpPage(uiOf(ctx))));
    },
  };

  return [overview, enable, disable, recovery, help];
}
