import type { Context } from 'koa';
import type { AuditContext } from '../audit/audit.ts';
import type { RememberedBrowsers } from '../flows/remember-browser.ts';
import type { Logger } from '../observability/logger.ts';
import { FORGET_BROWSER_PATH, type RememberedBrowsersSectionProps } from '../pages/remembered-browsers-section.tsx';
import type { SessionRecord } from '../session/sessions.ts';
import type { RememberedBrowser } from '../store/remembered-browsers.ts';
import type { RouteDefinition } from './auth-routes.ts';
import type { GuardHttp } from './guard-http.ts';
import { sendError, setOwnResponseHeaders, uiOf } from './respond.ts';

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
const API = '/_guard/api/remembered-browsers';
const ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface RememberedBrowserRoutesDeps {
  readonly remembered: RememberedBrowsers;
  readonly http: GuardHttp;
  readonly logger: Logger;
}

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export function createRememberedBrowserRoutes(deps: RememberedBrowserRoutesDeps): {
  routes: RouteDefinition[];
  section: (ctx: Context, session: SessionRecord) => Promise<RememberedBrowsersSectionProps | undefined>;
} {
  const { remembered, http } = deps;

  /** The id of the record this browser holds (the first half of its cookie), if any. */
  const currentId = (ctx: Context): string | null => {
    const value = http.cookie(ctx, 'remember');
    const dot = value?.indexOf('.') ?? -1;
    return value && dot > 0 ? value.slice(0, dot) : null;
  };

  const view = (ctx: Context, r: RememberedBrowser) => ({
    id: r.id,
    label: r.label,
    created_at: new Date(r.createdAt).toISOString(),
    last_used_at: new Date(r.lastUsedAt).toISOString(),
    expires_at: new Date(r.expiresAt).toISOString(),
    current: r.id === currentId(ctx),
  });

  const context = (ctx: Context): AuditContext => {
    const state = http.state(ctx);
    return { client: state.client.address, userAgent: ctx.get('user-agent') || undefined, requestId: state.requestId };
  };

  const section = async (ctx: Context, session: SessionRecord): Promise<RememberedBrowsersSectionProps | undefined> => {
    let browsers: RememberedBrowser[];
    try {
      browsers = await remembered.list(session.user);
    } catch (error) {
      deps.logger.error({ err: error, user: session.user }, 'could not list the remembered browsers');
      browsers = [];
    }
    if (!remembered.enabled && browsers.length === 0) return undefined;
    const current = currentId(ctx);
    return {
      csrf: http.formToken(ctx, session),
      browsers: browsers.map((b) => ({ id: b.id, label: b.label, lastUsed: day(b.lastUsedAt), expires: day(b.expiresAt), current: b.id === current })),
    };
  };

  const sessionOf = (ctx: Context): SessionRecord | null => http.state(ctx).identity.session;

  const loginRequired = (ctx: Context): void => sendError(ctx, 401, 'login_required', 'Sign in to continue.', { login_url: '/_guard/login' });

  /** Forgets one (`id`) or all; the number forgotten, or null for an id that is not (any more) remembered. */
  const forget = async (ctx: Context, session: SessionRecord, target: { id: string } | { all: true }): Promise<number | null> => {
    if ('id' in target) return (await remembered.revoke(session.user, target.id, context(ctx))) ? 1 : null;
    return remembered.forgetAll(session.user, 'user_revoked_all', context(ctx));
  };

  /** `{id}` or `{all: true}` from a body; a string saying what is wrong otherwise. */
  const target = (body: Record<string, unknown>): { id: string } | { all: true } | string => {
    const id = body['id'];
    const all = body['all'];
    if (id !== undefined && all !== undefined) return 'Send either "id" or "all", not both.';
    if (id !== undefined) return typeof id === 'string' && ID.test(id) ? { id } : '"id" must be the id of a remembered browser, as GET /_guard/api/remembered-browsers lists them.';
    if (all === true || all === '1') return { all: true };
    return 'Send {"id": "..."} to forget one browser or {"all": true} to forget them all.';
  };

  const answerJson = async (ctx: Context, session: SessionRecord, what: { id: string } | { all: true }): Promise<void> => {
    const n = await forget(ctx, session, what);
    if (n === null) {
      sendError(ctx, 404, 'unknown_remembered_browser', 'No such remembered browser (already forgotten or expired).');
      return;
    }
    setOwnResponseHeaders(ctx);
    ctx.body = { status: 'forgotten', count: n };
  };

  const routes: RouteDefinition[] = [
    {
      path: FORGET_BROWSER_PATH,
      access: 'authenticated',
      register(router) {
        router.post(FORGET_BROWSER_PATH, async (ctx) => {
          if (http.refuseCrossSite(ctx)) return;
          const read = await http.readBody(ctx, ['form']);
          if (!read) return;
          const session = sessionOf(ctx);
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
            n = await forget(ctx, session, what);
          } catch (error) {
            deps.logger.error({ err: error, user: session.user }, 'could not forget the remembered browser');
            return http.redirectWithFlash(ctx, session, SECURITY, { status: 503, error: t.forgetBrowserFailed });
          }
          if (n === null) return http.redirectWithFlash(ctx, session, SECURITY, { status: 404, error: t.forgetBrowserGone });
          http.redirectWithFlash(ctx, session, SECURITY, { status: 200, notice: 'id' in what ? t.forgotBrowser : t.forgotAllBrowsers(n) });
        });
      },
    },
    {
      path: API,
      access: 'authenticated',
      register(router) {
        router.get(API, async (ctx) => {
          const session = sessionOf(ctx);
          if (!session) return loginRequired(ctx);
          const browsers = await remembered.list(session.user);
          setOwnResponseHeaders(ctx);
          ctx.body = { enabled: remembered.enabled, days: remembered.days, browsers: browsers.map((b) => view(ctx, b)) };
        });
        router.delete(API, async (ctx) => {
          if ((await http.readJsonCall(ctx)) === null) return;
          const session = sessionOf(ctx);
          if (!session) return loginRequired(ctx);
          await answerJson(ctx, session, { all: true });
        });
      },
    },
    {
      path: `${API}/revoke`,
      access: 'authenticated',
      register(router) {
        router.post(`${API}/revoke`, async (ctx) => {
          const body = await http.readJsonCall(ctx);
          if (body === null) return;
          const session = sessionOf(ctx);
          if (!session) return loginRequired(ctx);
          const what = target(body);
          if (typeof what === 'string') {
            sendError(ctx, 400, 'bad_request', what);
            return;
          }
          await answerJson(ctx, session, what);
        });
      },
    },
    {
      path: `${API}/:id`,
      access: 'authenticated',
      register(router) {
        router.delete(`${API}/:id`, async (ctx) => {
          if ((await http.readJsonCall(ctx)) === null) return;
          const session = sessionOf(ctx);
          if (!session) return loginRequired(ctx);
          const id = ctx.params['id'] ?? '';
          if (!ID.test(id)) {
            sendError(ctx, 400, 'bad_request', 'The id in the path must be the id of a remembered browser.');
            return;
          }
          await answerJson(ctx, session, { id });
        });
      },
    },
  ];
  return { routes, section };
}
