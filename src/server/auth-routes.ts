import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import type Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import { z } from 'zod';
import type { Logger } from '../observability/logger.ts';
import type { ClientFacts } from '../proxy/client-address.ts';
import { filterCookieHeader } from '../proxy/headers.ts';
import type { CanonicalTarget } from '../proxy/canonical-target.ts';
import type { InterceptKind } from '../policy/types.ts';
import type { LoginFlow, LoginResult } from '../flows/login.ts';
import { cookieFromSetCookie, type UpstreamAccount } from '../flows/upstream-account.ts';
import { clearCookieHeader, cookieName, readCookies, setCookieHeader } from '../session/cookies.ts';
import { crossSite, csrfToken, csrfTokenValid } from '../session/csrf.ts';
import type { SessionKeys } from '../session/keys.ts';
import type { SessionRecord, SessionService } from '../session/sessions.ts';
import { renderLoginPage } from '../pages/login-page.tsx';
import { renderLogoutPage } from '../pages/logout-page.tsx';
import type { Random } from './providers.ts';
import { sendError, setOwnResponseHeaders, wantsHtml } from './respond.ts';
import { safeReturnTo } from './return-to.ts';
import type { GuardRoute } from './enforce.ts';
import type { GuardState, Identity, IdentityResolver, InterceptHandler } from './app.ts';

/**
 * Sign-in and sign-out over HTTP: the sidecar's login page and JSON API, the upstream's own login
 * and logout routes taken over (so old forms and bookmarks take the same path), the identity
 * resolver the enforcement point consults, and the upstream cookie binding.
 */

export interface AuthOptions {
  /** Scheme decided by config (public_url); undefined means "as the request arrived". */
  readonly publicOrigin?: string;
  readonly sameSite: 'lax' | 'strict';
  readonly landing: string;
  /** The upstream's session cookie names: withheld, bound and never taken from the client. */
  readonly upstreamCookies: readonly string[];
  /** Field names of the upstream's own login form (for intercepted posts). */
  readonly loginFields: { readonly email: string; readonly password: string };
  readonly accept: ReadonlyArray<'form' | 'json'>;
}

export interface AuthDeps {
  readonly sessions: SessionService;
  readonly login: LoginFlow;
  readonly account: UpstreamAccount;
  readonly keys: SessionKeys;
  readonly random: Random;
  readonly logger: Logger;
  readonly options: AuthOptions;
}

export type RouteDefinition = GuardRoute & { register(router: Router): void };

const ANONYMOUS: Identity = { user: { authenticated: false }, session: null };
const GENERIC_FAILURE = 'The email or password is not correct.';
const credentialsSchema = z.object({ email: z.string(), password: z.string() }).loose();
const formSchema = credentialsSchema.extend({ return_to: z.string().optional() });

const parseBody = bodyParser({ enableTypes: ['json', 'form'], jsonLimit: '16kb', formLimit: '16kb', encoding: 'utf-8' });

type BodyKind = 'json' | 'form';

function bodyKind(ctx: Context): BodyKind | null {
  const type = ctx.request.is('application/json', 'application/x-www-form-urlencoded');
  if (type === 'application/json') return 'json';
  if (type === 'application/x-www-form-urlencoded') return 'form';
  return null;
}

/** Reads a body of one of the accepted kinds; answers 415/413/400 itself and returns null then. */
async function readBody(ctx: Context, accepted: readonly BodyKind[]): Promise<{ kind: BodyKind; body: unknown } | null> {
  const kind = bodyKind(ctx);
  if (kind === null || !accepted.includes(kind)) {
    sendError(ctx, 415, 'unsupported_media_type', `Send this as ${accepted.map((k) => (k === 'json' ? 'application/json' : 'application/x-www-form-urlencoded')).join(' or ')}.`);
    return null;
  }
  const charset = ctx.request.charset.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') {
    // Decoding another charset as UTF-8 would garble credentials; say so instead of failing oddly.
    sendError(ctx, 415, 'unsupported_media_type', 'Send this body encoded as UTF-8.');
    return null;
  }
  try {
    await parseBody(ctx, async () => undefined);
  } catch (error) {
    const status = (error as { status?: number }).status;
    if (status === 413) sendError(ctx, 413, 'payload_too_large', 'The request body is too large.');
    else sendError(ctx, 400, 'bad_request', 'The request body could not be read.');
    return null;
  }
  return { kind, body: (ctx.request as { body?: unknown }).body };
}

export function createAuth(deps: AuthDeps): { identity: IdentityResolver; intercept: InterceptHandler; routes: RouteDefinition[] } {
  const { sessions, options, keys, logger } = deps;
  const upstreamNames = new Set(options.upstreamCookies);
  // Matched without case: an upstream framework that ignores case must not read a client's copy.
  const upstreamNamesLower = new Set(options.upstreamCookies.map((n) => n.toLowerCase()));
  const isUpstreamSessionCookie = (name: string): boolean => upstreamNamesLower.has(name.toLowerCase());

  const secure = (ctx: Context): boolean =>
    options.publicOrigin !== undefined ? options.publicOrigin.startsWith('https:') : (ctx.state as GuardState).client.proto === 'https';
  const ownOrigin = (ctx: Context): string => {
    if (options.publicOrigin !== undefined) return options.publicOrigin;
    const client = (ctx.state as GuardState).client;
    return `${client.proto}://${client.host}`;
  };
  const cookieOptions = (ctx: Context) => ({ secure: secure(ctx), sameSite: options.sameSite });
  const state = (ctx: Context): GuardState => ctx.state as GuardState;
  const appendSetCookie = (ctx: Context, values: readonly string[]): void => {
    if (values.length > 0) ctx.append('Set-Cookie', [...values]);
  };

  /** The pre-login nonce that form tokens are bound to (set when the visitor has none). */
  const preLoginNonce = (ctx: Context): string => {
    const name = cookieName('csrf', secure(ctx));
    const existing = readCookies(ctx.get('cookie'))[name];
    if (existing && /^[A-Za-z0-9_-]{22,64}$/.test(existing)) return existing;
    const nonce = deps.random.bytes(24).toString('base64url');
    appendSetCookie(ctx, [setCookieHeader('csrf', nonce, cookieOptions(ctx))]);
    return nonce;
  };
  const csrfBinding = (ctx: Context, session: SessionRecord | null): string =>
    session ? `session:${session.id}` : `pre:${preLoginNonce(ctx)}`;

  /** Browsers say where a request comes from; a cross-site unsafe request is refused (THREATS T7). */
  const refuseCrossSite = (ctx: Context): boolean => {
    const why = crossSite(ctx.req.headers, ownOrigin(ctx));
    if (why === null) return false;
    logger.warn({ requestId: state(ctx).requestId, why }, 'cross-site request refused');
    sendError(ctx, 403, 'cross_site_request', 'This request came from another site and was refused.');
    return true;
  };

  const loginPage = (ctx: Context, status: number, props: { returnTo: string; email?: string; error?: string; notice?: string }): void => {
    setOwnResponseHeaders(ctx);
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderLoginPage({ csrf: csrfToken(keys.csrfKey, csrfBinding(ctx, null)), ...props });
  };

  const attempt = (ctx: Context, email: string, password: string): Promise<LoginResult> =>
    deps.login.attempt({
      email,
      password,
      client: state(ctx).client,
      requestId: state(ctx).requestId,
      userAgent: ctx.get('user-agent') || undefined,
    });

  /** Releases the withheld cookies and the new sidecar session in one response. */
  const completeLogin = (ctx: Context, result: Extract<LoginResult, { kind: 'authenticated' }>): void => {
    // Over https the released upstream cookies get Secure too: the upstream may not know it is behind TLS.
    const released = secure(ctx) ? result.upstreamSetCookies.map((c) => (/;\s*secure\s*(;|$)/i.test(c) ? c : `${c}; Secure`)) : result.upstreamSetCookies;
    appendSetCookie(ctx, [...released, setCookieHeader('session', result.cookieValue, cookieOptions(ctx))]);
  };

  const retryAfterSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

  const answerJson = (ctx: Context, result: LoginResult): void => {
    setOwnResponseHeaders(ctx);
    switch (result.kind) {
      case 'authenticated':
        completeLogin(ctx, result);
        ctx.status = 200;
        ctx.body = { status: 'authenticated' };
        return;
      case 'invalid_credentials':
        sendError(ctx, 401, 'invalid_credentials', GENERIC_FAILURE);
        return;
      case 'too_many_attempts': {
        const seconds = retryAfterSeconds(result.retryAfterMs);
        ctx.set('Retry-After', String(seconds));
        sendError(ctx, 429, 'too_many_attempts', 'Too many failed sign-in attempts. Try again later.', { retry_after: seconds });
        return;
      }
      case 'unavailable':
        sendError(ctx, 503, 'login_unavailable', 'Signing in is not possible right now because SmartPush cannot be reached. Please try again in a moment.');
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
      case 'invalid_credentials':
        loginPage(ctx, 401, { returnTo, email, error: GENERIC_FAILURE });
        return;
      case 'too_many_attempts': {
        const minutes = Math.ceil(result.retryAfterMs / 60_000);
        ctx.set('Retry-After', String(retryAfterSeconds(result.retryAfterMs)));
        loginPage(ctx, 429, { returnTo, email, error: `Too many failed attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.` });
        return;
      }
      case 'unavailable':
        loginPage(ctx, 503, { returnTo, email, error: 'Signing in is not possible right now because SmartPush cannot be reached. Please try again in a moment.' });
        return;
    }
  };

  const logout = async (ctx: Context): Promise<void> => {
    const session = state(ctx).identity.session;
    const clear = [clearCookieHeader('session', cookieOptions(ctx))];
    if (session) {
      const upstream = await deps.account.logout(session.upstreamCookies, {
        forwardedFor: state(ctx).client.forwardedFor,
        requestId: state(ctx).requestId,
      });
      if (!upstream.ok) logger.warn({ requestId: state(ctx).requestId, user: session.user }, 'upstream logout failed; the sidecar session ends anyway');
      await sessions.revoke(session.id);
      clear.push(...upstream.setCookies);
      logger.info({ event: 'logout', user: session.user, requestId: state(ctx).requestId }, 'logged out');
    }
    // The browser's copies of the upstream cookies go too, whatever the upstream answered.
    for (const name of upstreamNames) clear.push(`${name}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax`);
    appendSetCookie(ctx, clear);
  };

  const identity: IdentityResolver = {
    async resolve(req: IncomingMessage, client: ClientFacts): Promise<Identity> {
      const header = req.headers.cookie;
      if (!header) return ANONYMOUS;
      const value = readCookies(header)[cookieName('session', options.publicOrigin !== undefined ? options.publicOrigin.startsWith('https:') : client.proto === 'https')];
      if (!value) return ANONYMOUS;
      const session = await sessions.resolve(value);
      if (!session) return ANONYMOUS;
      return { user: { authenticated: true, twoFactorEnabled: false }, session };
    },
    upstreamCookieHeader(header, who) {
      const bound = who.session?.upstreamCookies ?? {};
      const kept = header ? filterCookieHeader(header, isUpstreamSessionCookie) : '';
      const pairs = Object.entries(bound).filter(([name]) => upstreamNames.has(name)).map(([name, value]) => `${name}=${value}`);
      const joined = [kept, ...pairs].filter((part) => part.length > 0).join('; ');
      return joined.length > 0 ? joined : undefined;
    },
    /**
     * The upstream changed or ended its session during a proxied request. An ended upstream
     * session ends the sidecar session; a new one is adopted only when the profile endpoint says
     * it is the same account (a password-reset auto-login into another account must not inherit
     * this session's verified factors), otherwise the sidecar session ends (fail closed).
     */
    observeUpstreamResponse(who, setCookies) {
      const session = who.session;
      if (!session) return;
      const changes: Record<string, string | null> = {};
      for (const header of setCookies) {
        const name = header.split('=', 1)[0]?.trim() ?? '';
        if (!upstreamNames.has(name)) continue;
        const cookie = cookieFromSetCookie(header);
        if (cookie === null) changes[name] = null;
        else if (session.upstreamCookies[name] !== cookie.value) changes[name] = cookie.value;
      }
      if (Object.keys(changes).length === 0) return;
      const end = (reason: string): Promise<void> => {
        logger.warn({ event: 'session_ended', user: session.user, reason }, 'upstream session changed; sidecar session ended');
        return sessions.revoke(session.id);
      };
      const adopt = async (): Promise<void> => {
        if (Object.values(changes).some((v) => v === null)) return end('upstream_session_ended');
        const next = { ...session.upstreamCookies, ...(changes as Record<string, string>) };
        const profile = await deps.account.profile(next, { forwardedFor: '127.0.0.1', requestId: 'session-rotation' });
        if (!profile?.email || profile.email.trim().toLowerCase() !== session.user) return end('upstream_session_of_unknown_account');
        session.upstreamCookies = next;
        await sessions.save(session);
      };
      adopt().catch((error: unknown) => logger.error({ err: error }, 'could not update the upstream cookie binding'));
    },
  };

  const redirect = (ctx: Context, location: string): void => {
    setOwnResponseHeaders(ctx);
    ctx.status = 303;
    ctx.redirect(location);
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
      if (kind === 'logout') {
        if (safe) return redirect(ctx, '/_guard/logout');
        if (refuseCrossSite(ctx)) return;
        await logout(ctx);
        return redirect(ctx, '/_guard/login?logged_out=1');
      }
      if (safe) {
        // The upstream sends people to its login page when its own session is gone. A sidecar
        // session without an upstream one is useless (and would loop), so it ends here too.
        const session = state(ctx).identity.session;
        if (session && ctx.method === 'GET') {
          await sessions.revoke(session.id);
          appendSetCookie(ctx, [clearCookieHeader('session', cookieOptions(ctx))]);
          logger.info({ event: 'session_ended', user: session.user, reason: 'upstream_login_page', requestId: state(ctx).requestId }, 'upstream session gone; sidecar session ended');
        }
        return redirect(ctx, '/_guard/login');
      }
      // The legacy form has no sidecar token; the browser's own Origin/Sec-Fetch-Site must vouch.
      if (refuseCrossSite(ctx)) return;
      const read = await readBody(ctx, options.accept);
      if (!read) return;
      const body = read.body as Record<string, unknown>;
      const email = body[options.loginFields.email];
      const password = body[options.loginFields.password];
      if (typeof email !== 'string' || typeof password !== 'string') {
        sendError(ctx, 400, 'bad_request', 'Email and password are required.');
        return;
      }
      const result = await attempt(ctx, email, password);
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
          loginPage(ctx, 200, { returnTo, ...(ctx.query['logged_out'] === '1' ? { notice: 'You have signed out.' } : {}) });
        });
        router.post('/_guard/login', async (ctx) => {
          if (refuseCrossSite(ctx)) return;
          const read = await readBody(ctx, ['form']);
          if (!read) return;
          const fields = read.body as Record<string, unknown>;
          // The token is checked first: a forged form gets 403 whatever else it holds or lacks.
          if (!csrfTokenValid(keys.csrfKey, csrfBinding(ctx, null), fields['_csrf'])) {
            loginPage(ctx, 403, {
              returnTo: safeReturnTo(fields['return_to'], options.landing),
              error: 'This form has expired. Please sign in again.',
            });
            return;
          }
          const form = formSchema.safeParse(read.body);
          if (!form.success) {
            sendError(ctx, 400, 'bad_request', 'Email and password are required.');
            return;
          }
          const returnTo = safeReturnTo(form.data.return_to, options.landing);
          answerHtml(ctx, await attempt(ctx, form.data.email, form.data.password), form.data.email, returnTo);
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
            sendError(ctx, 400, 'bad_request', 'Send {"email": "...", "password": "..."} with string values.');
            return;
          }
          answerJson(ctx, await attempt(ctx, body.data.email, body.data.password));
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
          ctx.type = 'text/html; charset=utf-8';
          ctx.body = renderLogoutPage({ csrf: csrfToken(keys.csrfKey, csrfBinding(ctx, session)) });
        });
        router.post('/_guard/logout', async (ctx) => {
          if (refuseCrossSite(ctx)) return;
          const read = await readBody(ctx, ['form']);
          if (!read) return;
          const session = state(ctx).identity.session;
          const token = (read.body as Record<string, unknown>)['_csrf'];
          if (session && !csrfTokenValid(keys.csrfKey, csrfBinding(ctx, session), token)) {
            sendError(ctx, 403, 'invalid_csrf_token', 'This form has expired. Please try again.');
            return;
          }
          await logout(ctx);
          setOwnResponseHeaders(ctx);
          ctx.status = 303;
          ctx.redirect('/_guard/login?logged_out=1');
        });
      },
    },
    {
      path: '/_guard/api/logout',
      access: 'public',
      register(router) {
        router.post('/_guard/api/logout', async (ctx) => {
          if (refuseCrossSite(ctx)) return;
          if (ctx.request.length && !ctx.request.is('application/json')) {
            sendError(ctx, 415, 'unsupported_media_type', 'Send this as application/json.');
            return;
          }
          if (!ctx.request.length && ctx.get('content-type') && !ctx.request.is('application/json')) {
            sendError(ctx, 415, 'unsupported_media_type', 'Send this as application/json.');
            return;
          }
          await logout(ctx);
          setOwnResponseHeaders(ctx);
          ctx.body = { status: 'logged_out' };
        });
      },
    },
  ];

  return { identity, intercept, routes };
}
