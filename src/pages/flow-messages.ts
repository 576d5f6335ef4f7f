import type { FlowError } from '../flows/flow-error.ts';
import type { Catalogue } from '../i18n/en.ts';

/**
 * A flow's refusal in the page's language. The flows speak English for the JSON API; pages pick
 * their words by the refusal's code, and add what the person can still do (attempts left, when to
 * try again) from the refusal's facts. A code without words gets a neutral sentence rather than
 * the English one.
 */
export function flowMessage(t: Catalogue, error: FlowError): string {
  // A refusal by the send budget sent nothing: never the cooldown's "a code was sent recently".
  const budget = error.code === 'too_many_codes' && error.extra['limit'] === 'send_budget';
  const words = budget ? t.sendBudgetRefused : ((t.flow as Readonly<Record<string, string | undefined>>)[error.code] ?? t.passkey.errors[error.code] ?? t.flowUnknown);
  const attempts = error.extra['attempts_left'];
  if (error.code === 'invalid_code' && typeof attempts === 'number' && attempts > 0) return `${words} ${t.attemptsLeft(attempts)}`;
  const retry = error.extra['retry_after'];
  if (typeof retry === 'number' && (error.code === 'too_many_codes' || error.code === 'too_many_attempts')) return `${words} ${t.tryAgainIn(retry)}`;
  return words;
}
