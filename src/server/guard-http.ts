import type { Context } from 'koa';
import { bodyParser } from '@koa/bodyparser';
import type { Logger } from '../observability/logger.ts';
import { clearCookieHeader, cookieName, readCookies, setCookieHeader, type CookieKind, type CookieOptions } from '../session/cookies.ts';
import { createFlash, type Flash } from '../http/flash.ts';
import { crossSite, csrfToken, csrfTokenValid } from '../session/csrf.ts';
import type { SessionKeys } from '../session/keys.ts';
import type { SessionRecord } from '../session/sessions.ts';
import type { GuardState } from './app.ts';
import type { Random } from '../core/random.ts';
import { sendError, setOwnResponseHeaders } from './respond.ts';

/**
 * What every sidecar page and API handler needs from HTTP: the scheme and origin it is served
 * under, its cookies, CSRF tokens and cross-site refusal, and bounded body reading. One place, so
 * the login, verification and 2FA-settings handlers apply the same rules.
 */

export type BodyKind = 'json' | 'form';

export interface GuardHttpOptions {
  /** Scheme decided by config (public_url); undefined means "as the request arrived". */
  readonly publicOrigin?: string;
  readonly sameSite: 'lax' | 'strict';
}

/** Seconds a flash lives: long enough for the redirect, short enough not to surprise later. */
const FLASH_MAX_AGE = 120;

const parseBody = bodyParser({ enableTypes: ['json', 'form'], jsonLimit: '16kb', formLimit: '16kb', encoding: 'utf-8' });

function bodyKind(ctx: Context): BodyKind | null {
  const type = ctx.request.is('application/json', 'application/x-www-form-urlencoded');
  if (type === 'application/json') return 'json';
  if (type === 'application/x-www-form-urlencoded') return 'form';
  return null;
}

export function createGuardHttp(deps: { keys: SessionKeys; random: Random; logger: Logger; options: GuardHttpOptions }) {
  const { options, keys, logger } = deps;
  const flashes = createFlash(keys.csrfKey);
  const state = (ctx: Context): GuardState => ctx.state as GuardState;
  const secure = (ctx: Context): boolean =>
    options.publicOrigin !== undefined ? options.publicOrigin.startsWith('https:') : state(ctx).client.proto === 'https';
  const ownOrigin = (ctx: Context): string => {
    if (options.publicOrigin !== undefined) return options.publicOrigin;
    const client = state(ctx).client;
    return `${client.proto}://${client.host}`;
  };
  const cookieOptions = (ctx: Context): CookieOptions => ({ secure: secure(ctx), sameSite: options.sameSite });
  const appendSetCookie = (ctx: Context, values: readonly string[]): void => {
    if (values.length > 0) ctx.append('Set-Cookie', [...values]);
  };
  const cookie = (ctx: Context, kind: CookieKind): string | undefined =>
    readCookies(ctx.get('cookie'))[cookieName(kind, secure(ctx))];

  /** The pre-login nonce that form tokens are bound to (set when the visitor has none). */
  const preLoginNonce = (ctx: Context): string => {
    const existing = cookie(ctx, 'csrf');
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

  /** Reads a body of one of the accepted kinds; answers 415/413/400 itself and returns null then. */
  const readBody = async (ctx: Context, accepted: readonly BodyKind[]): Promise<{ kind: BodyKind; body: Record<string, unknown> } | null> => {
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
    const body = (ctx.request as { body?: unknown }).body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      sendError(ctx, 400, 'bad_request', 'The request body must be an object.');
      return null;
    }
    return { kind, body: body as Record<string, unknown> };
  };


  return {
    state,
    secure,
    cookieOptions,
    appendSetCookie,
    cookie,
    csrfBinding,

    /** A form token for this visitor (bound to the session when there is one). */
    formToken(ctx: Context, session: SessionRecord | null): string {
      return csrfToken(keys.csrfKey, csrfBinding(ctx, session));
    },

    formTokenValid(ctx: Context, session: SessionRecord | null, token: unknown): boolean {
      return csrfTokenValid(keys.csrfKey, csrfBinding(ctx, session), token);
    },

    refuseCrossSite,
    readBody,

    /** A JSON API call: same-site and application/json (an empty body is allowed). */
    async readJsonCall(ctx: Context): Promise<Record<string, unknown> | null> {
      if (refuseCrossSite(ctx)) return null;
      const hasBody = (ctx.request.length ?? 0) > 0 || ctx.get('transfer-encoding') !== '';
      if (!hasBody) {
        // A call without a body (start, resend, logout) may name JSON or nothing; never a form type.
        const type = ctx.get('content-type');
        if (type && !/^application\/json\s*(;|$)/i.test(type)) {
          sendError(ctx, 415, 'unsupported_media_type', 'Send this as application/json.');
          return null;
        }
        return {};
      }
      const read = await readBody(ctx, ['json']);
      return read ? read.body : null;
    },

    redirect(ctx: Context, location: string): void {
      setOwnResponseHeaders(ctx);
      ctx.status = 303;
      ctx.redirect(location);
    },

    /**
     * Post/Redirect/Get for a refused or failed form: the answer is a 303 to the GET page `path`
     * (with `query`), and what that page must say travels in a short signed cookie, bound to this
     * browser (its session or pre-login nonce), never in the URL. Back and reload then meet a GET.
     */
    redirectWithFlash(ctx: Context, session: SessionRecord | null, path: string, flash: Flash, query = ''): void {
      appendSetCookie(ctx, [setCookieHeader('flash', flashes.seal(csrfBinding(ctx, session), path, flash), { ...cookieOptions(ctx), maxAge: FLASH_MAX_AGE })]);
      setOwnResponseHeaders(ctx);
      ctx.status = 303;
      ctx.redirect(`${path}${query}`);
    },

    /** The flash for this GET page, once: it is cleared whether or not it was for this page. */
    takeFlash(ctx: Context, session: SessionRecord | null, path: string): Flash | null {
      const value = cookie(ctx, 'flash');
      if (value === undefined || value === '') return null;
      appendSetCookie(ctx, [clearCookieHeader('flash', cookieOptions(ctx))]);
      return flashes.open(csrfBinding(ctx, session), path, value);
    },
  };
}

export type GuardHttp = ReturnType<typeof createGuardHttp>;
