import { LRUCache } from 'lru-cache';
import type { AuditRecorder } from '../audit/audit.ts';
import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import type Router from '@koa/router';
import { z } from 'zod';
import type { Logger } from '../observability/logger.ts';
import type { ClientFacts } from '../proxy/client-address.ts';
import { filterCookieHeader, setCookieName } from '../proxy/headers.ts';
import { cookieNameMatcher, mayMentionCookie } from '../proxy/cookie-names.ts';
import type { CanonicalTarget } from '../proxy/canonical-target.ts';
import type { InterceptKind } from '../policy/types.ts';
import type { LoginFlow, LoginResult, LoginVerifyResult, PendingLogin, Presenter } from '../flows/login.ts';
import { maskDestination, type SendResult } from '../flows/second-factor.ts';
import type { LogoutResult, ReplayContext, UpstreamAccount } from '../flows/upstream-account.ts';
import { readSetCookie } from '../flows/login-answer.ts';
import { loginCodeRefusal, sendRefusal } from '../flows/code-refusals.ts';
import { retryAfterSeconds } from '../core/errors.ts';
import type { Clock } from '../core/clock.ts';
import type { SessionRecord } from '../session/sessions.ts';
import { clearCookieHeader, cookieName, DEVICE_COOKIE_MAX_AGE, isOwnCookie, readCookies, setCookieHeader } from '../session/cookies.ts';
import type { SessionService } from '../session/sessions.ts';
import { boundCookiePairs } from '../session/sessions.ts';
import { renderLoginPage } from '../pages/login-page.tsx';
import { renderLogoutPage } from '../pages/logout-page.tsx';
import { renderVerifyPage } from '../pages/verify-page.tsx';
import type { PasskeyFormView } from '../pages/passkey-parts.tsx';
import { sendError, sendFlowError, sendPage, setOwnResponseHeaders, uiOf, wantsHtml } from './respond.ts';
import { safeReturnTo } from './return-to.ts';
import type { GuardRoute } from './enforce.ts';
import type { GuardState, Identity, IdentityResolver, InterceptHandler } from './app.ts';
import type { GuardHttp } from './guard-http.ts';
import type { Contacts } from '../directory/index.ts';
import { statedLanguage } from '../alerts/language.ts';

/**
 * Sign-in and sign-out over HTTP: the sidecar's login and verification pages and JSON API, the
 * upstream's own login and logout routes taken over (so old forms and bookmarks take the same
 * path), the identity resolver the enforcement point consults, and the upstream cookie binding.
 */

export interface AuthOptions {
  readonly publicOrigin?: string;
  readonly landing: string;
  /** The upstream's session cookie names: withheld, bound and never taken from the client. */
  readonly upstreamCookies: readonly string[];
  /** Field names of the upstream's own login form (for intercepted posts). */
  readonly loginFields: { readonly identifier: string; readonly password: string };
  readonly accept: ReadonlyArray<'form' | 'json'>;
  readonly pendingMs: number;
}

export interface AuthDeps {
  readonly sessions: SessionService;
  readonly login: LoginFlow;
  readonly account: UpstreamAccount;
  readonly http: GuardHttp;
  readonly logger: Logger;
  readonly audit: AuditRecorder;
  readonly clock: Clock;
  readonly options: AuthOptions;
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
  /** The "use a passkey" form of the code page, when this sign-in can use one (src/server/passkey-pages.ts). */
  readonly passkeyForm?: ((ctx: Context, pending: PendingLogin) => Promise<PasskeyFormView | null>) | undefined;
}

export type RouteDefinition = GuardRoute & { register(router: Router): void };

const ANONYMOUS: Identity = { user: { authenticated: false }, session: null };
/** The JSON API's words follow login.identifier and product.name, like the pages'. */
const genericFailure = (ctx: Context): string => (uiOf(ctx).brand.identifier === 'username' ? 'The username or password is not correct.' : 'The email or password is not correct.');
const unavailable = (ctx: Context): string => `Signing in is not possible right now because ${uiOf(ctx).brand.product} cannot be reached. Please try again in a moment.`;
const NO_EMAIL =
  'This sign-in needs a confirmation code by email, but no email address is known for your account, so none was sent. Contact your administrator to add one.';
const NO_EMAIL_LOOKUP = 'This sign-in needs a confirmation code by email, but your email address cannot be looked up right now, so none was sent. Please try again in a moment.';
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
const ACCOUNT_CHANGED =
  "Your account's sign-in settings changed while you were signing in (two-factor authentication, where codes are sent, or a lock-out), so this sign-in has ended. Sign in again.";

/** What the passkey sign-in routes borrow from the code routes (src/server/passkey-routes.ts). */
export interface SignInHelpers {
  presenter(ctx: Context): Presenter;
  complete(ctx: Context, result: Extract<LoginResult, { kind: 'authenticated' }>): void;
  accountChangedJson(ctx: Context): void;
  accountChangedPage(ctx: Context, returnTo: string): void;
}

export function createAuth(deps: AuthDeps): { identity: IdentityResolver; intercept: InterceptHandler; routes: RouteDefinition[]; signIn: SignInHelpers } {

  const { sessions, options, logger, http } = deps;
  const { state, secure, cookieOptions, appendSetCookie, refuseCrossSite, readBody, redirect } = http;
  const upstreamNames = new Set(options.upstreamCookies);
  // Matched as upstream frameworks read names (case, and PHP's '.', ' ', '[' → '_'; THREATS T19):
  // a client's `sp.session` must not reach an upstream that takes it for `sp_session`.
  const isUpstreamSessionCookie = cookieNameMatcher(options.upstreamCookies);
  const mentionsUpstreamCookie = mayMentionCookie(options.upstreamCookies);
  // Decision: the upstream's session cookies stay in the sidecar's session record and never reach
  // the browser (README, Security model: Binding); its other cookies are released as they come.
  const forBrowser = (setCookies: readonly string[]): string[] => setCookies.filter((c) => !isUpstreamSessionCookie(setCookieName(c)));

  const loginPage = (ctx: Context, status: number, props: { returnTo: string; email?: string; error?: string; notice?: string }): void => {
    sendPage(ctx, status, renderLoginPage(uiOf(ctx), { csrf: http.formToken(ctx, null), ...props }));
  };
  const returnQuery = (returnTo: string): string => `?return_to=${encodeURIComponent(returnTo)}`;
  /** A refused sign-in form: 303 to the sign-in page, which shows the error (Post/Redirect/Get). */
  const loginRefused = (ctx: Context, status: number, props: { returnTo: string; email?: string; error: string }): void => {
    http.redirectWithFlash(ctx, null, '/_guard/login', { status, error: props.error, email: props.email }, returnQuery(props.returnTo));
  };
  /** A failed or refused code form: 303 back to the code page, which shows the error. */
  const verifyRefused = (ctx: Context, status: number, returnTo: string, message: { error?: string | undefined; notice?: string | undefined }): void => {
    http.redirectWithFlash(ctx, null, '/_guard/verify', { status, ...message }, returnQuery(returnTo));
  };

  /** Who is presenting credentials or a code: the facts the risk engine and the device cookie need. */
  const presenter = (ctx: Context): Presenter => ({
    client: state(ctx).client,
    requestId: state(ctx).requestId,
    userAgent: ctx.get('user-agent') || undefined,
    deviceCookie: http.cookie(ctx, 'device'),
    lang: statedLanguage(ctx.req.headers),
  });

  const attempt = (ctx: Context, email: string, password: string, returnTo: string): Promise<LoginResult> =>
    deps.login.attempt({ email, password, ...presenter(ctx), rememberCookie: http.cookie(ctx, 'remember'), returnTo });

  /** The days the code page offers for this sign-in (policy remember_browser applied); undefined: not offered. */
  const offeredDays = (ctx: Context, returnTo: string): number | undefined => {
    if (deps.rememberDays === undefined) return undefined;
    if (!deps.rememberDaysFor) return deps.rememberDays;
    return deps.rememberDaysFor(returnTo, state(ctx).client.hostname) ?? undefined;
  };

  /** The "remember this browser" cookie a result asks for (issue 17): set, cleared, or left alone. */
  const rememberCookieHeaders = (ctx: Context, result: { rememberCookie?: string | null }): string[] => {
    if (result.rememberCookie === undefined) return [];
    if (result.rememberCookie === null) return [clearCookieHeader('remember', cookieOptions(ctx))];
    return [setCookieHeader('remember', result.rememberCookie, { ...cookieOptions(ctx), sameSite: 'lax', maxAge: deps.rememberMaxAge ?? 0 })];
  };

  /** Releases the withheld cookies and the new sidecar session in one response. */
  const completeLogin = (ctx: Context, result: Extract<LoginResult, { kind: 'authenticated' }>): void => {
    // Over https the released upstream cookies get Secure too: the upstream may not know it is behind TLS.
    const upstreamCookies = forBrowser(result.upstreamSetCookies);
    const released = secure(ctx) ? upstreamCookies.map((c) => (/;\s*secure\s*(;|$)/i.test(c) ? c : `${c}; Secure`)) : upstreamCookies;
    appendSetCookie(ctx, [
      ...released,
      setCookieHeader('session', result.cookieValue, cookieOptions(ctx)),
      ...(result.deviceCookie ? [setCookieHeader('device', result.deviceCookie, { ...cookieOptions(ctx), maxAge: DEVICE_COOKIE_MAX_AGE })] : []),
      ...rememberCookieHeaders(ctx, result),
    ]);
  };

  /** Password accepted, code pending: the browser gets the pending login's id, nothing else. */
  const startVerification = (ctx: Context, result: Extract<LoginResult, { kind: 'verification_required' }>): void => {
    appendSetCookie(ctx, [setCookieHeader('pending', result.pendingId, { ...cookieOptions(ctx), maxAge: Math.floor(options.pendingMs / 1000) }), ...rememberCookieHeaders(ctx, result)]);
  };

  const sendProblem = (send: SendResult | null): string | undefined => {
    if (!send || send.ok) return undefined;
    switch (send.reason) {
      case 'delivery':
        return send.message;
      case 'country':
        return 'Text messages cannot be sent to your phone number. Use a recovery code, or contact support.';
      case 'cooldown':
      case 'budget':
        return `Too many codes were sent recently. Ask for a new code in ${Math.ceil(send.retryAfterMs / 60_000)} minute(s), or use a recovery code.`;
    }
  };

  const answerJson = (ctx: Context, result: LoginResult): void => {
    setOwnResponseHeaders(ctx);
    switch (result.kind) {
      case 'authenticated':
        completeLogin(ctx, result);
        ctx.status = 200;
        ctx.body = { status: 'authenticated' };
        return;
      case 'verification_required': {
        startVerification(ctx, result);
        ctx.status = 200;
        const problem = sendProblem(result.send);
        ctx.body = {
          status: 'verification_required',
          reason: result.reason,
          method: result.method,
          destination: result.destination,
          ...(result.send?.ok ? { resend_after: retryAfterSeconds(result.send.resendInMs) } : {}),
          ...(problem ? { delivery_error: problem } : {}),
        };
        return;
      }
      case 'invalid_credentials': {
        // Counted the same whether the account exists or not, so the warning says nothing about it.
        const paused = result.lockedForMs !== null ? { retry_after: retryAfterSeconds(result.lockedForMs) } : {};
        const left = Math.max(0, result.attemptsLeft);
        const warning =
          result.lockedForMs !== null
            ? ` Sign-in from this device or network is now paused for ${Math.ceil(result.lockedForMs / 60_000)} minute(s); your other devices are not paused.`
            : left > 0 && left <= 2
              ? ` ${left} attempt${left === 1 ? '' : 's'} left before sign-in from this device or network is paused.`
              : '';
        sendError(ctx, 401, 'invalid_credentials', `${genericFailure(ctx)}${warning}`, { attempts_left: left, ...paused });
        return;
      }
      case 'too_many_attempts': {
        const seconds = retryAfterSeconds(result.retryAfterMs);
        ctx.set('Retry-After', String(seconds));
        const message =
          result.subject === 'throttle'
            ? 'Many failed sign-in attempts were made on this account, so signing in is slowed down. Try again in a few seconds.'
            : 'Too many failed sign-in attempts from this device or network. Try again later.';
        sendError(ctx, 429, 'too_many_attempts', message, { retry_after: seconds });
        return;
      }
      case 'unavailable':
        sendError(ctx, 503, 'login_unavailable', unavailable(ctx));
        return;
      case 'upstream_error': {
        const ui = uiOf(ctx);
        sendError(ctx, 502, 'upstream_error', ui.t.loginUpstreamError(ui.brand.product));
        return;
      }
      case 'no_email':
        if (result.lookupFailed) sendError(ctx, 503, 'directory_unavailable', NO_EMAIL_LOOKUP);
        else sendError(ctx, 403, 'no_email_on_file', NO_EMAIL);
        return;
    }
  };

  const answerHtml = (ctx: Context, result: LoginResult, email: string, returnTo: string): void => {
    switch (result.kind) {
      case 'authenticated':
        completeLogin(ctx, result);
        setOwnResponseHeaders(ctx);
        ctx.status = 303;
        ctx.redirect(returnTo);
        return;
      case 'verification_required':
        startVerification(ctx, result);
        // The code page reads the send's state from the server (no `wait=` that a reload would restart).
        redirect(ctx, `/_guard/verify?return_to=${encodeURIComponent(returnTo)}`);
        return;
      case 'invalid_credentials': {
        const { t, brand } = uiOf(ctx);
        const usernames = brand.identifier === 'username';
        const error =
          result.lockedForMs !== null
            ? t.loginPausedHere(Math.ceil(result.lockedForMs / 60_000), usernames)
            : result.attemptsLeft > 0 && result.attemptsLeft <= 2
              ? t.loginAttemptsLeft(result.attemptsLeft, usernames)
              : usernames
                ? t.loginFailedUsername
                : t.loginFailed;
        loginRefused(ctx, 401, { returnTo, email, error });
        return;
      }
      case 'too_many_attempts': {
        const { t } = uiOf(ctx);
        ctx.set('Retry-After', String(retryAfterSeconds(result.retryAfterMs)));
        const error = result.subject === 'throttle' ? t.loginSlowed(retryAfterSeconds(result.retryAfterMs)) : t.loginLocked(Math.ceil(result.retryAfterMs / 60_000));
        loginRefused(ctx, 429, { returnTo, email, error });
        return;
      }
      case 'unavailable': {
        const ui = uiOf(ctx);
        loginRefused(ctx, 503, { returnTo, email, error: ui.t.loginUnavailable(ui.brand.product) });
        return;
      }
      case 'upstream_error': {
        const ui = uiOf(ctx);
        loginRefused(ctx, 502, { returnTo, email, error: ui.t.loginUpstreamError(ui.brand.product) });
        return;
      }
      case 'no_email': {
        const ui = uiOf(ctx);
        loginRefused(ctx, result.lookupFailed ? 503 : 403, { returnTo, email, error: result.lookupFailed ? ui.t.noEmailLookupFailed : ui.t.noEmailOnFile(ui.brand.support) });
        return;
      }
    }
  };

  /** The code page, saying what the server knows about sending now (never what the URL says). */
  const verifyPage = async (
    ctx: Context,
    status: number,
    pending: PendingLogin,
    returnTo: string,
    message: { error?: string | undefined; notice?: string | undefined },
  ): Promise<void> => {
    const { send, recovery } = await deps.login.sendState(pending);
    const passkey = deps.passkeyForm ? await deps.passkeyForm(ctx, pending) : null;
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
        csrf: http.formToken(ctx, null),
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
        ...(pending.reason === '2fa' && offeredDays(ctx, returnTo) !== undefined ? { rememberDays: offeredDays(ctx, returnTo) } : {}),
        ...(message.error ? { error: message.error } : {}),
        ...(notice ? { notice } : {}),
        ...(view !== null && view.resendAfter > 0 ? { resendAfter: view.resendAfter } : {}),
      }),
    );
  };

  /**
   * The account's factors, destination or lock state changed while this sign-in waited for its
   * code (THREATS T18): the sign-in has ended; the page says why and offers a new one.
   */
  const accountChangedPage = (ctx: Context, returnTo: string): void => {
    appendSetCookie(ctx, [clearCookieHeader('pending', cookieOptions(ctx))]);
    loginRefused(ctx, 409, { returnTo, error: uiOf(ctx).t.loginAccountChanged });
  };
  const accountChangedJson = (ctx: Context): void => {
    appendSetCookie(ctx, [clearCookieHeader('pending', cookieOptions(ctx))]);
    sendError(ctx, 409, 'account_changed', ACCOUNT_CHANGED, { login_url: '/_guard/login' });
  };

  // An account without 2FA (a risk-only email code) has no recovery codes: its words never offer one.
  const verifyProblem = (ctx: Context, result: Exclude<LoginVerifyResult, { kind: 'authenticated' | 'no_pending_login' | 'account_changed' }>, twoFactor: boolean): [number, string] => {
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
  };

  const resendProblem = (ctx: Context, sent: Exclude<Awaited<ReturnType<LoginFlow['resend']>>, { ok: true }>, twoFactor: boolean): string => {
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
  };

  /** What the upstream sees of this browser when the sidecar calls it on the browser's behalf. */
  const upstreamContext = (ctx: Context): ReplayContext => ({
    forwardedFor: state(ctx).client.forwardedFor,
    requestId: state(ctx).requestId,
    userAgent: ctx.get('user-agent') || undefined,
    host: state(ctx).client.host,
    proto: state(ctx).client.proto,
  });

  /**
   * Ends the sidecar session and the app's. The browser's own logout request (with the CSRF token
   * the app's page gave it) is preferred; without one, or when the app refused it, the configured
   * logout is replayed. Whether the app's session really ended is audited as such: a logout the app
   * did not confirm is a failure, even though the sidecar session (the only holder of the app's
   * session cookie) ends regardless.
   */
  const logout = async (ctx: Context, observed?: Parameters<UpstreamAccount['forwardLogout']>[0]): Promise<LogoutResult | null> => {
    const session = state(ctx).identity.session;
    const clear = [clearCookieHeader('session', cookieOptions(ctx))];
    let result: LogoutResult | null = null;
    if (session) {
      const context = upstreamContext(ctx);
      let via = 'replayed';
      if (observed) {
        via = 'observed';
        result = await deps.account.forwardLogout(observed, session.upstreamCookies, context);
        if (!result.ok && deps.account.replaysLogout) {
          logger.warn({ requestId: context.requestId, user: session.user, detail: result.detail }, "the app did not confirm the browser's logout; replaying the configured one");
          via = 'observed_then_replayed';
          result = await deps.account.logout(session.upstreamCookies, context);
        }
      } else {
        result = await deps.account.logout(session.upstreamCookies, context);
      }
      await sessions.revoke(session.id);
      const seen = result.ok
        ? { via, how: result.how }
        : { via, status: result.status === null ? '' : String(result.status), location: (result.location ?? '').slice(0, 300), detail: result.detail.slice(0, 300) };
      if (result.ok) logger.info({ event: 'logout', user: session.user, requestId: context.requestId, ...seen }, 'logged out');
      else logger.error({ event: 'logout_upstream_failed', user: session.user, requestId: context.requestId, ...seen }, 'the app did not confirm the end of its session');
      deps.audit.record({
        event: 'logout',
        outcome: result.ok ? 'success' : 'failure',
        user: session.user,
        client: state(ctx).client.address,
        requestId: context.requestId,
        ...(ctx.get('user-agent') ? { userAgent: ctx.get('user-agent').slice(0, 512) } : {}),
        ...(result.ok ? {} : { reason: 'upstream_logout_failed' }),
        details: seen,
      });
    }
    // The browser's copies of the upstream cookies go too, whatever the upstream answered.
    for (const name of upstreamNames) clear.push(`${name}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax`);
    appendSetCookie(ctx, clear);
    return result;
  };

  const signedOutUrl = (result: LogoutResult | null): string =>
    result === null || result.ok ? '/_guard/login?logged_out=1' : '/_guard/login?logged_out=unconfirmed';

  /**
   * The app's own login or logout URL opened with a safe method while signed in: nothing changes
   * (a cross-site link must not sign anyone out, THREATS T22); the page says who is signed in and
   * offers the sign-out button and the way on.
   */
  const recordSignedInVisit = (ctx: Context, kind: InterceptKind, session: SessionRecord): void => {
    deps.audit.record({
      event: 'signed_in_page',
      outcome: 'info',
      user: session.user,
      client: state(ctx).client.address,
      requestId: state(ctx).requestId,
      reason: `${kind}_url_while_signed_in`,
      details: { method: ctx.method, path: ctx.path.slice(0, 300) },
    });
  };
  const showSignedIn = (ctx: Context, session: SessionRecord): void => {
    sendPage(ctx, 200, renderLogoutPage(uiOf(ctx), { csrf: http.formToken(ctx, session), landing: options.landing, signedInAs: session.user, alreadySignedIn: true }));
  };

  // A browser sends the same Cookie header request after request: its filtered form is remembered.
  const keptCache = new LRUCache<string, string>({ max: 1000, maxSize: 4_000_000, sizeCalculation: (value, key) => key.length + value.length + 1 });
  const keptCookies = (header: string): string => {
    let kept = keptCache.get(header);
    if (kept === undefined) {
      kept = filterCookieHeader(header, (name) => isUpstreamSessionCookie(name) || isOwnCookie(name));
      if (header.length <= 16_384) keptCache.set(header, kept);
    }
    return kept;
  };
  const identity: IdentityResolver = {
    async resolve(req: IncomingMessage, client: ClientFacts): Promise<Identity> {
      const header = req.headers.cookie;
      if (!header) return ANONYMOUS;
      const value = readCookies(header)[cookieName('session', options.publicOrigin !== undefined ? options.publicOrigin.startsWith('https:') : client.proto === 'https')];
      if (!value) return ANONYMOUS;
      const session = await sessions.resolve(value);
      if (!session) return ANONYMOUS;
      return { user: { authenticated: true, twoFactorEnabled: session.twoFactor !== null }, session };
    },
    upstreamCookieHeader(header, who) {
      // Most anonymous requests carry none of the upstream's session cookies: nothing to rewrite.
      if (!who.session && (header === undefined || !mentionsUpstreamCookie(header))) return header;
      // The sidecar's own cookies go in the same pass (the proxy's own filter then has nothing to do).
      const kept = header ? keptCookies(header) : '';
      // Built once per session record string (src/session/sessions.ts), not per request.
      const pairs = who.session ? boundCookiePairs(who.session.upstreamCookies, upstreamNames) : '';
      // The bound pairs go first: parsers that keep the first of two same-named pairs (PHP) read them.
      const joined = pairs.length > 0 && kept.length > 0 ? `${pairs}; ${kept}` : pairs || kept;
      return joined.length > 0 ? joined : undefined;
    },
    /**
     * The upstream answered a request made with the bound session. A new value of a bound cookie
     * is how apps rotate their session (password change, privilege change, every page): it is
     * adopted. The session ends only on a clear sign that the app's session is over (a bound cookie
     * deleted, a redirect to the app's login page) or, where a profile says so, that the new session
     * belongs to another account (a password-reset auto-login must not inherit verified factors).
     */
    observeUpstreamResponse(who, answer) {
      const session = who.session;
      if (!session) return;
      const changes: Record<string, string | null> = {};
      const now = deps.clock.now();
      for (const header of answer.setCookies) {
        const cookie = readSetCookie(header, now);
        if (cookie === null || !upstreamNames.has(cookie.name)) continue;
        if (cookie.deleted) changes[cookie.name] = null;
        else if (session.upstreamCookies[cookie.name] !== cookie.value) changes[cookie.name] = cookie.value;
      }
      const toLoginPage = answer.status >= 300 && answer.status < 400 && deps.account.isLoginLocation(answer.location ?? '');
      if (Object.keys(changes).length === 0 && !toLoginPage) return;
      const end = (reason: string): Promise<void> => {
        logger.warn({ event: 'session_ended', user: session.user, reason }, 'upstream session ended; sidecar session ended');
        deps.audit.record({ event: 'session_ended', outcome: 'info', user: session.user, reason });
        return sessions.revoke(session.id);
      };
      const adopt = async (): Promise<void> => {
        if (toLoginPage) return end('upstream_login_page');
        if (Object.values(changes).some((v) => v === null)) return end('upstream_session_ended');
        const next = { ...session.upstreamCookies, ...(changes as Record<string, string>) };
        // The directory (or login.profile) names the account of the new session where it can
        // (canonicalised as sign-in keys are): another account's session ends this one. One it
        // cannot name (a SQL directory, none) is adopted: that is how apps rotate (decision 2).
        const named = deps.contacts ? await deps.contacts.accountOfSession({ upstreamCookies: next, requestId: 'session-rotation' }) : null;
        if (named !== null && named !== session.user) return end('upstream_session_of_unknown_account');
        session.upstreamCookies = next;
        await sessions.save(session);
        logger.info({ event: 'upstream_session_rotated', user: session.user, cookies: Object.keys(changes) }, 'the upstream rotated its session; the new one is bound');
      };
      adopt().catch((error: unknown) => logger.error({ err: error }, 'could not update the upstream cookie binding'));
    },
  };

  const intercept: InterceptHandler = {
    async handle(kind: InterceptKind, ctx: Context, _target: CanonicalTarget): Promise<void> {
      const safe = ctx.method === 'GET' || ctx.method === 'HEAD' || ctx.method === 'OPTIONS';
      // An intercepted route never reaches the upstream, whatever the method: a login handler that
      // accepts PUT would otherwise check passwords unseen and unregulated.
      if (!safe && ctx.method !== 'POST') {
        ctx.set('Allow', 'GET, HEAD, POST');
        sendError(ctx, 405, 'method_not_allowed', `${ctx.method} is not supported here.`);
        return;
      }
      const session = state(ctx).identity.session;
      if (safe) {
        // No GET/HEAD/OPTIONS changes state (THREATS T22): a signed-in visitor sees who is signed
        // in, with the sign-out button (the logout URL leads to the sidecar's own sign-out page).
        if (session) recordSignedInVisit(ctx, kind, session);
        if (kind === 'logout') return redirect(ctx, '/_guard/logout');
        if (session) return showSignedIn(ctx, session);
        return redirect(ctx, '/_guard/login');
      }
      if (kind === 'logout') {
        if (refuseCrossSite(ctx)) return;
        if (!session) return redirect(ctx, '/_guard/login?logged_out=1');
        const read = await readBody(ctx, options.accept);
        if (!read) return;
        // The app's own sign-out form, forwarded with the bound session: its CSRF token came from the app's page.
        const body =
          read.kind === 'json'
            ? JSON.stringify(read.body)
            : new URLSearchParams(Object.entries(read.body).filter((e): e is [string, string] => typeof e[1] === 'string')).toString();
        const result = await logout(ctx, {
          method: 'POST',
          path: _target.forwarded,
          cookieHeader: identity.upstreamCookieHeader(ctx.get('cookie') || undefined, state(ctx).identity),
          contentType: read.kind === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
          body,
        });
        return redirect(ctx, signedOutUrl(result));
      }
      // The legacy form has no sidecar token; the browser's own Origin/Sec-Fetch-Site must vouch.
      if (refuseCrossSite(ctx)) return;
      const read = await readBody(ctx, options.accept);
      if (!read) return;
      const body = read.body as Record<string, unknown>;
      const email = body[options.loginFields.identifier];
      const password = body[options.loginFields.password];
      if (typeof email !== 'string' || typeof password !== 'string') {
        sendError(ctx, 400, 'bad_request', `The fields ${options.loginFields.identifier} and ${options.loginFields.password} are required.`);
        return;
      }
      const result = await attempt(ctx, email, password, options.landing);
      if (read.kind === 'json' || !wantsHtml(ctx.req.headers)) answerJson(ctx, result);
      else answerHtml(ctx, result, email, options.landing);
    },
  };

  const routes: RouteDefinition[] = [
    {
      path: '/_guard/login',
      access: 'public',
      register(router) {
        router.get('/_guard/login', (ctx) => {
          const returnTo = safeReturnTo(ctx.query['return_to'], options.landing);
          if (state(ctx).identity.session) {
            setOwnResponseHeaders(ctx);
            ctx.status = 303;
            ctx.redirect(returnTo);
            return;
          }
          const ui = uiOf(ctx);
          const loggedOut = ctx.query['logged_out'];
          const flash = http.takeFlash(ctx, null, '/_guard/login');
          loginPage(ctx, flash?.status ?? 200, {
            returnTo,
            ...(loggedOut === '1' ? { notice: ui.t.signedOut } : {}),
            ...(loggedOut === 'unconfirmed' ? { error: ui.t.signOutUpstreamFailed(ui.brand.product) } : {}),
            ...(flash?.error ? { error: flash.error } : {}),
            ...(flash?.email !== undefined ? { email: flash.email } : {}),
          });
        });
        router.post('/_guard/login', async (ctx) => {
          if (refuseCrossSite(ctx)) return;
          const read = await readBody(ctx, ['form']);
          if (!read) return;
          const fields = read.body as Record<string, unknown>;
          // The token is checked first: a forged form gets 403 whatever else it holds or lacks.
          if (!http.formTokenValid(ctx, null, fields['_csrf'])) {
            loginRefused(ctx, 403, { returnTo: safeReturnTo(fields['return_to'], options.landing), error: uiOf(ctx).t.loginFormExpired });
            return;
          }
          const form = formSchema.safeParse(read.body);
          if (!form.success) {
            sendError(ctx, 400, 'bad_request', 'Email and password are required.');
            return;
          }
          const returnTo = safeReturnTo(form.data.return_to, options.landing);
          answerHtml(ctx, await attempt(ctx, form.data.email, form.data.password, returnTo), form.data.email, returnTo);
        });
      },
    },
    {
      path: '/_guard/api/login',
      access: 'public',
      register(router) {
        router.post('/_guard/api/login', async (ctx) => {
          if (refuseCrossSite(ctx)) return;
          const read = await readBody(ctx, ['json']);
          if (!read) return;
          const body = credentialsSchema.safeParse(read.body);
          if (!body.success) {
            if (isAmbiguous(body.error)) sendError(ctx, 400, 'ambiguous_identifier', 'Send the account once: email, username and identifier are the same field, and they differ here.');
            else sendError(ctx, 400, 'bad_request', 'Send {"email": "...", "password": "..."} (or "username"/"identifier" in place of "email") with string values.');
            return;
          }
          answerJson(ctx, await attempt(ctx, body.data.email, body.data.password, options.landing));
        });
      },
    },
    {
      path: '/_guard/logout',
      access: 'public',
      register(router) {
        router.get('/_guard/logout', (ctx) => {
          const session = state(ctx).identity.session;
          setOwnResponseHeaders(ctx);
          if (!session) {
            ctx.status = 303;
            ctx.redirect('/_guard/login');
            return;
          }
          sendPage(ctx, 200, renderLogoutPage(uiOf(ctx), { csrf: http.formToken(ctx, session), landing: options.landing, signedInAs: session.user }));
        });
        router.post('/_guard/logout', async (ctx) => {
          if (refuseCrossSite(ctx)) return;
          const read = await readBody(ctx, ['form']);
          if (!read) return;
          const session = state(ctx).identity.session;
          const token = (read.body as Record<string, unknown>)['_csrf'];
          if (session && !http.formTokenValid(ctx, session, token)) {
            sendError(ctx, 403, 'invalid_csrf_token', 'This form has expired. Please try again.');
            return;
          }
          const result = await logout(ctx);
          setOwnResponseHeaders(ctx);
          ctx.status = 303;
          ctx.redirect(signedOutUrl(result));
        });
      },
    },
    {
      path: '/_guard/api/logout',
      access: 'public',
      register(router) {
        router.post('/_guard/api/logout', async (ctx) => {
          if ((await http.readJsonCall(ctx)) === null) return;
          const result = await logout(ctx);
          if (result !== null && !result.ok) {
            const ui = uiOf(ctx);
            sendError(ctx, 502, 'upstream_logout_failed', ui.t.signOutUpstreamFailed(ui.brand.product), { signed_out_here: true });
            return;
          }
          setOwnResponseHeaders(ctx);
          ctx.body = { status: 'logged_out' };
        });
      },
    },
    {
      path: '/_guard/verify',
      access: 'public',
      register(router) {
        router.get('/_guard/verify', async (ctx) => {
          const returnTo = safeReturnTo(ctx.query['return_to'], options.landing);
          const found = await deps.login.lookup(http.cookie(ctx, 'pending'), presenter(ctx));
          if (found.kind === 'account_changed') return accountChangedPage(ctx, returnTo);
          if (found.kind === 'no_pending_login') return redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(returnTo)}`);
          const flash = http.takeFlash(ctx, null, '/_guard/verify');
          await verifyPage(ctx, flash?.status ?? 200, found.pending, returnTo, { error: flash?.error, notice: flash?.notice });
        });
        router.post('/_guard/verify', async (ctx) => {
          if (refuseCrossSite(ctx)) return;
          const read = await readBody(ctx, ['form']);
          if (!read) return;
          const returnTo = safeReturnTo(read.body['return_to'], options.landing);
          const found = await deps.login.lookup(http.cookie(ctx, 'pending'), presenter(ctx));
          if (found.kind === 'account_changed') return accountChangedPage(ctx, returnTo);
          if (found.kind === 'no_pending_login') return redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(returnTo)}`);
          if (!http.formTokenValid(ctx, null, read.body['_csrf'])) return verifyRefused(ctx, 403, returnTo, { error: uiOf(ctx).t.formExpired });
          if (read.body['action'] === 'resend') {
            const sent = await deps.login.resend(http.cookie(ctx, 'pending'), presenter(ctx));
            if (!sent.ok && sent.reason === 'account_changed') return accountChangedPage(ctx, returnTo);
            const notice = sent.ok ? uiOf(ctx).t.newCodeSent : undefined;
            // A refused send (budget, delivery, country) is told by the page's sending status.
            const told = !sent.ok && (sent.reason === 'budget' || sent.reason === 'delivery' || sent.reason === 'country');
            const error = sent.ok || told ? undefined : resendProblem(ctx, sent, found.pending.factors !== null);
            return verifyRefused(ctx, sent.ok ? 200 : 429, returnTo, { notice, error });
          }
          const remember = deps.rememberMaxAge !== undefined && read.body['remember'] !== undefined && read.body['remember'] !== '';
          const result = await deps.login.verify(http.cookie(ctx, 'pending'), read.body['code'], presenter(ctx), { remember, returnTo });
          if (result.kind === 'authenticated') {
            appendSetCookie(ctx, [clearCookieHeader('pending', cookieOptions(ctx))]);
            completeLogin(ctx, result);
            return redirect(ctx, returnTo);
          }
          if (result.kind === 'no_pending_login') return redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(returnTo)}`);
          if (result.kind === 'account_changed') return accountChangedPage(ctx, returnTo);
          const [status, error] = verifyProblem(ctx, result, found.pending.factors !== null);
          verifyRefused(ctx, status, returnTo, { error });
        });
      },
    },
    {
      path: '/_guard/api/login/verify',
      access: 'public',
      register(router) {
        router.post('/_guard/api/login/verify', async (ctx) => {
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
          const result = await deps.login.verify(http.cookie(ctx, 'pending'), code, presenter(ctx), { remember: remember === true && deps.rememberMaxAge !== undefined, returnTo: options.landing });
          setOwnResponseHeaders(ctx);
          switch (result.kind) {
            case 'authenticated':
              appendSetCookie(ctx, [clearCookieHeader('pending', cookieOptions(ctx))]);
              completeLogin(ctx, result);
              ctx.body = { status: 'authenticated' };
              return;
            case 'invalid_code':
            case 'code_expired':
            case 'malformed':
            case 'too_many_attempts':
              sendFlowError(ctx, loginCodeRefusal(result));
              return;
            case 'no_pending_login':
              sendError(ctx, 410, 'code_expired', 'This sign-in has expired. Start again with your email and password.', { login_url: '/_guard/login' });
              return;
            case 'account_changed':
              accountChangedJson(ctx);
              return;
          }
        });
      },
    },
    {
      path: '/_guard/api/login/resend',
      access: 'public',
      register(router) {
        router.post('/_guard/api/login/resend', async (ctx) => {
          if ((await http.readJsonCall(ctx)) === null) return;
          const sent = await deps.login.resend(http.cookie(ctx, 'pending'), presenter(ctx));
          setOwnResponseHeaders(ctx);
          if (sent.ok) {
            ctx.body = { status: 'sent', destination: sent.destination, resend_after: retryAfterSeconds(sent.resendInMs) };
            return;
          }
          switch (sent.reason) {
            case 'no_pending_login':
              sendError(ctx, 410, 'code_expired', 'This sign-in has expired. Start again with your email and password.', { login_url: '/_guard/login' });
              return;
            case 'account_changed':
              accountChangedJson(ctx);
              return;
            case 'not_applicable':
              sendError(ctx, 400, 'not_applicable', 'Your authenticator app shows the code; nothing is sent.');
              return;
            default:
              sendFlowError(ctx, sendRefusal(sent));
              return;
          }
        });
      },
    },
  ];

  /** For the passkey sign-in routes (src/server/passkey-routes.ts): finish a sign-in as the code routes do. */
  const signIn = {
    presenter,
    complete: (ctx: Context, result: Extract<LoginResult, { kind: 'authenticated' }>): void => {
      appendSetCookie(ctx, [clearCookieHeader('pending', cookieOptions(ctx))]);
      completeLogin(ctx, result);
    },
    accountChangedJson,
    accountChangedPage,
  };

  return { identity, intercept, routes, signIn };
}
