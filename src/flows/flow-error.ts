/**
 * A flow step that cannot go on, with what to tell the person: the HTTP layer turns it into a JSON
 * error or a page message without deciding anything itself.
 */
export class FlowError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'FlowError';
  }
}

export const stepOutOfOrder = (): FlowError =>
  new FlowError(409, 'step_out_of_order', 'This step is not the next one. Please start again from the beginning.');

/**
 * A send refused for its rate: by the resend cooldown (a code went out moments ago) or by the send
 * budget (none went out now). One error code for the API; the words say which.
 */
export function tooManyCodes(reason: 'cooldown' | 'budget', retryAfterMs: number): FlowError {
  const retry = Math.max(1, Math.ceil(retryAfterMs / 1000));
  if (reason === 'budget') {
    return new FlowError(429, 'too_many_codes', 'Too many codes were sent recently, so no new code was sent. Ask again once retry_after has passed.', { retry_after: retry, limit: 'send_budget' });
  }
  return new FlowError(429, 'too_many_codes', 'A code was sent recently. Please wait before asking for another.', { retry_after: retry });
}
