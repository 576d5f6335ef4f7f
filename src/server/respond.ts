import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'koa';
import { renderErrorPage } from '../pages/error-page.tsx';
import { FlowError } from '../flows/flow-error.ts';

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
export const OWN_RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
  'Content-Security-Policy':
    "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};

export function setOwnResponseHeaders(ctx: Context): void {
  ctx.set(OWN_RESPONSE_HEADERS);
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

/** An error answer as a page for people and JSON for programs (DESIGN §5). */
export function errorResponse(
  headers: IncomingHttpHeaders,
  status: number,
  error: string,
  message: string,
  extra: Readonly<Record<string, unknown>> = {},
  requestId?: string,
): { type: string; body: string } {
  if (wantsHtml(headers)) {
    return {
      type: 'text/html; charset=utf-8',
      body: renderErrorPage({ status, title: ERROR_TITLES[status] ?? 'Error', message, ...(requestId ? { requestId } : {}) }),
    };
  }
  return { type: 'application/json; charset=utf-8', body: JSON.stringify({ error, message, ...extra }) };
}

export function sendError(
  ctx: Context,
  status: number,
  error: string,
  message: string,
  extra: Readonly<Record<string, unknown>> = {},
): void {
  setOwnResponseHeaders(ctx);
  const answer = errorResponse(ctx.req.headers, status, error, message, extra, (ctx.state as { requestId?: string }).requestId);
  ctx.status = status;
  ctx.type = answer.type;
  ctx.body = answer.body;
}

/** The same answer written straight to a Node response (the proxy fast path has no Koa context). */
export function writeError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  error: string,
  message: string,
  requestId: string,
): void {
  const answer = errorResponse(req.headers, status, error, message, {}, requestId);
  res.writeHead(status, { ...OWN_RESPONSE_HEADERS, 'Content-Type': answer.type, 'Content-Length': Buffer.byteLength(answer.body) });
  res.end(req.method === 'HEAD' ? undefined : answer.body);
}

/**
 * Takes a flow's refusal for an HTTP answer: anything else is rethrown (the app's error handler
 * answers it), and a refusal that says when to come back sets Retry-After.
 */
export function acceptFlowError(ctx: Context, error: unknown): FlowError {
  if (!(error instanceof FlowError)) throw error;
  const retry = error.extra['retry_after'];
  if (typeof retry === 'number') ctx.set('Retry-After', String(retry));
  return error;
}

/** A flow's refusal as the JSON (or page) error answer. */
export function sendFlowError(ctx: Context, error: unknown): void {
  const failure = acceptFlowError(ctx, error);
  sendError(ctx, failure.status, failure.code, failure.message, failure.extra);
}
