import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Context } from 'koa';
import { renderErrorPage } from '../pages/error-page.tsx';
import { DEFAULT_BRAND, pageUi, type Brand, type PageUi } from '../pages/page-ui.tsx';
import { FlowError } from '../flows/flow-error.ts';
import { wantsHtml } from '../access/audience.ts';
import type { AccessResult, StepUpMethod } from '../access/result.ts';
import type { Identity } from '../access/ports.ts';
import type { CanonicalTarget } from '../proxy/canonical-target.ts';
import type { InterceptKind, SensitiveSpec } from '../policy/types.ts';

/**
 * Every answer the sidecar writes itself goes through here: pages, JSON errors, redirects, the
 * access decision's refusals (over Koa, a bare Node response, or a websocket's raw socket), and
 * the security headers they all carry. Proxied upstream responses never do (src/proxy/headers.ts).
 */

export { wantsHtml };

/**
 * Results whose answer starts one of the sidecar's flows. The sign-in, step-up and require_2fa
 * modules implement these; the entries call them with what the access decision found.
 */
export interface InterceptHandler {
  handle(kind: InterceptKind, ctx: Context, target: CanonicalTarget): Promise<void>;
}

export interface StepUpAnswer {
  /** Records the step-up this session owes and answers 303 (pages) or 401 (API). */
  requireStepUp(ctx: Context, identity: Identity, spec: SensitiveSpec, action: StepUpMethod, target: CanonicalTarget): Promise<void>;
}

export interface MandateAnswer {
  /** Answers require_2fa: 303 to the setup page, or 403 with enable_url. True: the request may go on. */
  answer(ctx: Context, identity: Identity, grace: boolean, target: CanonicalTarget): Promise<boolean>;
}

/**
 * Headers on every response the sidecar writes itself (not on proxied upstream responses). The
 * pages load only their own stylesheets, script and images (the QR code is a data: URL); no inline
 * script or style anywhere, no framing, forms post only back here, and nothing is cached.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'none'; font-src 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const OWN_RESPONSE_HEADERS: Readonly<Record<string, string>> = {
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

/** The brand the own-routes entry put on the request state (entry/own-routes.ts), or the default one. */
function brandOf(ctx: Context): Brand {
  return (ctx.state as { brand?: Brand }).brand ?? DEFAULT_BRAND;
}

/** Language, catalogue and brand of the page this request is answered with. */
export function uiOf(ctx: Context): PageUi {
  return pageUi(brandOf(ctx), ctx.req.headers, ctx.url);
}

/** A 303 to one of the sidecar's pages (or a safe return_to), with the own headers. */
export function redirect(ctx: Context, location: string): void {
  setOwnResponseHeaders(ctx);
  ctx.status = 303;
  ctx.redirect(location);
}

/** A JSON answer of the sidecar's API, with the own headers. */
export function sendJson(ctx: Context, body: unknown, status = 200): void {
  setOwnResponseHeaders(ctx);
  ctx.status = status;
  ctx.body = body;
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
function errorResponse(
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

/** What the access decision's refusals say (the pages take their words from the catalogue by code). */
export const ANSWER_MESSAGES = {
  forbidden: 'You do not have access to this page.',
  twoFactorRequired: 'Your organisation requires two-step verification (2FA) here.',
  loginRequired: 'Sign in to continue.',
  unknownHost: 'This site is not served at this address. Check the address you typed or followed.',
  storeDown: 'Sign-in and verification are temporarily unavailable. Nothing was changed; please try again in a minute.',
  storeDownIngress: 'Sign-in and verification are temporarily unavailable. Please try again in a minute.',
  bodyTimeout: 'The request body arrived too slowly and was refused. Please try again.',
  connections: 'Too many connections from your network address. Close some tabs or wait a moment, then try again.',
  requests: 'Too many requests from your network address at once. Please wait a moment, then try again.',
  busy: 'The service is busy right now. Please try again in a moment.',
  internal: 'Something went wrong on our side. Please try again.',
  upstreamTimeout: 'SmartPush did not answer in time. Please try again in a moment.',
  upstreamUnavailable: 'SmartPush cannot be reached right now. Please try again in a moment.',
} as const;

/** Seconds a client is asked to wait before retrying while the store is unreachable. */
const STORE_DOWN_RETRY_AFTER = '5';

/** 503 while the store cannot answer (fail closed, THREATS T16). */
export function answerStoreUnavailable(ctx: Context, message: string = ANSWER_MESSAGES.storeDown): void {
  ctx.set('Retry-After', STORE_DOWN_RETRY_AFTER);
  sendError(ctx, 503, 'store_unavailable', message);
}

/**
 * The access decision's answers that need no flow: a refused target, sign-in required (303 for
 * pages, 401 JSON for API clients), denied, the store down. Returns false for the other results.
 */
export function answerRefusal(ctx: Context, result: AccessResult): boolean {
  switch (result.kind) {
    case 'reject':
      if (result.status === 421) sendError(ctx, 421, 'unknown_host', ANSWER_MESSAGES.unknownHost);
      else sendError(ctx, 400, 'bad_request', `The request address (path or query) was refused: ${result.reason}.`);
      return true;
    case 'login_required':
      if (wantsHtml(ctx.req.headers)) redirect(ctx, result.loginUrl);
      else sendError(ctx, 401, 'login_required', ANSWER_MESSAGES.loginRequired, { login_url: result.loginUrl });
      return true;
    case 'deny':
      if (result.code === '2fa_required') sendError(ctx, 403, '2fa_required', ANSWER_MESSAGES.twoFactorRequired);
      else sendError(ctx, 403, 'forbidden', ANSWER_MESSAGES.forbidden);
      return true;
    case 'store_unavailable':
      answerStoreUnavailable(ctx);
      return true;
    default:
      return false;
  }
}

/**
 * A refusal on a websocket upgrade's raw socket (no Koa, no page: a JSON body and the connection
 * closed), then the socket destroyed.
 */
export function refuseSocket(socket: { end(data: string): void; destroy(): void }, status: number, error: string, extra: Readonly<Record<string, unknown>> = {}): void {
  const body = JSON.stringify({ error, ...extra });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  socket.destroy();
}

/**
 * A forward-auth redirect: nginx's auth_request passes on only 2xx, 401 and 403, so there it
 * travels as 401 + Location (the snippet's error_page makes it the browser's redirect).
 */
export function answerIngressRedirect(ctx: Context, location: string, status: 302 | 401): void {
  ctx.set('Location', location);
  ctx.set('Cache-Control', 'no-store');
  ctx.status = status;
  ctx.body = '';
}
