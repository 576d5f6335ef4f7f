/**
 * Delivery channels for one-time codes and security notifications. A channel either delivers or
 * throws a ChannelError with a message a person can read; callers then discard the code they
 * meant to send, so a failed send never leaves a live code behind.
 */
type ChannelKind = 'email' | 'sms';

export interface Message {
  readonly kind: ChannelKind;
  /** E.164 phone for sms, email address for email. */
  readonly to: string;
  /** Email subject (ignored for sms). */
  readonly subject?: string;
  readonly text: string;
  /** Email HTML alternative (ignored for sms). */
  readonly html?: string;
  /** What the message is for, for logs and the outbox; never the code itself. */
  readonly purpose: 'code' | 'notification' | 'alert';
  /** Security alerts (src/alerts/): the alert's kind and language, shown in the outbox line. */
  readonly alert?: { readonly kind: string; readonly lang: string };
}

export interface Channel {
  /** Name for logs and metrics, e.g. 'smtp', 'twilio', 'webhook', 'outbox'. */
  readonly name: string;
  send(message: Message): Promise<void>;
  close(): Promise<void>;
}

export class ChannelError extends Error {
  constructor(
    message: string,
    /** Transient failures may be retried by the user ("try again"); permanent ones need support. */
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ChannelError';
  }
}
