import type { Context } from 'koa';
import { sessionJson, type ActiveSessions, type Revoked, type RevokeBy, type SessionView } from '../flows/active-sessions.ts';
import { deviceName, type ActiveSessionsView } from '../pages/sessions-section.tsx';
import type { PageMessage } from '../pages/security-parts.tsx';
import type { SessionRecord } from '../session/sessions.ts';
import type { GuardHttp } from './guard-http.ts';
import { sendError, uiOf, sendJson } from './answer.ts';
import { loginRequired } from './request.ts';

/**
 * "Active sessions" on Login & Security, and its JSON API (DESIGN §5):
 *
 * - `POST /_guard/security/sessions/revoke` (form: `_csrf`, `handle`) and
 *   `POST /_guard/security/sessions/revoke-others` (form: `_csrf`): Post/Redirect/Get back to
 *   /_guard/security, the outcome in the signed flash.
 * - `GET /_guard/api/sessions`, `POST /_guard/api/sessions/{handle}/revoke`,
 *   `POST /_guard/api/sessions/revoke-others`.
 *
 * Every route needs a session, and names sessions only by their public handle, looked up in the
 * signed-in account's own list (a handle of another account is "not found", exactly like one that
 * never existed). The session making the request cannot end itself here: that is a sign-out.
 */

export interface SessionRoutesDeps {
  readonly sessions: ActiveSessions;
  readonly http: GuardHttp;
}

const SECURITY = '/_guard/security';

function by(http: GuardHttp, ctx: Context): RevokeBy {
  const state = http.state(ctx);
  return {
    requestId: state.requestId,
    client: state.client.address,
    userAgent: ctx.get('user-agent') || undefined,
    host: state.client.host,
    proto: state.client.proto,
  };
}

/** The words for what happened, never more than did. */
function revokedMessage(ctx: Context, view: SessionView, done: Revoked): PageMessage {
  const { t, brand } = uiOf(ctx);
  const device = deviceName(t, view);
  if (done.upstream === 'not_confirmed') return { error: t.sessionEndedUnconfirmed(device, brand.product) };
  return { notice: done.upstream === 'ended' ? t.sessionEndedWithApp(device, brand.product) : t.sessionEnded(device) };
}

function othersMessage(ctx: Context, done: readonly Revoked[]): PageMessage {
  const { t, brand } = uiOf(ctx);
  if (done.length === 0) return { notice: t.sessionsNoOthers };
  const unconfirmed = done.filter((d) => d.upstream === 'not_confirmed').length;
  if (unconfirmed > 0) return { error: t.sessionsOthersUnconfirmed(done.length, unconfirmed, brand.product) };
  const withApp = done.some((d) => d.upstream === 'ended');
  return { notice: withApp ? t.sessionsOthersEndedWithApp(done.length, brand.product) : t.sessionsOthersEnded(done.length) };
}

/** The "Active sessions" section of the Login & Security overview (security.ts). */
export async function activeSessionsSection(d: SessionRoutesDeps, ctx: Context, session: SessionRecord): Promise<ActiveSessionsView> {
  return { csrf: d.http.formToken(ctx, session), sessions: await d.sessions.list(session.user, session.id) };
}

/** A form post of this section: same-site, a form body, and the session's form token. */
async function formPost(d: SessionRoutesDeps, ctx: Context, handler: (session: SessionRecord, body: Record<string, unknown>) => Promise<void>): Promise<void> {
  const { http } = d;
  if (http.refuseCrossSite(ctx)) return;
  const read = await http.readBody(ctx, ['form']);
  if (!read) return;
  const session = http.state(ctx).identity.session;
  if (!session) return http.redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(SECURITY)}`);
  if (!http.formTokenValid(ctx, session, read.body['_csrf'])) {
    return http.redirectWithFlash(ctx, session, SECURITY, { status: 403, error: uiOf(ctx).t.forged }, '#active-sessions');
  }
  await handler(session, read.body);
}

const flashTo = (http: GuardHttp, ctx: Context, session: SessionRecord, status: number, message: PageMessage): void =>
  http.redirectWithFlash(ctx, session, SECURITY, { status, error: message.error, notice: message.notice }, '#active-sessions');

/** One session of the signed-in account by handle: its view, or why not. */
async function target(sessions: ActiveSessions, session: SessionRecord, handle: unknown): Promise<{ view: SessionView } | { problem: 'not_found' | 'current' }> {
  const views = await sessions.list(session.user, session.id);
  const view = views.find((v) => v.handle === handle);
  if (!view) return { problem: 'not_found' };
  if (view.current) return { problem: 'current' };
  return { view };
}

function apiSession(http: GuardHttp, ctx: Context): SessionRecord | null {
  const session = http.state(ctx).identity.session;
  if (!session) loginRequired(ctx);
  return session;
}

/** POST /_guard/security/sessions/revoke (form: `_csrf`, `handle`) */
export function revokeSessionForm(d: SessionRoutesDeps, ctx: Context): Promise<void> {
  return formPost(d, ctx, async (session, body) => {
    const { t } = uiOf(ctx);
    const found = await target(d.sessions, session, typeof body['handle'] === 'string' ? body['handle'] : undefined);
    if ('problem' in found) {
      return flashTo(d.http, ctx, session, found.problem === 'current' ? 409 : 404, { error: found.problem === 'current' ? t.sessionIsCurrent : t.sessionNotFound });
    }
    const done = await d.sessions.revoke(session.user, found.view.handle, by(d.http, ctx));
    if (!done) return flashTo(d.http, ctx, session, 404, { error: t.sessionNotFound });
    flashTo(d.http, ctx, session, 200, revokedMessage(ctx, found.view, done));
  });
}

/** POST /_guard/security/sessions/revoke-others (form: `_csrf`) */
export function revokeOtherSessionsForm(d: SessionRoutesDeps, ctx: Context): Promise<void> {
  return formPost(d, ctx, async (session) => {
    const done = await d.sessions.revokeOthers(session.user, session, by(d.http, ctx));
    flashTo(d.http, ctx, session, 200, othersMessage(ctx, done));
  });
}

/** GET /_guard/api/sessions */
export async function listSessions(d: SessionRoutesDeps, ctx: Context): Promise<void> {
  const session = apiSession(d.http, ctx);
  if (!session) return;
  const views = await d.sessions.list(session.user, session.id);
  sendJson(ctx, { sessions: views.map(sessionJson) });
}

/** POST /_guard/api/sessions/revoke-others */
export async function revokeOtherSessions(d: SessionRoutesDeps, ctx: Context): Promise<void> {
  if ((await d.http.readJsonCall(ctx)) === null) return;
  const session = apiSession(d.http, ctx);
  if (!session) return;
  const done = await d.sessions.revokeOthers(session.user, session, by(d.http, ctx));
  const unconfirmed = done.filter((x) => x.upstream === 'not_confirmed');
  const revoked = done.map((x) => ({ handle: x.handle, upstream: x.upstream }));
  if (unconfirmed.length > 0) {
    const ui = uiOf(ctx);
    sendError(ctx, 502, 'upstream_logout_failed', ui.t.sessionsOthersUnconfirmed(done.length, unconfirmed.length, ui.brand.product), { revoked });
    return;
  }
  sendJson(ctx, { status: 'revoked', revoked });
}

/** POST /_guard/api/sessions/:handle/revoke */
export async function revokeSession(d: SessionRoutesDeps, ctx: Context): Promise<void> {
  if ((await d.http.readJsonCall(ctx)) === null) return;
  const session = apiSession(d.http, ctx);
  if (!session) return;
  const found = await target(d.sessions, session, ctx.params['handle']);
  if ('problem' in found) {
    if (found.problem === 'current') sendError(ctx, 409, 'current_session', 'This is the session making the request; end it with POST /_guard/api/logout.');
    else sendError(ctx, 404, 'session_not_found', 'No live session of this account has that handle.');
    return;
  }
  const done = await d.sessions.revoke(session.user, found.view.handle, by(d.http, ctx));
  if (!done) {
    sendError(ctx, 404, 'session_not_found', 'No live session of this account has that handle.');
    return;
  }
  if (done.upstream === 'not_confirmed') {
    const ui = uiOf(ctx);
    sendError(ctx, 502, 'upstream_logout_failed', ui.t.sessionEndedUnconfirmed(deviceName(ui.t, found.view), ui.brand.product), {
      handle: done.handle,
      session_revoked: true,
      upstream: done.upstream,
    });
    return;
  }
  sendJson(ctx, { status: 'revoked', handle: done.handle, upstream: done.upstream });
}
