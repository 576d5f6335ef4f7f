import { createHmac } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import { randomUuid } from '../core/ids.ts';
import type { Random } from '../core/random.ts';
import { ChannelError, type Channel, type Message } from './channel.ts';
import { SMS_PERMANENT, checkStatus, endpointUrl, postWithDeadline } from './http.ts';

/**
 * SMS through any gateway that accepts a signed JSON webhook:
 *
 *   POST {url}
 *   Content-Type: application/json
 *   Idempotency-Key: <id>
 *   X-Guard-Timestamp: <unix seconds>
 *   X-Guard-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>   (when a secret is set)
 *
 *   {"to":"+15555550189","text":"…","purpose":"code","id":"<uuid>"}
 *
 * Receivers verify the signature over the exact raw body, compare in constant time and reject
 * timestamps older than a few minutes (replay), like Stripe's and GitHub's webhook signatures; `id`
 * (also the Idempotency-Key header) lets them drop a duplicate delivery.
 *
 * 2xx is success; 429, 5xx, network failures and the deadline are transient; every other status is
 * permanent. Only sms messages are accepted.
 */
interface WebhookOptions {
  /** https, or http to a loopback address. */
  readonly url: string;
  /** HMAC key for X-Guard-Signature; without it requests are unsigned (only X-Guard-Timestamp). */
  readonly secret?: string;
  /** Extra headers, e.g. the gateway's own Authorization. They cannot replace the headers above. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Source of X-Guard-Timestamp. */
  readonly clock: Clock;
  /** Source of the delivery id. */
  readonly random: Random;
}

/** Computes the signature header value for a timestamp and raw body (exported for receivers and tests). */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
}

const RESERVED_HEADERS = new Set(['content-type', 'idempotency-key', 'x-guard-timestamp', 'x-guard-signature', 'content-length', 'host']);

export class WebhookChannel implements Channel {
  readonly name = 'webhook';
  readonly #url: URL;
  readonly #secret: string | undefined;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  readonly #random: Random;

  constructor(options: WebhookOptions) {
    if (!(options.timeoutMs > 0)) throw new Error('webhook: timeoutMs must be positive');
    this.#url = endpointUrl(options.url, 'webhook url');
    this.#secret = options.secret === undefined || options.secret === '' ? undefined : options.secret;
    const extra: Record<string, string> = {};
    // Validates names and values now (CR/LF, invalid tokens throw here, not on the first send).
    new Headers(options.headers ?? {}).forEach((value, name) => {
      if (RESERVED_HEADERS.has(name)) throw new Error(`webhook: header ${name} is set by the channel`);
      extra[name] = value;
    });
    this.#headers = extra;
    this.#timeoutMs = options.timeoutMs;
    this.#clock = options.clock;
    this.#random = options.random;
  }

  async send(message: Message): Promise<void> {
    if (message.kind !== 'sms') {
      throw new ChannelError(SMS_PERMANENT, false, { cause: new Error('webhook channel only sends sms messages') });
    }
    const id = randomUuid(this.#random);
    const body = JSON.stringify({ to: message.to, text: message.text, purpose: message.purpose, id });
    const timestamp = String(Math.floor(this.#clock.now() / 1000));
    const headers: Record<string, string> = {
      ...this.#headers,
      'content-type': 'application/json',
      'idempotency-key': id,
      'x-guard-timestamp': timestamp,
      ...(this.#secret !== undefined ? { 'x-guard-signature': webhookSignature(this.#secret, timestamp, body) } : {}),
    };
    const result = await postWithDeadline('webhook', this.#url, { headers, body }, this.#timeoutMs);
    checkStatus('webhook', result);
  }

  async close(): Promise<void> {}
}
