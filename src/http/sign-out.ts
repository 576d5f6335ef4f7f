import type { Context } from 'koa';
import type { LogoutResult, ReplayContext, UpstreamAccount } from '../flows/upstream-account.ts';
import { clearCookieHeader } from '../session/cookies.ts';
import { renderLogoutPage } from '../pages/logout-page.tsx';
import { sendError, sendPage, setOwnResponseHeaders, uiOf, redirect, sendJson } from './answer.ts';
import type { SignIn } from './sign-in.ts';

/** Sign-out over HTTP: the sidecar's sign-out page and form, and the JSON call. */

/** What the upstream sees of this browser when the sidecar calls it on the browser's behalf. */
function upstreamContext(d: SignIn, ctx: Context): ReplayContext {
  const { state } = d.http;
  return {
    forwardedFor: state(ctx).client.forwardedFor,
    requestId: state(ctx).requestId,
    userAgent: ctx.get('user-agent') || undefined,
    host: state(ctx).client.host,
    proto: state(ctx).client.proto,
  };
}

/**
 * Ends the sidecar session and the app's. The browser's own logout request (with the CSRF token
 * the app's page gave it) is preferred; without one, or when the app refused it, the configured
 * logout is replayed. Whether the app's session really ended is audited as such: a logout the app
 * did not confirm is a failure, even though the sidecar session (the only holder of the app's
 * session cookie) ends regardless.
 */
export async function logout(d: SignIn, ctx: Context, observed?: Parameters<UpstreamAccount['forwardLogout']>[0]): Promise<LogoutResult | null> {
  const { sessions, logger } = d;
  const { state, cookieOptions, appendSetCookie } = d.http;
  const session = state(ctx).identity.session;
  const clear = [clearCookieHeader('session', cookieOptions(ctx))];
  let result: LogoutResult | null = null;
  if (session) {
    const context = upstreamContext(d, ctx);
    let via = 'replayed';
    if (observed) {
      via = 'observed';
      result = await d.account.forwardLogout(observed, session.upstreamCookies, context);
      if (!result.ok && d.account.replaysLogout) {
        logger.warn({ requestId: context.requestId, user: session.user, detail: result.detail }, "the app did not confirm the browser's logout; replaying the configured one");
        via = 'observed_then_replayed';
        result = await d.account.logout(session.upstreamCookies, context);
      }
    } else {
      result = await d.account.logout(session.upstreamCookies, context);
    }
    await sessions.revoke(session.id);
    const seen = result.ok
      ? { via, how: result.how }
      : { via, status: result.status === null ? '' : String(result.status), location: (result.location ?? '').slice(0, 300), detail: result.detail.slice(0, 300) };
    if (result.ok) logger.info({ event: 'logout', user: session.user, requestId: context.requestId, ...seen }, 'logged out');
    else logger.error({ event: 'logout_upstream_failed', user: session.user, requestId: context.requestId, ...seen }, 'the app did not confirm the end of its session');
    d.audit.record({
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
  for (const name of d.upstreamNames) clear.push(`${name}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax`);
  appendSetCookie(ctx, clear);
  return result;
}

export const signedOutUrl = (result: LogoutResult | null): string =>
  result === null || result.ok ? '/_guard/login?logged_out=1' : '/_guard/login?logged_out=unconfirmed';


/** GET /_guard/logout */
export function showLogout(d: SignIn, ctx: Context): void {
  const session = d.http.state(ctx).identity.session;
  setOwnResponseHeaders(ctx);
  if (!session) {
    ctx.status = 303;
    ctx.redirect('/_guard/login');
    return;
  }
  sendPage(ctx, 200, renderLogoutPage(uiOf(ctx), { csrf: d.http.formToken(ctx, session), landing: d.options.landing, signedInAs: session.user }));
}

/** POST /_guard/logout */
export async function logoutForm(d: SignIn, ctx: Context): Promise<void> {
  const { http } = d;
  if (http.refuseCrossSite(ctx)) return;
  const read = await http.readBody(ctx, ['form']);
  if (!read) return;
  const session = http.state(ctx).identity.session;
  const token = (read.body as Record<string, unknown>)['_csrf'];
  if (session && !http.formTokenValid(ctx, session, token)) {
    sendError(ctx, 403, 'invalid_csrf_token', 'This form has expired. Please try again.');
    return;
  }
  const result = await logout(d, ctx);
  redirect(ctx, signedOutUrl(result));
}

/** POST /_guard/api/logout */
export async function logoutApi(d: SignIn, ctx: Context): Promise<void> {
  if ((await d.http.readJsonCall(ctx)) === null) return;
  const result = await logout(d, ctx);
  if (result !== null && !result.ok) {
    const ui = uiOf(ctx);
    sendError(ctx, 502, 'upstream_logout_failed', ui.t.signOutUpstreamFailed(ui.brand.product), { signed_out_here: true });
    return;
  }
  sendJson(ctx, { status: 'logged_out' });
}
