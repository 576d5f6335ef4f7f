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
