import type { Context } from 'koa';
import type { AuditContext } from '../audit/audit.ts';
import type { RememberedBrowsers } from '../flows/remember-browser.ts';
import type { Logger } from '../observability/logger.ts';
import type { RememberedBrowsersSectionProps } from '../pages/remembered-browsers-section.tsx';
import type { SessionRecord } from '../session/sessions.ts';
import type { RememberedBrowser } from '../store/remembered-browsers.ts';
import type { GuardHttp } from './guard-http.ts';
import { sendError, uiOf, sendJson } from './answer.ts';
import { loginRequired } from './request.ts';

/**
 * "Remembered browsers" for the signed-in user (issue 17): the section of Login & Security with
 * its Forget forms (POST, session form token, 303 back with a flash), and the JSON API:
 *   GET    /_guard/api/remembered-browsers            → {browsers: [...]}
 *   DELETE /_guard/api/remembered-browsers/{id}       → {status: "forgotten"} | 404
 *   DELETE /_guard/api/remembered-browsers            → {status: "forgotten", count}
 *   POST   /_guard/api/remembered-browsers/revoke     {id} or {all: true}: the same as the DELETEs
 * Every call needs a session (the enforcement point decides) and is same-site JSON (CSRF).
 */

const SECURITY = '/_guard/security';
const ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface RememberedBrowserRoutesDeps {
  readonly remembered: RememberedBrowsers;
  readonly http: GuardHttp;
  readonly logger: Logger;
}

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The id of the record this browser holds (the first half of its cookie), if any. */
function currentId(http: GuardHttp, ctx: Context): string | null {
  const value = http.cookie(ctx, 'remember');
  const dot = value?.indexOf('.') ?? -1;
  return value && dot > 0 ? value.slice(0, dot) : null;
}

const view = (current: string | null, r: RememberedBrowser) => ({
  id: r.id,
  label: r.label,
  created_at: new Date(r.createdAt).toISOString(),
  last_used_at: new Date(r.lastUsedAt).toISOString(),
  expires_at: new Date(r.expiresAt).toISOString(),
  current: r.id === current,
});

function context(http: GuardHttp, ctx: Context): AuditContext {
  const state = http.state(ctx);
  return { client: state.client.address, userAgent: ctx.get('user-agent') || undefined, requestId: state.requestId };
}

/** The "Remembered browsers" section of the Login & Security overview (security.ts); undefined: not shown. */
export async function rememberedBrowsersSection(d: RememberedBrowserRoutesDeps, ctx: Context, session: SessionRecord): Promise<RememberedBrowsersSectionProps | undefined> {
  let browsers: RememberedBrowser[];
  try {
    browsers = await d.remembered.list(session.user);
  } catch (error) {
    d.logger.error({ err: error, user: session.user }, 'could not list the remembered browsers');
    browsers = [];
  }
  if (!d.remembered.enabled && browsers.length === 0) return undefined;
  const current = currentId(d.http, ctx);
  return {
    csrf: d.http.formToken(ctx, session),
    browsers: browsers.map((b) => ({ id: b.id, label: b.label, lastUsed: day(b.lastUsedAt), expires: day(b.expiresAt), current: b.id === current })),
  };
}

const sessionOf = (http: GuardHttp, ctx: Context): SessionRecord | null => http.state(ctx).identity.session;

/** Forgets one (`id`) or all; the number forgotten, or null for an id that is not (any more) remembered. */
async function forget(d: RememberedBrowserRoutesDeps, ctx: Context, session: SessionRecord, target: { id: string } | { all: true }): Promise<number | null> {
  if ('id' in target) return (await d.remembered.revoke(session.user, target.id, context(d.http, ctx))) ? 1 : null;
  return d.remembered.forgetAll(session.user, 'user_revoked_all', context(d.http, ctx));
}

/** `{id}` or `{all: true}` from a body; a string saying what is wrong otherwise. */
function target(body: Record<string, unknown>): { id: string } | { all: true } | string {
  const id = body['id'];
  const all = body['all'];
  if (id !== undefined && all !== undefined) return 'Send either "id" or "all", not both.';
  if (id !== undefined) return typeof id === 'string' && ID.test(id) ? { id } : '"id" must be the id of a remembered browser, as GET /_guard/api/remembered-browsers lists them.';
  if (all === true || all === '1') return { all: true };
  return 'Send {"id": "..."} to forget one browser or {"all": true} to forget them all.';
}

async function answerJson(d: RememberedBrowserRoutesDeps, ctx: Context, session: SessionRecord, what: { id: string } | { all: true }): Promise<void> {
  const n = await forget(d, ctx, session, what);
  if (n === null) {
    sendError(ctx, 404, 'unknown_remembered_browser', 'No such remembered browser (already forgotten or expired).');
    return;
  }
  sendJson(ctx, { status: 'forgotten', count: n });
}

/** POST FORGET_BROWSER_PATH: the section's Forget forms (one or all). */
export async function forgetBrowserForm(d: RememberedBrowserRoutesDeps, ctx: Context): Promise<void> {
  const { http } = d;
  if (http.refuseCrossSite(ctx)) return;
  const read = await http.readBody(ctx, ['form']);
  if (!read) return;
  const session = sessionOf(http, ctx);
  if (!session) return http.redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(SECURITY)}`);
  const { t } = uiOf(ctx);
  if (!http.formTokenValid(ctx, session, read.body['_csrf'])) return http.redirectWithFlash(ctx, session, SECURITY, { status: 403, error: t.forged });
  const what = target(read.body);
  if (typeof what === 'string') {
    sendError(ctx, 400, 'bad_request', what);
    return;
  }
  let n: number | null;
  try {
    n = await forget(d, ctx, session, what);
  } catch (error) {
    d.logger.error({ err: error, user: session.user }, 'could not forget the remembered browser');
    return http.redirectWithFlash(ctx, session, SECURITY, { status: 503, error: t.forgetBrowserFailed });
  }
  if (n === null) return http.redirectWithFlash(ctx, session, SECURITY, { status: 404, error: t.forgetBrowserGone });
  http.redirectWithFlash(ctx, session, SECURITY, { status: 200, notice: 'id' in what ? t.forgotBrowser : t.forgotAllBrowsers(n) });
}

/** GET /_guard/api/remembered-browsers */
export async function listRememberedBrowsers(d: RememberedBrowserRoutesDeps, ctx: Context): Promise<void> {
  const session = sessionOf(d.http, ctx);
  if (!session) return loginRequired(ctx);
  const browsers = await d.remembered.list(session.user);
  const current = currentId(d.http, ctx);
  sendJson(ctx, { enabled: d.remembered.enabled, days: d.remembered.days, browsers: browsers.map((b) => view(current, b)) });
}

/** DELETE /_guard/api/remembered-browsers */
export async function forgetAllBrowsers(d: RememberedBrowserRoutesDeps, ctx: Context): Promise<void> {
  if ((await d.http.readJsonCall(ctx)) === null) return;
  const session = sessionOf(d.http, ctx);
  if (!session) return loginRequired(ctx);
  await answerJson(d, ctx, session, { all: true });
}

/** POST /_guard/api/remembered-browsers/revoke {id} or {all: true} */
export async function revokeRememberedBrowser(d: RememberedBrowserRoutesDeps, ctx: Context): Promise<void> {
  const body = await d.http.readJsonCall(ctx);
  if (body === null) return;
  const session = sessionOf(d.http, ctx);
  if (!session) return loginRequired(ctx);
  const what = target(body);
  if (typeof what === 'string') {
    sendError(ctx, 400, 'bad_request', what);
    return;
  }
  await answerJson(d, ctx, session, what);
}

/** DELETE /_guard/api/remembered-browsers/:id */
export async function forgetBrowser(d: RememberedBrowserRoutesDeps, ctx: Context): Promise<void> {
  if ((await d.http.readJsonCall(ctx)) === null) return;
  const session = sessionOf(d.http, ctx);
  if (!session) return loginRequired(ctx);
  const id = ctx.params['id'] ?? '';
  if (!ID.test(id)) {
    sendError(ctx, 400, 'bad_request', 'The id in the path must be the id of a remembered browser.');
    return;
  }
  await answerJson(d, ctx, session, { id });
}
