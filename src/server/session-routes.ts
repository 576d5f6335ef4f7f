import type { Context } from 'koa';
import { sessionJson, type ActiveSessions, type Revoked, type RevokeBy, type SessionView } from '../flows/active-sessions.ts';
import { deviceName, type ActiveSessionsView } from '../pages/sessions-section.tsx';
import type { PageMessage } from '../pages/security-parts.tsx';
import type { SessionRecord } from '../session/sessions.ts';
import type { RouteDefinition } from './auth-routes.ts';
import type { GuardHttp } from './guard-http.ts';
import { sendError, setOwnResponseHeaders, uiOf } from './respond.ts';

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
const FORM_REVOKE = '/_guard/security/sessions/revoke';
const FORM_REVOKE_OTHERS = '/_guard/security/sessions/revoke-others';
const API_LIST = '/_guard/api/sessions';
const API_REVOKE = '/_guard/api/sessions/:handle/revoke';
const API_REVOKE_OTHERS = '/_guard/api/sessions/revoke-others';

export function createSessionRoutes(deps: SessionRoutesDeps): RouteDefinition[] & { section: (ctx: Context, session: SessionRecord) => Promise<ActiveSessionsView> } {
  const { sessions, http } = deps;

  const by = (ctx: Context): RevokeBy => {
    const state = http.state(ctx);
    return {
      requestId: state.requestId,
      client: state.client.address,
      userAgent: ctx.get('user-agent') || undefined,
      host: state.client.host,
      proto: state.client.proto,
    };
  };

  /** The words for what happened, never more than did. */
  const revokedMessage = (ctx: Context, view: SessionView, done: Revoked): PageMessage => {
    const { t, brand } = uiOf(ctx);
    const device = deviceName(t, view);
    if (done.upstream === 'not_confirmed') return { error: t.sessionEndedUnconfirmed(device, brand.product) };
    return { notice: done.upstream === 'ended' ? t.sessionEndedWithApp(device, brand.product) : t.sessionEnded(device) };
  };

  const othersMessage = (ctx: Context, done: readonly Revoked[]): PageMessage => {
    const { t, brand } = uiOf(ctx);
    if (done.length === 0) return { notice: t.sessionsNoOthers };
    const unconfirmed = done.filter((d) => d.upstream === 'not_confirmed').length;
    if (unconfirmed > 0) return { error: t.sessionsOthersUnconfirmed(done.length, unconfirmed, brand.product) };
    const withApp = done.some((d) => d.upstream === 'ended');
    return { notice: withApp ? t.sessionsOthersEndedWithApp(done.length, brand.product) : t.sessionsOthersEnded(done.length) };
  };

  const section = async (ctx: Context, session: SessionRecord): Promise<ActiveSessionsView> => ({
    csrf: http.formToken(ctx, session),
    sessions: await sessions.list(session.user, session.id),
  });

  /** A form post of this section: same-site, a form body, and the session's form token. */
  const formPost =
    (handler: (ctx: Context, session: SessionRecord, body: Record<string, unknown>) => Promise<void>) =>
    async (ctx: Context): Promise<void> => {
      if (http.refuseCrossSite(ctx)) return;
      const read = await http.readBody(ctx, ['form']);
      if (!read) return;
      const session = http.state(ctx).identity.session;
      if (!session) return http.redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(SECURITY)}`);
      if (!http.formTokenValid(ctx, session, read.body['_csrf'])) {
        return http.redirectWithFlash(ctx, session, SECURITY, { status: 403, error: uiOf(ctx).t.forged }, '#active-sessions');
      }
      await handler(ctx, session, read.body);
    };

  const flashTo = (ctx: Context, session: SessionRecord, status: number, message: PageMessage): void =>
    http.redirectWithFlash(ctx, session, SECURITY, { status, error: message.error, notice: message.notice }, '#active-sessions');

  /** One session of the signed-in account by handle: its view, or why not. */
  const target = async (session: SessionRecord, handle: unknown): Promise<{ view: SessionView } | { problem: 'not_found' | 'current' }> => {
    const views = await sessions.list(session.user, session.id);
    const view = views.find((v) => v.handle === handle);
    if (!view) return { problem: 'not_found' };
    if (view.current) return { problem: 'current' };
    return { view };
  };

  const apiSession = (ctx: Context): SessionRecord | null => {
    const session = http.state(ctx).identity.session;
    if (!session) sendError(ctx, 401, 'login_required', 'Sign in to continue.', { login_url: '/_guard/login' });
    return session;
  };

  const routes: RouteDefinition[] = [
    {
      path: FORM_REVOKE,
      access: 'authenticated',
      register(router) {
        router.post(
          FORM_REVOKE,
          formPost(async (ctx, session, body) => {
            const { t } = uiOf(ctx);
            const found = await target(session, typeof body['handle'] === 'string' ? body['handle'] : undefined);
            if ('problem' in found) {
              return flashTo(ctx, session, found.problem === 'current' ? 409 : 404, { error: found.problem === 'current' ? t.sessionIsCurrent : t.sessionNotFound });
            }
            const done = await sessions.revoke(session.user, found.view.handle, by(ctx));
            if (!done) return flashTo(ctx, session, 404, { error: t.sessionNotFound });
            flashTo(ctx, session, 200, revokedMessage(ctx, found.view, done));
          }),
        );
      },
    },
    {
      path: FORM_REVOKE_OTHERS,
      access: 'authenticated',
      register(router) {
        router.post(
          FORM_REVOKE_OTHERS,
          formPost(async (ctx, session) => {
            const done = await sessions.revokeOthers(session.user, session, by(ctx));
            flashTo(ctx, session, 200, othersMessage(ctx, done));
          }),
        );
      },
    },
    {
      path: API_LIST,
      access: 'authenticated',
      register(router) {
        router.get(API_LIST, async (ctx) => {
          const session = apiSession(ctx);
          if (!session) return;
          const views = await sessions.list(session.user, session.id);
          setOwnResponseHeaders(ctx);
          ctx.body = { sessions: views.map(sessionJson) };
        });
      },
    },
    {
      path: API_REVOKE_OTHERS,
      access: 'authenticated',
      register(router) {
        router.post(API_REVOKE_OTHERS, async (ctx) => {
          if ((await http.readJsonCall(ctx)) === null) return;
          const session = apiSession(ctx);
          if (!session) return;
          const done = await sessions.revokeOthers(session.user, session, by(ctx));
          const unconfirmed = done.filter((d) => d.upstream === 'not_confirmed');
          const revoked = done.map((d) => ({ handle: d.handle, upstream: d.upstream }));
          if (unconfirmed.length > 0) {
            const ui = uiOf(ctx);
            sendError(ctx, 502, 'upstream_logout_failed', ui.t.sessionsOthersUnconfirmed(done.length, unconfirmed.length, ui.brand.product), { revoked });
            return;
          }
          setOwnResponseHeaders(ctx);
          ctx.body = { status: 'revoked', revoked };
        });
      },
    },
    {
      path: API_REVOKE,
      access: 'authenticated',
      register(router) {
        router.post(API_REVOKE, async (ctx) => {
          if ((await http.readJsonCall(ctx)) === null) return;
          const session = apiSession(ctx);
          if (!session) return;
          const found = await target(session, ctx.params['handle']);
          if ('problem' in found) {
            if (found.problem === 'current') sendError(ctx, 409, 'current_session', 'This is the session making the request; end it with POST /_guard/api/logout.');
            else sendError(ctx, 404, 'session_not_found', 'No live session of this account has that handle.');
            return;
          }
          const done = await sessions.revoke(session.user, found.view.handle, by(ctx));
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
          setOwnResponseHeaders(ctx);
          ctx.body = { status: 'revoked', handle: done.handle, upstream: done.upstream };
        });
      },
    },
  ];
  return Object.assign(routes, { section });
}
