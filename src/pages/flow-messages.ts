import type { DomainError } from '../core/errors.ts';
import type { Catalogue } from '../i18n/en.ts';

/**
 * A refusal (src/core/errors.ts) in the page's language. The JSON API keeps the table's English
 * words; pages pick theirs by the refusal's catalogue key (its code, or the wording it names), and
 * add what the person can still do (attempts left, when to try again) from the refusal's facts. A
 * code without words gets a neutral sentence rather than the English one.
 */
export function flowMessage(t: Catalogue, error: DomainError): string {
  // A refusal by the send budget sent nothing: never the cooldown's "a code was sent recently".
  const budget = error.code === 'too_many_codes' && error.extra['limit'] === 'send_budget';
  const flow = t.flow as Readonly<Record<string, string | undefined>>;
  const words = budget ? t.sendBudgetRefused : (flow[error.words] ?? flow[error.code] ?? t.passkey.errors[error.code] ?? t.flowUnknown);
  const attempts = error.extra['attempts_left'];
  if (error.code === 'invalid_code' && typeof attempts === 'number' && attempts > 0) return `${words} ${t.attemptsLeft(attempts)}`;
  const retry = error.extra['retry_after'];
  if (typeof retry === 'number' && (error.code === 'too_many_codes' || error.code === 'too_many_attempts')) return `${words} ${t.tryAgainIn(retry)}`;
  return words;
}
