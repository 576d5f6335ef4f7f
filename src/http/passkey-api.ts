import type { Context } from 'koa';
import { relyingParty, type RelyingParty, type WebAuthnSettings } from '../factors/passkey/ceremony.ts';
import { FlowError } from '../flows/flow-error.ts';
import type { LoginFlow } from '../flows/login.ts';
import { passkeyRefused, passkeysUnavailable } from '../flows/passkey-errors.ts';
import type { PasskeySettings } from '../flows/passkey-settings.ts';
import type { StepUpFlow } from '../flows/step-up.ts';
import type { DurableStore } from '../store/durable.ts';
import type { GuardHttp } from './guard-http.ts';
import { sendFlowError, setOwnResponseHeaders, sendJson } from './answer.ts';
import { actorOf, answerActorCall, loginRequired, type ActorCall } from './request.ts';
import { presenter, type SignIn } from './sign-in.ts';
import { accountChangedJson, finishSignIn, signInExpired } from './verify.ts';

/**
 * The passkey JSON API (README, "Passkeys"): list, add (password → code → WebAuthn registration),
 * remove, and a passkey as the second step of a sign-in or a step-up. Access is decided by the
 * enforcement point; handlers translate between HTTP and the flows. The pages' small script
 * (/_guard/assets/passkey.js) calls these same routes.
 */

export interface PasskeyDeps {
  readonly settings: PasskeySettings;
  readonly login: LoginFlow;
  readonly stepUp: StepUpFlow;
  readonly durable: DurableStore;
  readonly http: GuardHttp;
  readonly signIn: SignIn;
  readonly webauthn: WebAuthnSettings;
  readonly landing: string;
}

/** The relying party this request is served as (null: passkeys are not available on this origin). */
export function rpOf(d: PasskeyDeps, ctx: Context): RelyingParty | null {
  const { client } = d.http.state(ctx);
  return relyingParty(d.webauthn, { proto: client.proto, host: client.host });
}

/** GET /_guard/api/2fa/passkeys */
export async function listPasskeys(d: PasskeyDeps, ctx: Context): Promise<void> {
  const actor = actorOf(d.http, ctx);
  if (!actor) return loginRequired(ctx);
  const [passkeys, enrollment] = await Promise.all([d.settings.list(actor.session.user), d.durable.getEnrollment(actor.session.user)]);
  sendJson(ctx, { passkeys, can_add: enrollment !== null, available_here: rpOf(d, ctx) !== null });
}

/** The signed-in POST calls by name (adding and removing a passkey, a passkey step-up). */
const calls = {
  start: (d) => async (actor, body) => ({ body: await d.settings.start(actor, body['password']) }),
  verify: (d) => async (actor, body) => ({ body: await d.settings.verify(actor, body['code']) }),
  registerOptions: (d) => async (actor, _body, ctx) => ({ body: await d.settings.registrationOptions(actor, rpOf(d, ctx)) }),
  register: (d) => async (actor, body) => {
    const { result, rotated } = await d.settings.register(actor, body['response'], body['name']);
    return { body: result, rotated };
  },
  remove: (d) => async (actor, body) => {
    const { result, rotated } = await d.settings.remove(actor, body['id']);
    return { body: result, rotated };
  },
  stepUpOptions: (d) => async (actor, _body, ctx) => ({ body: await d.stepUp.passkeyOptions(actor, rpOf(d, ctx)) }),
  stepUpVerify: (d) => async (actor, body) => {
    const { return_to: _r, from: _f, retry: _t, fresh_for_ms: _m, ...answer } = await d.stepUp.verifyPasskey(actor, body['response']);
    return { body: answer };
  },
} satisfies Record<string, (d: PasskeyDeps) => ActorCall>;

type PasskeyCall = keyof typeof calls;

/** The handler of one signed-in POST call (the route table names the call). */
export const passkeyCall =
  (name: PasskeyCall) =>
  (d: PasskeyDeps, ctx: Context): Promise<void> =>
    answerActorCall(d.http, ctx, calls[name](d));

/** A call of a pending sign-in (no session yet): same-site JSON; a flow's error becomes its JSON answer. */
async function signInCall(d: PasskeyDeps, ctx: Context, run: (body: Record<string, unknown>) => Promise<void>): Promise<void> {
  const body = await d.http.readJsonCall(ctx);
  if (body === null) return;
  setOwnResponseHeaders(ctx);
  try {
    await run(body);
  } catch (error) {
    sendFlowError(ctx, error);
  }
}

/** POST /_guard/api/login/passkey/options */
export function signInPasskeyOptions(d: PasskeyDeps, ctx: Context): Promise<void> {
  return signInCall(d, ctx, async () => {
    const found = await d.login.passkeyOptions(d.http.cookie(ctx, 'pending'), rpOf(d, ctx), presenter(d.signIn, ctx));
    switch (found.kind) {
      case 'options':
        ctx.body = found.options;
        return;
      case 'no_pending_login':
        return signInExpired(ctx);
      case 'account_changed':
        return accountChangedJson(d.signIn, ctx);
      case 'no_passkey':
        throw new FlowError(409, 'no_passkey', 'Your account has no passkey. Enter a code instead.');
      case 'unavailable':
        throw passkeysUnavailable();
    }
  });
}

/** POST /_guard/api/login/passkey/verify */
export function signInPasskeyVerify(d: PasskeyDeps, ctx: Context): Promise<void> {
  return signInCall(d, ctx, async (body) => {
    const result = await d.login.verifyPasskey(d.http.cookie(ctx, 'pending'), body['response'], presenter(d.signIn, ctx));
    switch (result.kind) {
      case 'authenticated':
        finishSignIn(d.signIn, ctx, result);
        ctx.body = { status: 'authenticated' };
        return;
      case 'passkey_refused':
        throw passkeyRefused(result.reason);
      case 'account_changed':
        return accountChangedJson(d.signIn, ctx);
      default:
        return signInExpired(ctx);
    }
  });
}
