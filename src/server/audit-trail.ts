import { dirname, resolve } from 'node:path';
import type { RedisClient } from '../store/redis-connection.ts';
import { MemoryAudit, type AuditQuery, type AuditRecorder } from '../audit/audit.ts';
import { jsonLinesFileSink, stdoutSink } from '../audit/file-sink.ts';
import { createAudit, type Audit, type AuditSink } from '../audit/record.ts';
import { RedisAudit } from '../audit/redis-audit.ts';
import { SqliteAudit } from '../audit/sqlite-audit.ts';
import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { DurableStore } from '../store/durable.ts';
import { SqliteDurableStore } from '../store/sqlite.ts';
import type { Clock } from '../core/clock.ts';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolveSecret } from '../config/load.ts';
import { randomUuid } from '../core/ids.ts';
import type { Random } from '../core/random.ts';
import { syslogSink } from '../audit/stream/syslog-sink.ts';
import { webhookSink } from '../audit/stream/webhook-sink.ts';

/**
 * Composition of the audit trail from the config: the JSON-lines file and stdout (the complete
 * trail), the durable query store (SQLite on the embedded file, or Redis shared by the replicas; in
 * memory when neither is there), and the metrics, which count security events from the same records.
 */
export function buildAudit(input: {
  config: Config;
  configFile: string;
  clock: Clock;
  /** Ids of the events streamed to the webhook and syslog sinks. */
  random: Random;
  logger: Logger;
  metrics: Metrics;
  durable: DurableStore;
  /** A recorder that also answers queries, used instead of the durable query store (tests). */
  query?: AuditRecorder & AuditQuery;
  /** With several replicas: the shared Redis client and the deployment's key prefix. */
  redis?: { readonly client: RedisClient; readonly prefix: string };
  /** More sinks that only queue (the security alerts), outside what settle() waits for. */
  extraSinks?: readonly AuditSink[];
}): Audit {
  const { config, clock, logger, metrics } = input;
  const retentionMs = config.audit.retention;
  const failed = (sink: string) => (error: unknown): void => {
    metrics.auditWriteFailure(sink);
    logger.error({ err: error, sink }, 'audit record could not be written');
  };
  const sinks: AuditSink[] = [];
  if (config.audit.file !== undefined) {
    const file = resolve(dirname(input.configFile), config.audit.file);
    try {
      sinks.push(jsonLinesFileSink(file, { onError: failed('file') }));
    } catch (error) {
      throw new ConfigError([`audit.file: cannot open ${file} for appending: ${(error as Error).message}`]);
    }
  }
  if (config.audit.stdout) sinks.push(stdoutSink());
  sinks.push(...eventStreamSinks(input));
  sinks.push(...(input.extraSinks ?? []));
  let query: AuditQuery & AuditSink;
  const given = input.query;
  if (given) {
    query = { name: 'given', write: ({ time: _time, ...event }) => given.record(event), recent: (filter) => given.recent(filter) };
  } else if (input.redis) {
    query = new RedisAudit(input.redis.client, { prefix: input.redis.prefix, clock, retentionMs });
  } else if (input.durable instanceof SqliteDurableStore) {
    query = new SqliteAudit(input.durable, { clock, retentionMs, onError: failed('sqlite') });
  } else {
    const memory = new MemoryAudit(() => clock.now());
    query = { name: 'memory', write: (event) => memory.record(event), recent: (filter) => memory.recent(filter) };
  }
  sinks.push(query);
  sinks.push({ name: 'metrics', write: (event) => metrics.countAuditEvent(event) });
  return createAudit({ clock, logger, sinks, query, onWriteFailure: (sink) => metrics.auditWriteFailure(sink) });
}

/** Retries wait 1 s, 2 s, 4 s … up to 5 minutes. */
const STREAM_BACKOFF = { initialMs: 1_000, maxMs: 300_000 } as const;

/**
 * The pushed event stream (config `events:`): sinks that only queue, so they are outside the
 * audit's settle() and a receiver that is down or slow never holds an answer back.
 */
function eventStreamSinks(input: { config: Config; configFile: string; clock: Clock; random: Random; logger: Logger; metrics: Metrics }): AuditSink[] {
  const { config, configFile, clock, logger, metrics } = input;
  const sinks: AuditSink[] = [];
  const hooks = (sink: string) => ({
    onOutcome: (outcome: string, events: number) => metrics.eventDelivery(sink, outcome, events),
    onDepth: (depth: number) => metrics.eventQueue(sink, depth),
    onFailure: (detail: string, attempt: number, dropped: boolean) =>
      logger.warn({ sink, detail, attempt, dropped }, dropped ? 'security events could not be delivered and were dropped' : 'security events not delivered yet; retrying'),
  });
  const host = hostname();
  const newId = (): string => randomUuid(input.random);
  const { webhook, syslog } = config.events;
  if (webhook !== undefined) {
    try {
      sinks.push(
        webhookSink({
          url: webhook.url,
          secret: webhook.secret ? resolveSecret(webhook.secret, configFile) : undefined,
          headers: webhook.headers,
          timeoutMs: webhook.timeout,
          batchSize: webhook.batch_size,
          maxQueue: webhook.queue_size,
          maxAttempts: webhook.max_attempts,
          backoff: STREAM_BACKOFF,
          events: webhook.events ? new Set(webhook.events) : undefined,
          host,
          clock,
          newId,
          ...hooks('webhook'),
        }),
      );
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError([`events.webhook: ${(error as Error).message}`]);
    }
  }
  if (syslog !== undefined) {
    let ca: string | undefined;
    if (syslog.ca_file !== undefined) {
      const file = resolve(dirname(configFile), syslog.ca_file);
      try {
        ca = readFileSync(file, 'utf8');
      } catch (error) {
        throw new ConfigError([`events.syslog.ca_file: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
      }
    }
    sinks.push(
      syslogSink({
        transport: syslog.transport,
        address: syslog.host,
        port: syslog.port ?? (syslog.transport === 'tls' ? 6514 : 514),
        ca,
        facility: syslog.facility,
        appName: syslog.app_name,
        host,
        timeoutMs: syslog.timeout,
        maxQueue: syslog.queue_size,
        maxAttempts: syslog.max_attempts,
        backoff: STREAM_BACKOFF,
        events: syslog.events ? new Set(syslog.events) : undefined,
        newId,
        ...hooks('syslog'),
      }),
    );
  }
  return sinks;
}
