import type { Context } from 'koa';
import { FlowError } from '../flows/flow-error.ts';
import type { PendingLogin } from '../flows/login.ts';
import { passkeyRefused } from '../flows/passkey-errors.ts';
import { maskDestination } from '../flows/second-factor.ts';
import type { StepUpRecord } from '../flows/step-up.ts';
import type { Actor } from '../flows/two-factor-settings.ts';
import { flowMessage } from '../pages/flow-messages.ts';
import type { PasskeyFormView } from '../pages/passkey-parts.tsx';
import { renderPasskeyPage, type PasskeyPageStep } from '../pages/passkey-page.tsx';
import type { SessionRecord } from '../session/sessions.ts';
import { acceptFlowError, sendPage, uiOf } from './answer.ts';
import { rpOf, type PasskeyDeps } from './passkey-api.ts';
import { actorOf, setRotated, signedInForm } from './request.ts';
import { safeReturnTo } from './return-to.ts';
import { presenter } from './sign-in.ts';
import { accountChangedPage, finishSignIn } from './verify.ts';

/**
 * The passkey pages (HTML, no JavaScript needed except for the WebAuthn ceremony itself):
 * Login & Security › Passkeys (/_guard/security/passkeys), and the forms the sign-in code page
 * and the step-up page show beside the code (`loginPasskeyForm` / `stepUpPasskeyForm` build them;
 * the answers post to /_guard/verify/passkey and /_guard/step-up/passkey). The script is
 * /_guard/assets/passkey.js (assets.ts).
 */

const PAGE = '/_guard/security/passkeys';
const VERIFY = '/_guard/verify';
const STEP_UP = '/_guard/step-up';

const back = (d: PasskeyDeps, ctx: Context, session: SessionRecord, status: number, message: { error?: string; notice?: string }): void =>
  d.http.redirectWithFlash(ctx, session, PAGE, { status, ...message });

function failed(d: PasskeyDeps, ctx: Context, session: SessionRecord, error: unknown): void {
  const failure = acceptFlowError(ctx, error);
  back(d, ctx, session, failure.status, { error: flowMessage(uiOf(ctx).t, failure) });
}

async function managePage(d: PasskeyDeps, ctx: Context, actor: Actor): Promise<void> {
  const { http, settings } = d;
  const flash = http.takeFlash(ctx, actor.session, PAGE);
  const [keys, enrollment, state] = await Promise.all([settings.list(actor.session.user), d.durable.getEnrollment(actor.session.user), settings.state(actor)]);
  let view: PasskeyPageStep;
  if (!enrollment) view = { step: 'two_factor_off' };
  else if (state === 'verify') view = { step: 'code', method: enrollment.method, destination: maskDestination(enrollment.method, enrollment.destination) };
  else if (state === 'verified') {
    let add: PasskeyFormView | null = null;
    let problem: string | undefined;
    try {
      add = { options: JSON.stringify(await settings.registrationOptions(actor, rpOf(d, ctx))) };
    } catch (error) {
      if (!(error instanceof FlowError)) throw error;
      problem = flowMessage(uiOf(ctx).t, error);
    }
    view = { step: 'verified', add, problem };
  } else view = { step: 'password' };
  sendPage(
    ctx,
    flash?.status ?? 200,
    renderPasskeyPage(uiOf(ctx), {
      csrf: http.formToken(ctx, actor.session),
      keys: keys.map((k) => ({ id: k.id, name: k.name, createdAt: k.created_at, lastUsedAt: k.last_used_at })),
      view,
      ...(flash?.error ? { error: flash.error } : {}),
      ...(flash?.notice ? { notice: flash.notice } : {}),
    }),
  );
}

/** GET /_guard/security/passkeys */
export async function showPasskeys(d: PasskeyDeps, ctx: Context): Promise<void> {
  const actor = actorOf(d.http, ctx);
  if (!actor) return d.http.redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(PAGE)}`);
  await managePage(d, ctx, actor);
}

/** POST /_guard/security/passkeys: one step of adding, or removing, a passkey. */
export async function passkeysForm(d: PasskeyDeps, ctx: Context): Promise<void> {
  const { http, settings } = d;
  if (http.refuseCrossSite(ctx)) return;
  const read = await http.readBody(ctx, ['form']);
  if (!read) return;
  const actor = actorOf(http, ctx);
  if (!actor) return http.redirect(ctx, `/_guard/login?return_to=${encodeURIComponent(PAGE)}`);
  const { t } = uiOf(ctx);
  if (!http.formTokenValid(ctx, actor.session, read.body['_csrf'])) return back(d, ctx, actor.session, 403, { error: t.forged });
  const body = read.body;
  try {
    if (body['action'] === 'resend') {
      await settings.resend(actor);
      return back(d, ctx, actor.session, 200, { notice: t.newCodeSent });
    }
    switch (body['step']) {
      case 'password':
        await settings.start(actor, body['password']);
        return http.redirect(ctx, PAGE);
      case 'code':
        await settings.verify(actor, body['code']);
        return back(d, ctx, actor.session, 200, { notice: t.passkey.verifiedNotice });
      case 'add': {
        const { result, rotated } = await settings.register(actor, parseResponse(body['response']), body['name']);
        setRotated(http, ctx, rotated);
        return back(d, ctx, rotated.session, 200, { notice: t.passkey.added(result.passkey.name) });
      }
      case 'remove': {
        const { rotated } = await settings.remove(actor, body['id']);
        setRotated(http, ctx, rotated);
        return back(d, ctx, rotated.session, 200, { notice: t.passkey.removed });
      }
      default:
        return back(d, ctx, actor.session, 400, { error: t.flowUnknown });
    }
  } catch (error) {
    return failed(d, ctx, actor.session, error);
  }
}

/** POST /_guard/verify/passkey: a passkey as the second step of a sign-in. */
export async function verifyPasskeyForm(d: PasskeyDeps, ctx: Context): Promise<void> {
  const { http } = d;
  if (http.refuseCrossSite(ctx)) return;
  const read = await http.readBody(ctx, ['form']);
  if (!read) return;
  const returnTo = safeReturnTo(read.body['return_to'], d.landing);
  const again = `?return_to=${encodeURIComponent(returnTo)}`;
  const { t } = uiOf(ctx);
  if (!http.formTokenValid(ctx, null, read.body['_csrf'])) return http.redirectWithFlash(ctx, null, VERIFY, { status: 403, error: t.formExpired }, again);
  const result = await d.login.verifyPasskey(http.cookie(ctx, 'pending'), parseResponse(read.body['response']), presenter(d.signIn, ctx));
  switch (result.kind) {
    case 'authenticated':
      finishSignIn(d.signIn, ctx, result);
      return http.redirect(ctx, returnTo);
    case 'account_changed':
      return accountChangedPage(d.signIn, ctx, returnTo);
    case 'passkey_refused': {
      const failure = passkeyRefused(result.reason);
      return http.redirectWithFlash(ctx, null, VERIFY, { status: failure.status, error: flowMessage(t, failure) }, again);
    }
    default:
      return http.redirect(ctx, `/_guard/login${again}`);
  }
}

/** POST /_guard/step-up/passkey */
export async function stepUpPasskeySubmit(d: PasskeyDeps, ctx: Context): Promise<void> {
  const { http } = d;
  const posted = await signedInForm(http, ctx);
  if (!posted) return;
  const { actor, body } = posted;
  const returnTo = safeReturnTo(body['return_to'], d.landing);
  const again = `?return_to=${encodeURIComponent(returnTo)}`;
  const { t } = uiOf(ctx);
  if (!http.formTokenValid(ctx, actor.session, body['_csrf'])) return http.redirectWithFlash(ctx, actor.session, STEP_UP, { status: 403, error: t.formExpired }, again);
  try {
    await d.stepUp.verifyPasskey(actor, parseResponse(body['response']));
    return http.redirect(ctx, '/_guard/step-up/done');
  } catch (error) {
    const failure = acceptFlowError(ctx, error);
    return http.redirectWithFlash(ctx, actor.session, STEP_UP, { status: failure.status, error: flowMessage(t, failure) }, again);
  }
}

/** The "use a passkey" form of the sign-in code page (null: not offered to this sign-in). */
export async function loginPasskeyForm(d: PasskeyDeps, ctx: Context, pending: PendingLogin): Promise<PasskeyFormView | null> {
  if (!(await d.login.passkeyAvailable(pending))) return null;
  const found = await d.login.passkeyOptions(pending.id, rpOf(d, ctx), presenter(d.signIn, ctx));
  return found.kind === 'options' ? { options: JSON.stringify(found.options) } : null;
}

/** The "use a passkey" form of the step-up page (null: not offered). */
export async function stepUpPasskeyForm(d: PasskeyDeps, ctx: Context, actor: Actor, record: StepUpRecord): Promise<PasskeyFormView | null> {
  if (!(await d.stepUp.passkeyAvailable(actor.session, record))) return null;
  try {
    return { options: JSON.stringify(await d.stepUp.passkeyOptions(actor, rpOf(d, ctx))) };
  } catch (error) {
    if (error instanceof FlowError) return null;
    throw error;
  }
}

/** The form's `response` field: the JSON the script put there (anything else is refused by the ceremony). */
function parseResponse(value: unknown): unknown {
  if (typeof value !== 'string' || value.length === 0 || value.length > 16_384) return null;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return null;
  }
}
