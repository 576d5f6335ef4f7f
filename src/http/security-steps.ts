import type { Context } from 'koa';
import { FlowError } from '../flows/flow-error.ts';
import type { Actor, TwoFactorSettings } from '../flows/two-factor-settings.ts';
import type { RememberedBrowsersSectionProps } from '../pages/remembered-browsers-section.tsx';
import type { PageMessage, PageMethod } from '../pages/security-parts.tsx';
import type { ActiveSessionsView } from '../pages/sessions-section.tsx';
import type { SendView } from '../pages/send-status.tsx';
import { flowMessage } from '../pages/flow-messages.ts';
import type { SessionRecord } from '../session/sessions.ts';
import type { GuardHttp } from './guard-http.ts';
import { acceptFlowError, uiOf } from './answer.ts';
import { actorOf, one } from './request.ts';

/**
 * What the Login & Security pages (security.ts, enable.ts, disable.ts, recovery-codes.ts) share:
 * the same 2FA settings flows as the JSON API (two-factor-api.ts), as plain HTML forms that work
 * without JavaScript. Each step is a POST answered with a 303 to the next step's GET
 * (Post/Redirect/Get); the step a browser is on lives in the URL, and the flow, which keeps the real
 * state server-side, refuses a step out of order. What must be seen only once (the TOTP key and QR
 * code, recovery codes) is the answer to the POST itself, never something a later GET could show
 * again. Access is decided by the enforcement point; the handlers only translate between forms and
 * the flows.
 */

export interface SecurityDeps {
  readonly settings: TwoFactorSettings;
  readonly http: GuardHttp;
  /** "Active sessions" on the overview (sessions.ts). */
  readonly activeSessions?: (ctx: Context, session: SessionRecord) => Promise<ActiveSessionsView>;
  /** The "Remembered browsers" section (remembered-browsers.ts); absent: not shown. */
  readonly rememberedSection?: ((ctx: Context, session: SessionRecord) => Promise<RememberedBrowsersSectionProps | undefined>) | undefined;
}

export const SECURITY = '/_guard/security';
export const ENABLE = '/_guard/security/enable';
export const DISABLE = '/_guard/security/disable';
export const RECOVERY = '/_guard/security/recovery-codes';

export const METHODS: readonly PageMethod[] = ['totp', 'sms', 'email'];

export type Body = Record<string, unknown>;

export const asMethod = (value: unknown): PageMethod | undefined => {
  const v = one(value);
  return v === 'totp' || v === 'sms' || v === 'email' ? v : undefined;
};
export const asChannel = (value: unknown): 'email' | 'sms' => (one(value) === 'sms' ? 'sms' : 'email');
export const parseMethods = (value: unknown): PageMethod[] => {
  const listed = (one(value) ?? '').split(',').filter((m): m is PageMethod => (METHODS as readonly string[]).includes(m));
  const unique = METHODS.filter((m) => listed.includes(m));
  return unique.length > 0 ? unique : [...METHODS];
};

/** Status and message of a flow error (other errors go on to the app's error handler). */
export function problem(ctx: Context, error: unknown): { status: number; message: PageMessage; code: string } {
  const failure = acceptFlowError(ctx, error);
  return { status: failure.status, message: { error: flowMessage(uiOf(ctx).t, failure) }, code: failure.code };
}

/**
 * A GET page of a flow. The enforcement point lets only signed-in browsers here; the session
 * check is for the type system (and sends anyone else to sign in rather than failing).
 */
export async function signedInPage(d: SecurityDeps, ctx: Context, path: string, handler: (actor: Actor) => Promise<void>): Promise<void> {
  const actor = actorOf(d.http, ctx);
  if (!actor) return d.http.redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(path)}`);
  await handler(actor);
}

/**
 * A form POST: same-site only, a form body, and the form token bound to this session — checked
 * before anything else, so a forged or stale form changes nothing (403).
 */
export async function formPost(d: SecurityDeps, ctx: Context, path: string, handler: (actor: Actor, body: Body) => Promise<void>): Promise<void> {
  const { http } = d;
  if (http.refuseCrossSite(ctx)) return;
  const read = await http.readBody(ctx, ['form']);
  if (!read) return;
  const actor = actorOf(http, ctx);
  if (!actor) return http.redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(path)}`);
  if (!http.formTokenValid(ctx, actor.session, read.body['_csrf'])) {
    return http.redirectWithFlash(ctx, actor.session, path, { status: 403, error: uiOf(ctx).t.forged }, '?step=restart');
  }
  await handler(actor, read.body);
}

/** What a code step says about sending, from the server's state on every request (never the URL). */
export async function sendView(d: SecurityDeps, session: SessionRecord, step: 'identity' | 'enable' | 'disable' | 'recovery', method: PageMethod, destination: string | null, recovery: boolean): Promise<SendView | null> {
  if (method === 'totp') return null;
  const state = await d.settings.sendState(session, step);
  return { method, destination, live: state.live, refused: state.refused, resendAfter: Math.ceil(state.resendInMs / 1000), recovery };
}

/** A send that sent nothing (budget, delivery, country): the code step's sending status tells it, with the ways that still work. */
export const sendRefused = (error: unknown): boolean =>
  error instanceof FlowError &&
  ((error.code === 'too_many_codes' && error.extra['limit'] === 'send_budget') || error.code === 'delivery_failed' || error.code === 'sms_country_not_allowed');

/**
 * A failed or refused step: 303 to the GET page of the view it failed on, which shows the error
 * (Post/Redirect/Get), so Back and reload never resubmit the form. The view's place is in the
 * URL; the words and the status are in the signed flash.
 */
export const failTo = (d: SecurityDeps, ctx: Context, actor: Actor, path: string, url: string, status: number, message: PageMessage): void =>
  d.http.redirectWithFlash(ctx, actor.session, path, { status, error: message.error, notice: message.notice }, url.slice(path.length));

/** What a GET page of a flow shows after a failed step: the flash's status and words, once. */
export function flashed(d: SecurityDeps, ctx: Context, session: SessionRecord, path: string): { status: number; message: PageMessage } {
  const flash = d.http.takeFlash(ctx, session, path);
  return { status: flash?.status ?? 200, message: { ...(flash?.error ? { error: flash.error } : {}), ...(flash?.notice ? { notice: flash.notice } : {}) } };
}
