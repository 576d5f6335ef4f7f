import type { Context } from 'koa';
import type { LoginFlow, LoginResult, LoginVerifyResult, PendingLogin } from '../flows/login.ts';
import { maskDestination } from '../flows/second-factor.ts';
import { clearCookieHeader } from '../session/cookies.ts';
import { renderVerifyPage } from '../pages/verify-page.tsx';
import { sendError, sendFlowError, sendPage, setOwnResponseHeaders, uiOf } from './answer.ts';
import { loginCodeRefusal, sendRefusal } from '../flows/code-refusals.ts';
import { safeReturnTo } from './return-to.ts';
import { completeLogin, loginRefused, presenter, retryAfterSeconds, returnQuery, type SignIn } from './sign-in.ts';

/**
 * The second step of a sign-in: the code page and its form, the JSON verify and resend calls, and
 * what every way of finishing a pending sign-in shares (passkeys finish it too, passkey-*.ts).
 */

const ACCOUNT_CHANGED =
  "Your account's sign-in settings changed while you were signing in (two-factor authentication, where codes are sent, or a lock-out), so this sign-in has ended. Sign in again.";

/** A failed or refused code form: 303 back to the code page, which shows the error. */
function verifyRefused(d: SignIn, ctx: Context, status: number, returnTo: string, message: { error?: string | undefined; notice?: string | undefined }): void {
  d.http.redirectWithFlash(ctx, null, '/_guard/verify', { status, ...message }, returnQuery(returnTo));
}

/** The days the code page offers for this sign-in (policy remember_browser applied); undefined: not offered. */
function offeredDays(d: SignIn, ctx: Context, returnTo: string): number | undefined {
  if (d.rememberDays === undefined) return undefined;
  if (!d.rememberDaysFor) return d.rememberDays;
  return d.rememberDaysFor(returnTo, d.http.state(ctx).client.hostname) ?? undefined;
}

/** A pending sign-in verified (by code or passkey): the pending cookie goes, the session comes. */
export function finishSignIn(d: SignIn, ctx: Context, result: Extract<LoginResult, { kind: 'authenticated' }>): void {
  d.http.appendSetCookie(ctx, [clearCookieHeader('pending', d.http.cookieOptions(ctx))]);
  completeLogin(d, ctx, result);
}

/** The code page, saying what the server knows about sending now (never what the URL says). */
async function verifyPage(
  d: SignIn,
  ctx: Context,
  status: number,
  pending: PendingLogin,
  returnTo: string,
  message: { error?: string | undefined; notice?: string | undefined },
): Promise<void> {
  const { send, recovery } = await d.login.sendState(pending);
  const passkey = d.passkeyForm ? await d.passkeyForm(ctx, pending) : null;
  const { t } = uiOf(ctx);
  const notice = message.notice;
  // Why a sign-in without 2FA asks for a code (a warning); "we sent" only when a code can be entered.
  const riskWarning = pending.reason === 'risk' ? (send?.live ? t.riskNotice : t.riskNoticeNoSend) : undefined;
  const method = pending.method;
  const view =
    send !== null && method !== 'totp'
      ? { method, destination: maskDestination(method, pending.destination), live: send.live, refused: send.refused, resendAfter: Math.ceil(send.resendInMs / 1000), recovery }
      : null;
  sendPage(
    ctx,
    status,
    renderVerifyPage(uiOf(ctx), {
      csrf: d.http.formToken(ctx, null),
      method: pending.method,
      destination: maskDestination(pending.method, pending.destination),
      // A sign-in that asks for a code only because it looks risky belongs to an account without
      // 2FA: it has no recovery codes, and the page does not offer them.
      twoFactor: pending.factors !== null,
      passkey,
      ...(riskWarning ? { warning: riskWarning } : {}),
      returnTo,
      send: view,
      recovery,
      ...(pending.reason === '2fa' && offeredDays(d, ctx, returnTo) !== undefined ? { rememberDays: offeredDays(d, ctx, returnTo) } : {}),
      ...(message.error ? { error: message.error } : {}),
      ...(notice ? { notice } : {}),
      ...(view !== null && view.resendAfter > 0 ? { resendAfter: view.resendAfter } : {}),
    }),
  );
}

/**
 * The account's factors, destination or lock state changed while this sign-in waited for its
 * code (THREATS T18): the sign-in has ended; the page says why and offers a new one.
 */
export function accountChangedPage(d: SignIn, ctx: Context, returnTo: string): void {
  d.http.appendSetCookie(ctx, [clearCookieHeader('pending', d.http.cookieOptions(ctx))]);
  loginRefused(d, ctx, 409, { returnTo, error: uiOf(ctx).t.loginAccountChanged });
}
export function accountChangedJson(d: SignIn, ctx: Context): void {
  d.http.appendSetCookie(ctx, [clearCookieHeader('pending', d.http.cookieOptions(ctx))]);
  sendError(ctx, 409, 'account_changed', ACCOUNT_CHANGED, { login_url: '/_guard/login' });
}

// An account without 2FA (a risk-only email code) has no recovery codes: its words never offer one.
function verifyProblem(ctx: Context, result: Exclude<LoginVerifyResult, { kind: 'authenticated' | 'no_pending_login' | 'account_changed' }>, twoFactor: boolean): [number, string] {
  const { t } = uiOf(ctx);
  switch (result.kind) {
    case 'invalid_code':
      return [401, t.codeWrong(result.attemptsLeft)];
    case 'code_expired':
      return [410, t.codeExpired];
    case 'malformed':
      return [400, twoFactor ? t.codeMalformed : t.codeDigitsOnly];
    case 'too_many_attempts':
      return [429, t.tooManyCodes];
  }
}

function resendProblem(ctx: Context, sent: Exclude<Awaited<ReturnType<LoginFlow['resend']>>, { ok: true }>, twoFactor: boolean): string {
  const { t } = uiOf(ctx);
  switch (sent.reason) {
    case 'cooldown':
    case 'budget':
      return t.resendWait(retryAfterSeconds(sent.retryAfterMs));
    case 'delivery':
      return twoFactor ? t.deliveryFailed : t.deliveryFailedNoRecovery;
    case 'country':
      return t.smsCountryBlocked;
    case 'not_applicable':
      return t.nothingToSend;
    case 'no_pending_login':
      return uiOf(ctx).brand.identifier === 'username' ? t.loginExpiredUsername : t.loginExpired;
    case 'account_changed':
      return t.loginAccountChanged;
  }
}

/** GET /_guard/verify */
export async function showVerify(d: SignIn, ctx: Context): Promise<void> {
  const { http } = d;
  const returnTo = safeReturnTo(ctx.query['return_to'], d.options.landing);
  const found = await d.login.lookup(http.cookie(ctx, 'pending'), presenter(d, ctx));
  if (found.kind === 'account_changed') return accountChangedPage(d, ctx, returnTo);
  if (found.kind === 'no_pending_login') return http.redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(returnTo)}`);
  const flash = http.takeFlash(ctx, null, '/_guard/verify');
  await verifyPage(d, ctx, flash?.status ?? 200, found.pending, returnTo, { error: flash?.error, notice: flash?.notice });
}

/** POST /_guard/verify: a code, or "send a new code". */
export async function verifyForm(d: SignIn, ctx: Context): Promise<void> {
  const { http } = d;
  if (http.refuseCrossSite(ctx)) return;
  const read = await http.readBody(ctx, ['form']);
  if (!read) return;
  const returnTo = safeReturnTo(read.body['return_to'], d.options.landing);
  const found = await d.login.lookup(http.cookie(ctx, 'pending'), presenter(d, ctx));
  if (found.kind === 'account_changed') return accountChangedPage(d, ctx, returnTo);
  if (found.kind === 'no_pending_login') return http.redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(returnTo)}`);
  if (!http.formTokenValid(ctx, null, read.body['_csrf'])) return verifyRefused(d, ctx, 403, returnTo, { error: uiOf(ctx).t.formExpired });
  if (read.body['action'] === 'resend') {
    const sent = await d.login.resend(http.cookie(ctx, 'pending'), presenter(d, ctx));
    if (!sent.ok && sent.reason === 'account_changed') return accountChangedPage(d, ctx, returnTo);
    const notice = sent.ok ? uiOf(ctx).t.newCodeSent : undefined;
    // A refused send (budget, delivery, country) is told by the page's sending status.
    const told = !sent.ok && (sent.reason === 'budget' || sent.reason === 'delivery' || sent.reason === 'country');
    const error = sent.ok || told ? undefined : resendProblem(ctx, sent, found.pending.factors !== null);
    return verifyRefused(d, ctx, sent.ok ? 200 : 429, returnTo, { notice, error });
  }
  const remember = d.rememberMaxAge !== undefined && read.body['remember'] !== undefined && read.body['remember'] !== '';
  const result = await d.login.verify(http.cookie(ctx, 'pending'), read.body['code'], presenter(d, ctx), { remember, returnTo });
  if (result.kind === 'authenticated') {
    finishSignIn(d, ctx, result);
    return http.redirect(ctx, returnTo);
  }
  if (result.kind === 'no_pending_login') return http.redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(returnTo)}`);
  if (result.kind === 'account_changed') return accountChangedPage(d, ctx, returnTo);
  const [status, error] = verifyProblem(ctx, result, found.pending.factors !== null);
  verifyRefused(d, ctx, status, returnTo, { error });
}

/** The pending sign-in is gone (expired, or never was): start again. */
export function signInExpired(ctx: Context): void {
  sendError(ctx, 410, 'code_expired', 'This sign-in has expired. Start again with your email and password.', { login_url: '/_guard/login' });
}

/** POST /_guard/api/login/verify */
export async function verifyApi(d: SignIn, ctx: Context): Promise<void> {
  const { http } = d;
  const body = await http.readJsonCall(ctx);
  if (body === null) return;
  const code = body['code'];
  if (typeof code !== 'string') {
    sendError(ctx, 400, 'invalid_code_format', 'Send {"code": "123456"} with the code as a string.');
    return;
  }
  const remember = body['remember'];
  if (remember !== undefined && typeof remember !== 'boolean') {
    sendError(ctx, 400, 'invalid_remember', 'Send "remember" as true or false (or leave it out).');
    return;
  }
  const result = await d.login.verify(http.cookie(ctx, 'pending'), code, presenter(d, ctx), { remember: remember === true && d.rememberMaxAge !== undefined, returnTo: d.options.landing });
  setOwnResponseHeaders(ctx);
  switch (result.kind) {
    case 'authenticated':
      finishSignIn(d, ctx, result);
      ctx.body = { status: 'authenticated' };
      return;
    case 'invalid_code':
    case 'code_expired':
    case 'malformed':
    case 'too_many_attempts':
      sendFlowError(ctx, loginCodeRefusal(result));
      return;
    case 'no_pending_login':
      signInExpired(ctx);
      return;
    case 'account_changed':
      accountChangedJson(d, ctx);
      return;
  }
}

/** POST /_guard/api/login/resend */
export async function resendApi(d: SignIn, ctx: Context): Promise<void> {
  const { http } = d;
  if ((await http.readJsonCall(ctx)) === null) return;
  const sent = await d.login.resend(http.cookie(ctx, 'pending'), presenter(d, ctx));
  setOwnResponseHeaders(ctx);
  if (sent.ok) {
    ctx.body = { status: 'sent', destination: sent.destination, resend_after: retryAfterSeconds(sent.resendInMs) };
    return;
  }
  switch (sent.reason) {
    case 'no_pending_login':
      signInExpired(ctx);
      return;
    case 'account_changed':
      accountChangedJson(d, ctx);
      return;
    case 'not_applicable':
      sendError(ctx, 400, 'not_applicable', 'Your authenticator app shows the code; nothing is sent.');
      return;
    default:
      sendFlowError(ctx, sendRefusal(sent));
      return;
  }
}
