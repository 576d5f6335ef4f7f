import type { Clock } from '../core/clock.ts';
import type { Random } from '../core/random.ts';
import type { Channel } from './channel.ts';
import { OutboxChannel } from './outbox.ts';
import { SmtpChannel, type SmtpOptions } from './smtp.ts';
import { TwilioChannel } from './twilio.ts';
import { WebhookChannel } from './webhook.ts';

/** Default deadline for one delivery attempt when a spec sets none. */
const DEFAULT_CHANNEL_TIMEOUT_MS = 10_000;
/** DESIGN §5: the demo's outbox. Relative to the working directory. */
const DEFAULT_OUTBOX_FILE = 'var/outbox.jsonl';

/**
 * Development / demo: JSON lines in `file` (default `var/outbox.jsonl`) plus a console line.
 * Carries codes in the clear; never configure it in production.
 */
interface OutboxSpec {
  readonly kind: 'outbox';
  readonly file?: string;
}

/**
 * Email over SMTP. `starttls` defaults to `required` when `secure` is false. `user` and `password`
 * go together (password already resolved from its secret source).
 */
type SmtpSpec = { readonly kind: 'smtp' } & Omit<SmtpOptions, 'timeoutMs' | 'maxConnections'> & { readonly timeoutMs?: number };

/** SMS through Twilio. Exactly as Twilio names them; one of `from` / `messagingServiceSid` is required. */
interface TwilioSpec {
  readonly kind: 'twilio';
  readonly accountSid: string;
  readonly authToken: string;
  readonly from?: string;
  readonly messagingServiceSid?: string;
  /** Default `https://api.twilio.com`. */
  readonly baseUrl?: string;
  readonly timeoutMs?: number;
}

/** SMS through a signed JSON webhook (see webhook.ts for the wire format). */
interface WebhookSpec {
  readonly kind: 'webhook';
  /** https (http only to loopback). */
  readonly url: string;
  /** HMAC-SHA256 key for X-Guard-Signature; strongly recommended. */
  readonly secret?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

export type ChannelSpec = OutboxSpec | SmtpSpec | TwilioSpec | WebhookSpec;

export interface ChannelDeps {
  readonly clock: Clock;
  /** Delivery ids (the webhook's Idempotency-Key). */
  readonly random: Random;
  /** Where the outbox prints its console line; defaults to console.log. */
  readonly console?: (line: string) => void;
}

/** Builds the channel a config entry describes. Throws (plain Error) on an unusable spec. */
export function channelFromConfig(spec: ChannelSpec, deps: ChannelDeps): Channel {
  switch (spec.kind) {
    case 'outbox':
      return new OutboxChannel(spec.file ?? DEFAULT_OUTBOX_FILE, {
        clock: deps.clock,
        ...(deps.console ? { console: deps.console } : {}),
      });
    case 'smtp':
      return new SmtpChannel({
        host: spec.host,
        port: spec.port,
        secure: spec.secure,
        ...(spec.starttls !== undefined ? { starttls: spec.starttls } : {}),
        ...(spec.user !== undefined ? { user: spec.user } : {}),
        ...(spec.password !== undefined ? { password: spec.password } : {}),
        from: spec.from,
        timeoutMs: spec.timeoutMs ?? DEFAULT_CHANNEL_TIMEOUT_MS,
      });
    case 'twilio':
      return new TwilioChannel({
        accountSid: spec.accountSid,
        authToken: spec.authToken,
        ...(spec.from !== undefined ? { from: spec.from } : {}),
        ...(spec.messagingServiceSid !== undefined ? { messagingServiceSid: spec.messagingServiceSid } : {}),
        ...(spec.baseUrl !== undefined ? { baseUrl: spec.baseUrl } : {}),
        timeoutMs: spec.timeoutMs ?? DEFAULT_CHANNEL_TIMEOUT_MS,
      });
    case 'webhook':
      return new WebhookChannel({
        url: spec.url,
        ...(spec.secret !== undefined ? { secret: spec.secret } : {}),
        ...(spec.headers !== undefined ? { headers: spec.headers } : {}),
        timeoutMs: spec.timeoutMs ?? DEFAULT_CHANNEL_TIMEOUT_MS,
        clock: deps.clock,
        random: deps.random,
      });
  }
}
