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
import type { Clock } from './providers.ts';

/**
 * Composition of the audit trail from the config: the JSON-lines file and stdout (the complete
 * trail), the durable query store (SQLite on the embedded file, or Redis shared by the replicas; in
 * memory when neither is there), and the metrics, which count security events from the same records.
 */
export function buildAudit(input: {
  config: Config;
  configFile: string;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  durable: DurableStore;
  /** A recorder that also answers queries, used instead of the durable query store (tests). */
  query?: AuditRecorder & AuditQuery;
  /** With several replicas: the shared Redis client and the deployment's key prefix. */
  redis?: { readonly client: RedisClient; readonly prefix: string };
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
