import type { IncomingHttpHeaders } from 'node:http';
import type { Context } from 'koa';
import { renderErrorPage } from '../pages/error-page.tsx';

/**
 * HTML for browsers, JSON for everything else (DESIGN §5): an `Accept` that names text/html and
 * no X-Requested-With means a person is looking at the answer.
 */
export function wantsHtml(headers: IncomingHttpHeaders): boolean {
  if (headers['x-requested-with'] !== undefined) return false;
  const accept = headers.accept;
  return typeof accept === 'string' && accept.toLowerCase().includes('text/html');
}

/** Headers on every response the sidecar writes itself (not on proxied upstream responses). */
export function setOwnResponseHeaders(ctx: Context): void {
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Cache-Control', 'no-store');
  ctx.set(
    'Content-Security-Policy',
    "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  );
}

export const ERROR_TITLES: Readonly<Record<number, string>> = {
  400: 'Bad request',
  401: 'Sign-in required',
  403: 'Access denied',
  404: 'Page not found',
  405: 'Method not allowed',
  413: 'Request too large',
  415: 'Unsupported content type',
  429: 'Too many attempts',
  500: 'Something went wrong',
  502: 'SmartPush is not reachable',
  503: 'Temporarily unavailable',
  504: 'SmartPush took too long to answer',
};

export function sendError(
  ctx: Context,
  status: number,
  error: string,
  message: string,
  extra: Readonly<Record<string, unknown>> = {},
): void {
  setOwnResponseHeaders(ctx);
  ctx.status = status;
  const requestId = (ctx.state as { requestId?: string }).requestId;
  if (wantsHtml(ctx.req.headers)) {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderErrorPage({
      status,
      title: ERROR_TITLES[status] ?? 'Error',
      message,
      ...(requestId ? { requestId } : {}),
    });
  } else {
    ctx.body = { error, message, ...extra };
  }
}
