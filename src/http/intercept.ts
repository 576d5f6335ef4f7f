import type { Context } from 'koa';
import type { CanonicalTarget } from '../proxy/canonical-target.ts';
import type { InterceptKind } from '../policy/types.ts';
import type { SessionRecord } from '../session/sessions.ts';
import { renderLogoutPage } from '../pages/logout-page.tsx';
import type { IdentityResolver } from '../access/ports.ts';
import type { InterceptHandler } from './answer.ts';
import { sendError, sendPage, uiOf, wantsHtml } from './answer.ts';
import { attempt, type SignIn } from './sign-in.ts';
import { answerHtml, answerJson } from './sign-in-answer.ts';
import { logout, signedOutUrl } from './sign-out.ts';

/**
 * The upstream's own login and logout routes taken over (policy `intercept`), so old forms and
 * bookmarks take the same path as the sidecar's pages: a posted login is a sign-in attempt, a
 * posted logout a sign-out that forwards the app's own form.
 */

/**
 * The app's own login or logout URL opened with a safe method while signed in: nothing changes
 * (a cross-site link must not sign anyone out, THREATS T22); the page says who is signed in and
 * offers the sign-out button and the way on.
 */
function recordSignedInVisit(d: SignIn, ctx: Context, kind: InterceptKind, session: SessionRecord): void {
  const { state } = d.http;
  d.audit.record({
    event: 'signed_in_page',
    outcome: 'info',
    user: session.user,
    client: state(ctx).client.address,
    requestId: state(ctx).requestId,
    reason: `${kind}_url_while_signed_in`,
    details: { method: ctx.method, path: ctx.path.slice(0, 300) },
  });
}
function showSignedIn(d: SignIn, ctx: Context, session: SessionRecord): void {
  sendPage(ctx, 200, renderLogoutPage(uiOf(ctx), { csrf: d.http.formToken(ctx, session), landing: d.options.landing, signedInAs: session.user, alreadySignedIn: true }));
}

export function createIntercept(d: SignIn, identity: IdentityResolver): InterceptHandler {
  const { http, options } = d;
  const { state, refuseCrossSite, readBody, redirect } = http;
  return {
    async handle(kind: InterceptKind, ctx: Context, target: CanonicalTarget): Promise<void> {
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
        if (session) recordSignedInVisit(d, ctx, kind, session);
        if (kind === 'logout') return redirect(ctx, '/_guard/logout');
        if (session) return showSignedIn(d, ctx, session);
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
        const result = await logout(d, ctx, {
          method: 'POST',
          path: target.forwarded,
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
      const result = await attempt(d, ctx, email, password, options.landing);
      if (read.kind === 'json' || !wantsHtml(ctx.req.headers)) answerJson(d, ctx, result);
      else answerHtml(d, ctx, result, email, options.landing);
    },
  };
}
