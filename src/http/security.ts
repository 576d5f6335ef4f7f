import type { Context } from 'koa';
import { renderOtpHelpPage } from '../pages/otp-help-page.tsx';
import { renderSecurityPage } from '../pages/security-page.tsx';
import { sendPage, uiOf } from './answer.ts';
import { one } from './request.ts';
import { SECURITY, signedInPage, type SecurityDeps } from './security-steps.ts';

/** The Login & Security overview (DESIGN §3), and the help page about one-time codes. */

const notices = (ctx: Context): Readonly<Record<string, string | undefined>> => {
  const { t } = uiOf(ctx);
  return { enabled: t.noticeEnabled, codes: t.noticeCodes };
};
/** "2FA is off" is a warning, not a success. */
const warnings = (ctx: Context): Readonly<Record<string, string | undefined>> => ({ disabled: uiOf(ctx).t.noticeDisabled });

/** GET /_guard/security */
export function showSecurity(d: SecurityDeps, ctx: Context): Promise<void> {
  const { settings, http } = d;
  return signedInPage(d, ctx, SECURITY, async (actor) => {
    const status = await settings.status(actor.session.user);
    const required = status.enabled && (await settings.factorRequiredFor(actor.session, actor.requestId));
    const done = one(ctx.query['done']);
    const notice = done !== undefined ? notices(ctx)[done] : undefined;
    const warning = done !== undefined ? warnings(ctx)[done] : undefined;
    // The page's section forms (active sessions, remembered browsers) come back here with their
    // outcome in the flash (Post/Redirect/Get).
    const flash = http.takeFlash(ctx, actor.session, SECURITY);
    const activeSessions = d.activeSessions ? await d.activeSessions(ctx, actor.session) : undefined;
    const remembered = d.rememberedSection ? await d.rememberedSection(ctx, actor.session) : undefined;
    sendPage(
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
  });
}

/** GET /_guard/help/otp */
export function showOtpHelp(_d: unknown, ctx: Context): void {
  sendPage(ctx, 200, renderOtpHelpPage(uiOf(ctx)));
}
