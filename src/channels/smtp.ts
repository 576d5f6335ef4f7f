import type { Transporter } from 'nodemailer';
import type { NodemailerError } from 'nodemailer/lib/errors';
import { ChannelError, type Channel, type Message } from './channel.ts';

/**
 * Email through an SMTP relay (nodemailer, pooled connections).
 *
 * Every wait is bounded by `timeoutMs`: connecting, the greeting, DNS, each socket read, and the
 * whole send (an AbortSignal), so a dead or stalling server fails within about `timeoutMs` instead
 * of holding a login page open for nodemailer's default minutes.
 *
 * Failures become ChannelErrors with a fixed sentence for people; the nodemailer error (SMTP reply,
 * code) is the cause. Connection problems, timeouts and 4xx replies are transient; 5xx replies
 * (except 503) and configuration problems (TLS required but not offered, bad credentials) are
 * permanent. Nodemailer's logger stays off: with debug on it would log message bodies, i.e. codes.
 */
export interface SmtpOptions {
  readonly host: string;
  readonly port: number;
  /** Implicit TLS from the first byte (usually port 465). */
  readonly secure: boolean;
  /**
   * Without `secure`: `required` (the default) refuses to send unless the server upgrades with
   * STARTTLS, so codes and the password never cross the network in the clear; `opportunistic` uses
   * STARTTLS when offered and works, and otherwise sends in the clear (local relays, test servers).
   */
  readonly starttls?: 'required' | 'opportunistic';
  readonly user?: string;
  readonly password?: string;
  /** The From header, e.g. `SmartPush <no-reply@smartpush.example>`. */
  readonly from: string;
  readonly timeoutMs: number;
  /** Pooled connections kept open (default 2). */
  readonly maxConnections?: number;
}

export const EMAIL_TRANSIENT = 'The email could not be sent. Please try again in a moment.';
const EMAIL_PERMANENT = 'The email could not be sent. Please contact support if this keeps happening.';

const TRANSIENT_CODES = new Set(['ETIMEDOUT', 'ECONNECTION', 'ESOCKET', 'EDNS', 'EABORT', 'EMAXLIMIT', 'EPROXY']);

export class SmtpChannel implements Channel {
  readonly name = 'smtp';
  // nodemailer is loaded only when an SMTP channel is configured (it costs ~15 MiB of memory).
  readonly #transport: Promise<Transporter>;
  readonly #from: string;
  readonly #timeoutMs: number;

  constructor(options: SmtpOptions) {
    if (!(options.timeoutMs > 0)) throw new Error('smtp: timeoutMs must be positive');
    if ((options.user === undefined) !== (options.password === undefined)) {
      throw new Error('smtp: user and password go together');
    }
    const tlsMode = options.secure
      ? {}
      : (options.starttls ?? 'required') === 'required'
        ? { requireTLS: true }
        : { requireTLS: false, opportunisticTLS: true };
    const settings = {
      pool: true,
      maxConnections: options.maxConnections ?? 2,
      host: options.host,
      port: options.port,
      secure: options.secure,
      ...tlsMode,
      ...(options.user !== undefined && options.password !== undefined
        ? { auth: { user: options.user, pass: options.password } }
        : {}),
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
      dnsTimeout: options.timeoutMs,
      logger: false,
      debug: false,
      disableFileAccess: true,
      disableUrlAccess: true,
    };
    this.#transport = import('nodemailer').then(({ createTransport }) => {
      const transport = createTransport(settings);
      // Transport-level errors are reported through each send's own rejection; never crash on them.
      transport.on('error', () => {});
      return transport;
    });
    // A failure to load surfaces at the first send; until then it must not be an unhandled rejection.
    this.#transport.catch(() => undefined);
    this.#from = options.from;
    this.#timeoutMs = options.timeoutMs;
  }

  async send(message: Message): Promise<void> {
    if (message.kind !== 'email') {
      throw new ChannelError(EMAIL_PERMANENT, false, { cause: new Error('smtp channel only sends email messages') });
    }
    try {
      const transport = await this.#transport;
      await transport.sendMail({
        from: this.#from,
        to: message.to,
        subject: message.subject ?? '',
        text: message.text,
        ...(message.html !== undefined ? { html: message.html } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const transient = smtpErrorIsTransient(error);
      throw new ChannelError(transient ? EMAIL_TRANSIENT : EMAIL_PERMANENT, transient, { cause: error });
    }
  }

  async close(): Promise<void> {
    (await this.#transport).close();
  }
}

/** Transient: worth the user trying again in a moment. Exported for tests and logs. */
function smtpErrorIsTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  const err = error as NodemailerError;
  if (err.name === 'AbortError' || err.name === 'TimeoutError') return true;
  if (typeof err.responseCode === 'number') {
    if (err.responseCode === 421) return true;
    if (typeof err.permanent === 'boolean') return !err.permanent;
    return !(err.responseCode >= 500 && err.responseCode < 600 && err.responseCode !== 503);
  }
  return err.code !== undefined && TRANSIENT_CODES.has(err.code);
}
