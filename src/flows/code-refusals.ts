import { refusal, retryAfterSeconds, type DomainError } from '../core/errors.ts';
import type { SendResult, VerifyResult } from './second-factor.ts';

/**
 * The one mapping of a code's verify and send results to refusals (src/core/errors.ts): every
 * flow and route that answers a code says the same thing with the same status.
 */

/** A code that did not pass. `recovery`: a recovery code would have been taken, so the words offer it. */
export function verifyRefusal(result: Exclude<VerifyResult, { ok: true }>, options: { readonly recovery: boolean }): DomainError {
  switch (result.reason) {
    case 'invalid':
      return refusal('invalid_code', { extra: { attempts_left: result.attemptsLeft } });
    case 'expired':
      return refusal('code_expired');
    case 'malformed':
      return options.recovery
        ? refusal('invalid_code_format', { message: 'Enter the code as digits only (or a recovery code).', words: 'invalid_code_format_or_recovery' })
        : refusal('invalid_code_format');
    case 'too_many_attempts':
      return refusal('too_many_attempts', { extra: { retry_after: retryAfterSeconds(result.retryAfterMs) } });
  }
}

/**
 * A code that was not sent. `another`: the person is choosing a method, so the words for a
 * country that cannot be texted point to another one.
 */
export function sendRefusal(result: Exclude<SendResult, { ok: true }>, options: { readonly another?: boolean } = {}): DomainError {
  switch (result.reason) {
    case 'cooldown':
    case 'budget':
      return tooManyCodes(result.reason, result.retryAfterMs);
    case 'country':
      return options.another === true ? refusal('sms_country_not_allowed', { message: CHOOSE_ANOTHER_COUNTRY }) : refusal('sms_country_not_allowed');
    case 'delivery':
      return refusal('delivery_failed', { message: result.message });
  }
}

const CHOOSE_ANOTHER_COUNTRY = 'Text messages cannot be sent to this country. Choose another method.';

/**
 * A send refused for its rate: by the resend cooldown (a code went out moments ago) or by the send
 * budget (none went out now). One error code for the API; the words say which.
 */
export function tooManyCodes(reason: 'cooldown' | 'budget', retryAfterMs: number): DomainError {
  const retry = retryAfterSeconds(retryAfterMs);
  if (reason === 'budget') {
    return refusal('too_many_codes', {
      message: 'Too many codes were sent recently, so no new code was sent. Ask again once retry_after has passed.',
      extra: { retry_after: retry, limit: 'send_budget' },
    });
  }
  return refusal('too_many_codes', { extra: { retry_after: retry } });
}

/** The login flow's code failures (LoginVerifyResult) as the same refusals; its words always offered recovery codes. */
export function loginCodeRefusal(
  result:
    | { readonly kind: 'invalid_code'; readonly attemptsLeft: number }
    | { readonly kind: 'code_expired' }
    | { readonly kind: 'malformed' }
    | { readonly kind: 'too_many_attempts'; readonly retryAfterMs: number },
): DomainError {
  const recovery = { recovery: true };
  switch (result.kind) {
    case 'invalid_code':
      return verifyRefusal({ ok: false, reason: 'invalid', attemptsLeft: result.attemptsLeft }, recovery);
    case 'code_expired':
      return verifyRefusal({ ok: false, reason: 'expired' }, recovery);
    case 'malformed':
      return verifyRefusal({ ok: false, reason: 'malformed' }, recovery);
    case 'too_many_attempts':
      return verifyRefusal({ ok: false, reason: 'too_many_attempts', retryAfterMs: result.retryAfterMs }, recovery);
  }
}
