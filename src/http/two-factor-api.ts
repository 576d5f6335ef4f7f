import type { Context } from 'koa';
import type { TwoFactorSettings } from '../flows/two-factor-settings.ts';
import type { GuardHttp } from './guard-http.ts';
import { sendJson } from './answer.ts';
import { actorOf, answerActorCall, loginRequired, type ActorCall } from './request.ts';

/**
 * The JSON API of the 2FA settings flows (DESIGN §5). Access is decided by the enforcement point
 * (every route here needs a session); handlers only translate between HTTP and the flow.
 */

export interface TwoFactorApiDeps {
  readonly settings: TwoFactorSettings;
  readonly http: GuardHttp;
}

type Call = (settings: TwoFactorSettings) => ActorCall;

/** GET /_guard/api/2fa */
export async function twoFactorStatus(d: TwoFactorApiDeps, ctx: Context): Promise<void> {
  const actor = actorOf(d.http, ctx);
  if (!actor) return loginRequired(ctx);
  const status = await d.settings.status(actor.session.user);
  sendJson(ctx, { enabled: status.enabled, method: status.method, destination: status.destination, recovery_codes_left: status.recoveryCodesLeft });
}

/** The POST calls by name, each one step of a settings flow. */
const calls = {
  enableStart: (s) => async (actor, body) => ({ body: await s.enableStart(actor, body['password']) }),
  enableIdentity: (s) => async (actor, body) => ({ body: await s.enableIdentity(actor, body['channel']) }),
  enableIdentityVerify: (s) => async (actor, body) => ({ body: await s.enableIdentityVerify(actor, body['code']) }),
  enableMethod: (s) => async (actor, body) => ({ body: await s.enableMethod(actor, body['method'], body['phone']) }),
  enableConfirm: (s) => async (actor, body) => {
    const { result, rotated } = await s.enableConfirm(actor, body['code']);
    return { body: result, rotated };
  },
  disableStart: (s) => async (actor, body) => ({ body: await s.disableStart(actor, body['password']) }),
  disableVerify: (s) => async (actor, body) => ({ body: await s.disableVerify(actor, body['code']) }),
  disableConfirm: (s) => async (actor) => {
    const { result, rotated } = await s.disableConfirm(actor);
    return { body: result, rotated };
  },
  recoveryStart: (s) => async (actor) => ({ body: await s.recoveryStart(actor) }),
  recoveryConfirm: (s) => async (actor, body) => {
    const { result, rotated } = await s.recoveryConfirm(actor, body['code']);
    return { body: result, rotated };
  },
  changeStart: (s) => async (actor, body) => ({ body: await s.changeStart(actor, body['password']) }),
  changeVerify: (s) => async (actor, body) => {
    const { status, methods } = await s.changeVerify(actor, body['code']);
    return { body: { status, methods } };
  },
} satisfies Record<string, Call>;

type TwoFactorCall = keyof typeof calls;

/** The handler of one POST call (the route table names the call). */
export const twoFactorCall =
  (name: TwoFactorCall) =>
  (d: TwoFactorApiDeps, ctx: Context): Promise<void> =>
    answerActorCall(d.http, ctx, calls[name](d.settings));
