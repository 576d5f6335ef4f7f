import { ChannelError } from '../../channels/channel.ts';
import { endpointUrl, postWithDeadline } from '../../channels/http.ts';
import { webhookSignature } from '../../channels/webhook.ts';
import type { AuditEvent } from '../audit.ts';
import { queuedSink, type SendResult, type StreamQueueOptions, type StreamSink } from './delivery-queue.ts';
import { BATCH_SCHEMA, toStreamEvent } from './event-schema.ts';

/**
 * Security events pushed to a webhook (a SIEM's HTTP collector, a chat bridge, a function):
 *
 *   POST {url}
 *   Content-Type: application/json
 *   Idempotency-Key: <id of the first event>
 *   X-Guard-Timestamp: <unix seconds>
 *   X-Guard-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>   (with a secret)
 *
 *   {"schema":"smartpush-guard.events/v1","events":[{…}, …]}       (schema/events.schema.json)
 *
 * The same signature as the SMS webhook channel. 2xx is delivered; 429, 5xx, network failures and
 * the deadline are retried with back-off; other statuses drop the batch (logged, counted). It is
 * not part of the audit's settle(): a receiver never holds an answer back (THREATS T26 is kept by
 * the file and the query store).
 */

interface WebhookSinkOptions extends StreamQueueOptions {
  readonly url: string;
  readonly secret?: string | undefined;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly batchSize: number;
  readonly host: string;
  readonly clock: { now(): number };
}

const RESERVED = new Set(['content-type', 'idempotency-key', 'x-guard-timestamp', 'x-guard-signature', 'content-length', 'host']);

export function webhookSink(options: WebhookSinkOptions): StreamSink {
  const url = endpointUrl(options.url, 'events.webhook.url');
  const extra: Record<string, string> = {};
  new Headers(options.headers ?? {}).forEach((value, name) => {
    if (RESERVED.has(name)) throw new Error(`events.webhook.headers: ${name} is set by the sidecar`);
    extra[name] = value;
  });
  const secret = options.secret === '' ? undefined : options.secret;
  const ids = new WeakMap<AuditEvent, string>();
  const send = async (batch: readonly AuditEvent[]): Promise<SendResult> => {
    const events = batch.map((event) => toStreamEvent(event, ids.get(event) ?? options.newId(), options.host));
    const body = JSON.stringify({ schema: BATCH_SCHEMA, events });
    const timestamp = String(Math.floor(options.clock.now() / 1000));
    const headers: Record<string, string> = {
      ...extra,
      'content-type': 'application/json',
      // The first event's id names the batch: a retry of it carries the same key.
      'idempotency-key': events[0]?.id ?? options.newId(),
      'x-guard-timestamp': timestamp,
      ...(secret !== undefined ? { 'x-guard-signature': webhookSignature(secret, timestamp, body) } : {}),
    };
    try {
      const result = await postWithDeadline('events webhook', url, { headers, body }, options.timeoutMs, 1024);
      if (result.status >= 200 && result.status < 300) return { ok: true };
      return { ok: false, transient: result.status === 429 || result.status >= 500, detail: `the receiver answered HTTP ${result.status}` };
    } catch (error) {
      const cause = error instanceof ChannelError && error.cause instanceof Error ? error.cause.message : (error as Error).message;
      return { ok: false, transient: true, detail: cause };
    }
  };
  return queuedSink('webhook', options, options.batchSize, ids, send, (queue) => queue.close());
}
