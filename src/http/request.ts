import type { Context } from 'koa';
import type { Actor, Rotated } from '../flows/two-factor-settings.ts';
import { setCookieHeader } from '../session/cookies.ts';
import type { GuardHttp } from './guard-http.ts';
import { sendError, sendFlowError, setOwnResponseHeaders } from './answer.ts';

/** What the signed-in routes of every group read from a request the same way. */

/** The signed-in user making this request, as the flows take it; null without a session. */
export function actorOf(http: GuardHttp, ctx: Context): Actor | null {
  const state = http.state(ctx);
  const session = state.identity.session;
  return session ? { session, client: state.client, requestId: state.requestId, userAgent: ctx.get('user-agent') || undefined } : null;
}

/**
 * A signed-in form post: same-site, a form body, a session. Answers itself (403, 415/413/400, or
 * 303 to the sign-in page) and returns null when the post cannot go on.
 */
export async function signedInForm(http: GuardHttp, ctx: Context): Promise<{ actor: Actor; body: Record<string, unknown> } | null> {
  if (http.refuseCrossSite(ctx)) return null;
  const read = await http.readBody(ctx, ['form']);
  if (!read) return null;
  const actor = actorOf(http, ctx);
  if (!actor) {
    http.redirect(ctx, '/_guard/login');
    return null;
  }
  return { actor, body: read.body };
}

/** A JSON call that needs a session and has none (the enforcement point normally answers first). */
export function loginRequired(ctx: Context): void {
  sendError(ctx, 401, 'login_required', 'Sign in to continue.', { login_url: '/_guard/login' });
}

/** A query or form value given once (a repeated one counts by its first). */
export const one = (value: unknown): string | undefined => (typeof value === 'string' ? value : Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined);

/** A flow that rotated the session (factors changed): this browser continues under the new id. */
export function setRotated(http: GuardHttp, ctx: Context, rotated: Rotated): void {
  http.appendSetCookie(ctx, [setCookieHeader('session', rotated.cookieValue, http.cookieOptions(ctx))]);
}

export type ActorCall = (actor: Actor, body: Record<string, unknown>, ctx: Context) => Promise<{ body: unknown; rotated?: Rotated | undefined }>;

/**
 * A signed-in JSON API call: same-site JSON, a session, then the flow; a flow's error becomes its
 * JSON answer (answer.ts), and a rotated session its new cookie.
 */
export async function answerActorCall(http: GuardHttp, ctx: Context, run: ActorCall): Promise<void> {
  const body = await http.readJsonCall(ctx);
  if (body === null) return;
  const actor = actorOf(http, ctx);
  if (!actor) return loginRequired(ctx);
  try {
    const { body: answer, rotated } = await run(actor, body, ctx);
    setOwnResponseHeaders(ctx);
    if (rotated) setRotated(http, ctx, rotated);
    ctx.body = answer;
  } catch (error) {
    sendFlowError(ctx, error);
  }
}
