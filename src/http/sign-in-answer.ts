import type { Context } from 'koa';
import type { LoginResult } from '../flows/login.ts';
import type { SendResult } from '../flows/second-factor.ts';
import { sendError, setOwnResponseHeaders, uiOf } from './answer.ts';
import { completeLogin, loginRefused, retryAfterSeconds, startVerification, type SignIn } from './sign-in.ts';

/** A sign-in attempt's result as HTTP: JSON for the API, a redirect with the words for the form. */

/** The JSON API's words follow login.identifier and product.name, like the pages'. */
const genericFailure = (ctx: Context): string => (uiOf(ctx).brand.identifier === 'username' ? 'The username or password is not correct.' : 'The email or password is not correct.');
const unavailable = (ctx: Context): string => `Signing in is not possible right now because ${uiOf(ctx).brand.product} cannot be reached. Please try again in a moment.`;
const NO_EMAIL =
  'This sign-in needs a confirmation code by email, but no email address is known for your account, so none was sent. Contact your administrator to add one.';
const NO_EMAIL_LOOKUP = 'This sign-in needs a confirmation code by email, but your email address cannot be looked up right now, so none was sent. Please try again in a moment.';
function sendProblem(send: SendResult | null): string | undefined {
  if (!send || send.ok) return undefined;
  switch (send.reason) {
    case 'delivery':
      return send.message;
    case 'country':
      return 'Text messages cannot be sent to your phone number. Use a recovery code, or contact support.';
    case 'cooldown':
    case 'budget':
      return `Too many codes were sent recently. Ask for a new code in ${Math.ceil(send.retryAfterMs / 60_000)} minute(s), or use a recovery code.`;
  }
}

export function answerJson(d: SignIn, ctx: Context, result: LoginResult): void {
  setOwnResponseHeaders(ctx);
  switch (result.kind) {
    case 'authenticated':
      completeLogin(d, ctx, result);
      ctx.status = 200;
      ctx.body = { status: 'authenticated' };
      return;
    case 'verification_required': {
      startVerification(d, ctx, result);
      ctx.status = 200;
      const problem = sendProblem(result.send);
      ctx.body = {
        status: 'verification_required',
        reason: result.reason,
        method: result.method,
        destination: result.destination,
        ...(result.send?.ok ? { resend_after: retryAfterSeconds(result.send.resendInMs) } : {}),
        ...(problem ? { delivery_error: problem } : {}),
      };
      return;
    }
    case 'invalid_credentials': {
      // Counted the same whether the account exists or not, so the warning says nothing about it.
      const paused = result.lockedForMs !== null ? { retry_after: retryAfterSeconds(result.lockedForMs) } : {};
      const left = Math.max(0, result.attemptsLeft);
      const warning =
        result.lockedForMs !== null
          ? ` Sign-in from this device or network is now paused for ${Math.ceil(result.lockedForMs / 60_000)} minute(s); your other devices are not paused.`
          : left > 0 && left <= 2
            ? ` ${left} attempt${left === 1 ? '' : 's'} left before sign-in from this device or network is paused.`
            : '';
      sendError(ctx, 401, 'invalid_credentials', `${genericFailure(ctx)}${warning}`, { attempts_left: left, ...paused });
      return;
    }
    case 'too_many_attempts': {
      const seconds = retryAfterSeconds(result.retryAfterMs);
      ctx.set('Retry-After', String(seconds));
      const message =
        result.subject === 'throttle'
          ? 'Many failed sign-in attempts were made on this account, so signing in is slowed down. Try again in a few seconds.'
          : 'Too many failed sign-in attempts from this device or network. Try again later.';
      sendError(ctx, 429, 'too_many_attempts', message, { retry_after: seconds });
      return;
    }
    case 'unavailable':
      sendError(ctx, 503, 'login_unavailable', unavailable(ctx));
      return;
    case 'upstream_error': {
      const ui = uiOf(ctx);
      sendError(ctx, 502, 'upstream_error', ui.t.loginUpstreamError(ui.brand.product));
      return;
    }
    case 'no_email':
      if (result.lookupFailed) sendError(ctx, 503, 'directory_unavailable', NO_EMAIL_LOOKUP);
      else sendError(ctx, 403, 'no_email_on_file', NO_EMAIL);
      return;
  }
}

export function answerHtml(d: SignIn, ctx: Context, result: LoginResult, email: string, returnTo: string): void {
  switch (result.kind) {
    case 'authenticated':
      completeLogin(d, ctx, result);
      setOwnResponseHeaders(ctx);
      ctx.status = 303;
      ctx.redirect(returnTo);
      return;
    case 'verification_required':
      startVerification(d, ctx, result);
      // The code page reads the send's state from the server (no `wait=` that a reload would restart).
      d.http.redirect(ctx, `/_guard/verify?return_to=${encodeURIComponent(returnTo)}`);
      return;
    case 'invalid_credentials': {
      const { t, brand } = uiOf(ctx);
      const usernames = brand.identifier === 'username';
      const error =
        result.lockedForMs !== null
          ? t.loginPausedHere(Math.ceil(result.lockedForMs / 60_000), usernames)
          : result.attemptsLeft > 0 && result.attemptsLeft <= 2
            ? t.loginAttemptsLeft(result.attemptsLeft, usernames)
            : usernames
              ? t.loginFailedUsername
              : t.loginFailed;
      loginRefused(d, ctx, 401, { returnTo, email, error });
      return;
    }
    case 'too_many_attempts': {
      const { t } = uiOf(ctx);
      ctx.set('Retry-After', String(retryAfterSeconds(result.retryAfterMs)));
      const error = result.subject === 'throttle' ? t.loginSlowed(retryAfterSeconds(result.retryAfterMs)) : t.loginLocked(Math.ceil(result.retryAfterMs / 60_000));
      loginRefused(d, ctx, 429, { returnTo, email, error });
      return;
    }
    case 'unavailable': {
      const ui = uiOf(ctx);
      loginRefused(d, ctx, 503, { returnTo, email, error: ui.t.loginUnavailable(ui.brand.product) });
      return;
    }
    case 'upstream_error': {
      const ui = uiOf(ctx);
      loginRefused(d, ctx, 502, { returnTo, email, error: ui.t.loginUpstreamError(ui.brand.product) });
      return;
    }
    case 'no_email': {
      const ui = uiOf(ctx);
      loginRefused(d, ctx, result.lookupFailed ? 503 : 403, { returnTo, email, error: result.lookupFailed ? ui.t.noEmailLookupFailed : ui.t.noEmailOnFile(ui.brand.support) });
      return;
    }
  }
}

