import type { Context } from 'koa';
import { renderRequiredTwoFactorPage } from '../pages/required-two-factor-page.tsx';
import type { SessionRecord } from '../session/sessions.ts';
import type { GuardHttp } from './guard-http.ts';
import { ENABLE_PAGE, enableUrlFor, REQUIRED_PAGE, type RequiredTwoFactor } from './two-factor-mandate.ts';
import { sendError, sendPage, uiOf } from './answer.ts';
import { safeReturnTo } from './return-to.ts';

/**
 * The `require_2fa` page (`/_guard/two-factor-required`) and its JSON API: "Set up now" opens the
 * enable flow on Login & Security (which comes back to `return_to` afterwards) and, while the
 * grace period lasts, "Not now" (POST, CSRF) counts one skip and lets this session on. The
 * mandate itself is src/server/required-two-factor.ts.
 */

export interface RequiredTwoFactorRoutesDeps {
  readonly mandate: RequiredTwoFactor;
  readonly http: GuardHttp;
  readonly landing: string;
}

const sessionOf = (http: GuardHttp, ctx: Context): SessionRecord | null => http.state(ctx).identity.session;

async function page(d: RequiredTwoFactorRoutesDeps, ctx: Context, session: SessionRecord, status: number, error?: string): Promise<void> {
  const { http } = d;
  const returnTo = safeReturnTo(ctx.query['return_to'], d.landing);
  const now = await d.mandate.standing(session, http.state(ctx).requestId);
  const grace = now.grace;
  sendPage(
    ctx,
    status,
    renderRequiredTwoFactorPage(uiOf(ctx), {
      csrf: http.formToken(ctx, session),
      returnTo,
      enableUrl: enableUrlFor(returnTo),
      state: now.enabled ? 'enabled' : !now.required ? 'not_required' : grace?.open ? 'grace' : 'required',
      skipsLeft: grace?.open ? grace.skipsLeft : null,
      daysLeft: grace?.open ? grace.daysLeft : null,
      ...(error ? { error } : {}),
    }),
  );
}

/** GET /_guard/two-factor-required */
export async function showRequiredTwoFactor(d: RequiredTwoFactorRoutesDeps, ctx: Context): Promise<void> {
  const session = sessionOf(d.http, ctx);
  if (!session) return d.http.redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(REQUIRED_PAGE)}`);
  await page(d, ctx, session, 200);
}

/** POST /_guard/two-factor-required: "Not now". */
export async function skipRequiredTwoFactor(d: RequiredTwoFactorRoutesDeps, ctx: Context): Promise<void> {
  const { http } = d;
  if (http.refuseCrossSite(ctx)) return;
  const read = await http.readBody(ctx, ['form']);
  if (!read) return;
  const session = sessionOf(http, ctx);
  if (!session) return http.redirect(ctx, '/_guard/login');
  if (!http.formTokenValid(ctx, session, read.body['_csrf'])) {
    return sendError(ctx, 403, 'invalid_csrf_token', 'This form has expired. Please try again.');
  }
  const returnTo = safeReturnTo(read.body['return_to'], d.landing);
  const state = http.state(ctx);
  const skipped = await d.mandate.skip(session, state.requestId, state.client.address);
  if (skipped.ok) return http.redirect(ctx, returnTo);
  // The grace period ran out meanwhile (another tab used the last skip, the deadline passed).
  ctx.query = { return_to: returnTo };
  await page(d, ctx, session, 409, uiOf(ctx).t.requiredNoSkipsLeft);
}

/** GET /_guard/api/2fa/required */
export async function requiredTwoFactorStatus(d: RequiredTwoFactorRoutesDeps, ctx: Context): Promise<void> {
  const session = sessionOf(d.http, ctx);
  if (!session) return sendError(ctx, 401, 'login_required', 'Sign in to continue.');
  const now = await d.mandate.standing(session, d.http.state(ctx).requestId);
  ctx.body = {
    required: now.required,
    enabled: now.enabled,
    grace: now.grace === null ? null : now.grace.open ? { open: true, skips_left: now.grace.skipsLeft, days_left: now.grace.daysLeft, ends_at: now.grace.endsAt === null ? null : new Date(now.grace.endsAt).toISOString() } : { open: false, reason: now.grace.reason },
    enable_url: ENABLE_PAGE,
  };
}

/** POST /_guard/api/2fa/required/skip */
export async function skipRequiredTwoFactorApi(d: RequiredTwoFactorRoutesDeps, ctx: Context): Promise<void> {
  const { http } = d;
  if (http.refuseCrossSite(ctx)) return;
  const session = sessionOf(http, ctx);
  if (!session) return sendError(ctx, 401, 'login_required', 'Sign in to continue.');
  const body = await http.readJsonCall(ctx);
  if (body === null) return;
  const state = http.state(ctx);
  const skipped = await d.mandate.skip(session, state.requestId, state.client.address);
  if (!skipped.ok) {
    return sendError(ctx, 403, '2fa_required', 'The grace period is over: set up two-step verification to continue.', { enable_url: ENABLE_PAGE });
  }
  ctx.body = { status: 'skipped', skips_left: skipped.skipsLeft, days_left: skipped.daysLeft };
}
