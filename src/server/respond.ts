import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'koa';
import { renderErrorPage } from '../pages/error-page.tsx';
import { DEFAULT_BRAND, pageUi, type Brand, type PageUi } from '../pages/page-ui.tsx';
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

/**
 * Headers on every response the sidecar writes itself (not on proxied upstream responses). The
 * pages load only their own stylesheets, script and images (the QR code is a data: URL); no inline
 * script or style anywhere, no framing, forms post only back here, and nothing is cached.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'none'; font-src 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export const OWN_RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
};

export function setOwnResponseHeaders(ctx: Context): void {
  ctx.set(OWN_RESPONSE_HEADERS);
}

/** The brand the app put on the request state (app.ts), or the default one outside the app. */
export function brandOf(ctx: Context): Brand {
  return (ctx.state as { brand?: Brand }).brand ?? DEFAULT_BRAND;
}

/** Language, catalogue and brand of the page this request is answered with. */
export function uiOf(ctx: Context): PageUi {
  return pageUi(brandOf(ctx), ctx.req.headers, ctx.url);
}

/** A sidecar page: the own headers, the status and the rendered HTML. */
export function sendPage(ctx: Context, status: number, html: string): void {
  setOwnResponseHeaders(ctx);
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = html;
}

/**
 * An error answer as a page for people and JSON for programs (DESIGN §5). The JSON keeps the
 * English `message`; the page takes its words from the catalogue by the error code, in the
 * visitor's language.
 */
export function errorResponse(
  headers: IncomingHttpHeaders,
  status: number,
  error: string,
  message: string,
  extra: Readonly<Record<string, unknown>> = {},
  requestId?: string,
  page?: { brand: Brand; url: string },
): { type: string; body: string } {
  if (wantsHtml(headers)) {
    const ui = pageUi(page?.brand ?? DEFAULT_BRAND, headers, page?.url ?? '/');
    return {
      type: 'text/html; charset=utf-8',
      body: renderErrorPage(ui, { status, error, ...(requestId ? { requestId } : {}) }),
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
  const answer = errorResponse(ctx.req.headers, status, error, message, extra, (ctx.state as { requestId?: string }).requestId, {
    brand: brandOf(ctx),
    url: ctx.url,
  });
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
  brand: Brand = DEFAULT_BRAND,
  headers: Readonly<Record<string, string>> = {},
): void {
  const answer = errorResponse(req.headers, status, error, message, {}, requestId, { brand, url: req.url ?? '/' });
  // An answer given before the request's body was all read closes the connection: otherwise Node
  // keeps reading (and discarding) whatever the client still trickles in (THREATS T17).
  const close = req.complete ? {} : { Connection: 'close' };
  res.writeHead(status, { ...OWN_RESPONSE_HEADERS, ...close, ...headers, 'Content-Type': answer.type, 'Content-Length': Buffer.byteLength(answer.body) });
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
