import type { Context } from 'koa';
import { z } from 'zod';
import type { AuditRecorder } from '../audit/audit.ts';
import type { Logger } from '../observability/logger.ts';
import { cookieNameMatcher } from '../proxy/cookie-names.ts';
import { setCookieName } from '../proxy/headers.ts';
import type { LoginFlow, LoginResult, PendingLogin, Presenter } from '../flows/login.ts';
import type { UpstreamAccount } from '../flows/upstream-account.ts';
import type { Clock } from '../core/clock.ts';
import { clearCookieHeader, DEVICE_COOKIE_MAX_AGE, setCookieHeader } from '../session/cookies.ts';
import type { SessionService } from '../session/sessions.ts';
import { renderLoginPage } from '../pages/login-page.tsx';
import type { PasskeyFormView } from '../pages/passkey-parts.tsx';
import type { Contacts } from '../directory/index.ts';
import { statedLanguage } from '../alerts/language.ts';
import type { GuardHttp } from './guard-http.ts';
import { sendError, sendPage, uiOf, redirect } from './answer.ts';
import { safeReturnTo } from './return-to.ts';
import { answerHtml, answerJson } from './sign-in-answer.ts';

/**
 * Sign-in over HTTP: the sidecar's login page and JSON API, and how a sign-in's answer releases
 * the withheld upstream cookies with the new sidecar session. The code step is verify.ts, sign-out
 * sign-out.ts, the upstream's own login and logout routes intercept.ts, and the identity the
 * enforcement point consults identity.ts; they all take the one `SignIn` made here.
 */

export interface SignInOptions {
  readonly publicOrigin?: string;
  readonly landing: string;
  /** The upstream's session cookie names: withheld, bound and never taken from the client. */
  readonly upstreamCookies: readonly string[];
  /** Field names of the upstream's own login form (for intercepted posts). */
  readonly loginFields: { readonly identifier: string; readonly password: string };
  readonly accept: ReadonlyArray<'form' | 'json'>;
  readonly pendingMs: number;
}

export interface SignInDeps {
  readonly sessions: SessionService;
  readonly login: LoginFlow;
  readonly account: UpstreamAccount;
  readonly http: GuardHttp;
  readonly logger: Logger;
  readonly audit: AuditRecorder;
  readonly clock: Clock;
  readonly options: SignInOptions;
  /** Which account an upstream session is, where the directory can tell (session rotation). */
  readonly contacts?: Contacts;
  /** Max-Age (seconds) of the "remember this browser" cookie; absent: the feature is off. */
  readonly rememberMaxAge?: number | undefined;
  /** The days the code page offers to remember the browser for (with rememberMaxAge). */
  readonly rememberDays?: number | undefined;
  /**
   * The days to offer for a sign-in returning to `returnTo` on `hostname`, with the policy's
   * remember_browser applied (null: not offered); absent: rememberDays.
   */
  readonly rememberDaysFor?: ((returnTo: string, hostname: string) => number | null) | undefined;
  /** The "use a passkey" form of the code page, when this sign-in can use one (passkey-pages.ts). */
  readonly passkeyForm?: ((ctx: Context, pending: PendingLogin) => Promise<PasskeyFormView | null>) | undefined;
}

/** The sign-in deps with the upstream cookie names compiled once. */
export interface SignIn extends SignInDeps {
  readonly upstreamNames: ReadonlySet<string>;
  // Matched as upstream frameworks read names (case, and PHP's '.', ' ', '[' → '_'; THREATS T19):
  // a client's `sp.session` must not reach an upstream that takes it for `sp_session`.
  readonly isUpstreamSessionCookie: (name: string) => boolean;
}

export function signInFrom(deps: SignInDeps): SignIn {
  return { ...deps, upstreamNames: new Set(deps.options.upstreamCookies), isUpstreamSessionCookie: cookieNameMatcher(deps.options.upstreamCookies) };
}

/**
 * The identifier may come as `email`, `username` or `identifier` (one field under three names, so
 * clients of username apps need not send "email"); two different values are ambiguous and refused.
 */
const credentialsSchema = z
  .object({ email: z.string().optional(), username: z.string().optional(), identifier: z.string().optional(), password: z.string() })
  .loose()
  .transform((body, ctx) => {
    const given = [body.email, body.username, body.identifier].filter((v): v is string => v !== undefined);
    if (given.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'missing identifier' });
      return z.NEVER;
    }
    if (new Set(given).size > 1) {
      ctx.addIssue({ code: 'custom', message: 'ambiguous identifier', params: { ambiguous: true } });
      return z.NEVER;
    }
    return { ...body, email: given[0] as string };
  });
const formSchema = z
  .object({ email: z.string(), password: z.string(), return_to: z.string().optional() })
  .loose();
const isAmbiguous = (error: z.ZodError): boolean => error.issues.some((i) => i.message === 'ambiguous identifier');
export { retryAfterSeconds } from '../core/errors.ts';
export const returnQuery = (returnTo: string): string => `?return_to=${encodeURIComponent(returnTo)}`;

function loginPage(d: SignIn, ctx: Context, status: number, props: { returnTo: string; email?: string; error?: string; notice?: string }): void {
  sendPage(ctx, status, renderLoginPage(uiOf(ctx), { csrf: d.http.formToken(ctx, null), ...props }));
}

/** A refused sign-in form: 303 to the sign-in page, which shows the error (Post/Redirect/Get). */
export function loginRefused(d: SignIn, ctx: Context, status: number, props: { returnTo: string; email?: string; error: string }): void {
  d.http.redirectWithFlash(ctx, null, '/_guard/login', { status, error: props.error, email: props.email }, returnQuery(props.returnTo));
}

/** Who is presenting credentials or a code: the facts the risk engine and the device cookie need. */
export function presenter(d: SignIn, ctx: Context): Presenter {
  const { http } = d;
  return {
    client: http.state(ctx).client,
    requestId: http.state(ctx).requestId,
    userAgent: ctx.get('user-agent') || undefined,
    deviceCookie: http.cookie(ctx, 'device'),
    lang: statedLanguage(ctx.req.headers),
  };
}

export function attempt(d: SignIn, ctx: Context, email: string, password: string, returnTo: string): Promise<LoginResult> {
  return d.login.attempt({ email, password, ...presenter(d, ctx), rememberCookie: d.http.cookie(ctx, 'remember'), returnTo });
}

/** The "remember this browser" cookie a result asks for (issue 17): set, cleared, or left alone. */
function rememberCookieHeaders(d: SignIn, ctx: Context, result: { rememberCookie?: string | null }): string[] {
  const { cookieOptions } = d.http;
  if (result.rememberCookie === undefined) return [];
  if (result.rememberCookie === null) return [clearCookieHeader('remember', cookieOptions(ctx))];
  return [setCookieHeader('remember', result.rememberCookie, { ...cookieOptions(ctx), sameSite: 'lax', maxAge: d.rememberMaxAge ?? 0 })];
}

/** Releases the withheld cookies and the new sidecar session in one response. */
export function completeLogin(d: SignIn, ctx: Context, result: Extract<LoginResult, { kind: 'authenticated' }>): void {
  const { secure, cookieOptions, appendSetCookie } = d.http;
  // Decision: the upstream's session cookies stay in the sidecar's session record and never reach
  // the browser (README, Security model: Binding); its other cookies are released as they come.
  const upstreamCookies = result.upstreamSetCookies.filter((c) => !d.isUpstreamSessionCookie(setCookieName(c)));
  // Over https the released upstream cookies get Secure too: the upstream may not know it is behind TLS.
  const released = secure(ctx) ? upstreamCookies.map((c) => (/;\s*secure\s*(;|$)/i.test(c) ? c : `${c}; Secure`)) : upstreamCookies;
  appendSetCookie(ctx, [
    ...released,
    setCookieHeader('session', result.cookieValue, cookieOptions(ctx)),
    ...(result.deviceCookie ? [setCookieHeader('device', result.deviceCookie, { ...cookieOptions(ctx), maxAge: DEVICE_COOKIE_MAX_AGE })] : []),
    ...rememberCookieHeaders(d, ctx, result),
  ]);
}

/** Password accepted, code pending: the browser gets the pending login's id, nothing else. */
export function startVerification(d: SignIn, ctx: Context, result: Extract<LoginResult, { kind: 'verification_required' }>): void {
  d.http.appendSetCookie(ctx, [setCookieHeader('pending', result.pendingId, { ...d.http.cookieOptions(ctx), maxAge: Math.floor(d.options.pendingMs / 1000) }), ...rememberCookieHeaders(d, ctx, result)]);
}

/** GET /_guard/login */
export function showLogin(d: SignIn, ctx: Context): void {
  const { http, options } = d;
  const returnTo = safeReturnTo(ctx.query['return_to'], options.landing);
  if (http.state(ctx).identity.session) {
    redirect(ctx, returnTo);
    return;
  }
  const ui = uiOf(ctx);
  const loggedOut = ctx.query['logged_out'];
  const flash = http.takeFlash(ctx, null, '/_guard/login');
  loginPage(d, ctx, flash?.status ?? 200, {
    returnTo,
    ...(loggedOut === '1' ? { notice: ui.t.signedOut } : {}),
    ...(loggedOut === 'unconfirmed' ? { error: ui.t.signOutUpstreamFailed(ui.brand.product) } : {}),
    ...(flash?.error ? { error: flash.error } : {}),
    ...(flash?.email !== undefined ? { email: flash.email } : {}),
  });
}

/** POST /_guard/login: the sign-in form. */
export async function loginForm(d: SignIn, ctx: Context): Promise<void> {
  const { http, options } = d;
  if (http.refuseCrossSite(ctx)) return;
  const read = await http.readBody(ctx, ['form']);
  if (!read) return;
  const fields = read.body as Record<string, unknown>;
  // The token is checked first: a forged form gets 403 whatever else it holds or lacks.
  if (!http.formTokenValid(ctx, null, fields['_csrf'])) {
    loginRefused(d, ctx, 403, { returnTo: safeReturnTo(fields['return_to'], options.landing), error: uiOf(ctx).t.loginFormExpired });
    return;
  }
  const form = formSchema.safeParse(read.body);
  if (!form.success) {
    sendError(ctx, 400, 'bad_request', 'Email and password are required.');
    return;
  }
  const returnTo = safeReturnTo(form.data.return_to, options.landing);
  answerHtml(d, ctx, await attempt(d, ctx, form.data.email, form.data.password, returnTo), form.data.email, returnTo);
}

/** POST /_guard/api/login */
export async function loginApi(d: SignIn, ctx: Context): Promise<void> {
  const { http } = d;
  if (http.refuseCrossSite(ctx)) return;
  const read = await http.readBody(ctx, ['json']);
  if (!read) return;
  const body = credentialsSchema.safeParse(read.body);
  if (!body.success) {
    if (isAmbiguous(body.error)) sendError(ctx, 400, 'ambiguous_identifier', 'Send the account once: email, username and identifier are the same field, and they differ here.');
    else sendError(ctx, 400, 'bad_request', 'Send {"email": "...", "password": "..."} (or "username"/"identifier" in place of "email") with string values.');
    return;
  }
  answerJson(d, ctx, await attempt(d, ctx, body.data.email, body.data.password, d.options.landing));
}
