import { DomainError, refusal } from '../core/errors.ts';

/**
 * The flows' refusals are DomainErrors (src/core/errors.ts). `FlowError` is the older name with the
 * older constructor (status and words given by the caller), kept so route modules still being moved
 * compile unchanged; `instanceof FlowError` holds for every DomainError.
 * @deprecated use `refusal(code, …)` from src/core/errors.ts and `instanceof DomainError`.
 */
export class FlowError extends DomainError {
  constructor(status: number, code: string, message: string, extra: Readonly<Record<string, unknown>> = {}) {
    super(code, { status, message, extra });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof DomainError;
  }
}

export type { DomainError };

export const stepOutOfOrder = (): DomainError => refusal('step_out_of_order');

export { tooManyCodes } from './code-refusals.ts';
