import { z } from 'zod';
import { AUDIT_EVENTS } from '../audit-events.ts';
import { FACILITIES, type Facility } from '../syslog-facilities.ts';
import { duration, secretRef } from './primitives.ts';

/**
 * The audit trail (who signed in, from where, which code was sent and verified, what changed).
 * Records are always kept in the durable store for the admin API (SQLite, or Redis with several
 * replicas), and also written as JSON lines to `file` and/or stdout.
 */
export const auditSchema = z
  .object({
    /** JSON-lines audit log (mode 0600, appended), relative to this config file. */
    file: z.string().min(1).optional(),
    /** Also write each record to stdout, marked `"audit": true` (containers ship stdout). */
    stdout: z.boolean().default(false),
    /** How long the durable store keeps records for queries (the file is never pruned). */
    retention: duration.refine((ms) => ms >= 3_600_000, 'must be at least 1h').prefault('90d'),
  })
  .strict()
  .prefault({});

/**
 * Security events pushed as they happen (README "Security event stream"): a signed webhook and
 * syslog (RFC 5424). Queued and retried; a receiver that is down never blocks a sign-in.
 */
export const eventsSchema = z
  .object({
    webhook: z
      .object({
        /** https, or http to a loopback address. */
        url: z.url(),
        /** HMAC-SHA256 key of X-Guard-Signature (strongly advised). */
        secret: secretRef.optional(),
        /** Extra headers (e.g. the collector's Authorization). */
        headers: z.record(z.string(), z.string().max(4096).regex(/^[^\r\n]*$/, 'must be one line')).default({}),
        timeout: duration.prefault('5s'),
        batch_size: z.number().int().min(1).max(1000).default(100),
        queue_size: z.number().int().min(1).max(1_000_000).default(10_000),
        max_attempts: z.number().int().min(1).max(100).default(10),
        /** Only these events (default: every one). */
        events: z.array(z.enum(AUDIT_EVENTS)).min(1).optional(),
      })
      .strict()
      .optional(),
    syslog: z
      .object({
        transport: z.enum(['udp', 'tcp', 'tls']).default('udp'),
        host: z.string().min(1),
        /** Default 514 (udp, tcp) or 6514 (tls). */
        port: z.number().int().min(1).max(65535).optional(),
        facility: z.enum(Object.keys(FACILITIES) as [Facility, ...Facility[]]).default('authpriv'),
        app_name: z.string().regex(/^[\x21-\x7e]{1,48}$/, 'must be 1-48 printable ASCII characters without spaces').default('smartpush-guard'),
        /** PEM file of the collector's CA for tls (default: the system's roots), relative to this config file. */
        ca_file: z.string().min(1).optional(),
        timeout: duration.prefault('5s'),
        queue_size: z.number().int().min(1).max(1_000_000).default(10_000),
        max_attempts: z.number().int().min(1).max(100).default(10),
        events: z.array(z.enum(AUDIT_EVENTS)).min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .prefault({});

/**
 * OpenTelemetry traces over OTLP/HTTP (README "Tracing"). Off unless otlp_endpoint is set; the
 * SDK is not even loaded then.
 */
export const tracingSchema = z
  .object({
    /** The collector's OTLP/HTTP URL (e.g. http://otel-collector:4318); /v1/traces is added unless the path ends with it. */
    otlp_endpoint: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
    service_name: z.string().min(1).max(255).default('smartpush-guard'),
    /** Share of new traces recorded (0..1); a trusted proxy's sampled flag is followed as it is. */
    sample_ratio: z.number().min(0).max(1).default(1),
    /** Headers sent with every export, e.g. the collector's authorization (a value may be {env} or {file}). */
    headers: z
      .record(
        z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be a header name'),
        z.union([z.string().max(4096).regex(/^[^\r\n]*$/, 'must be one line'), secretRef]),
      )
      .default({}),
    /** False: spans carry the rule but not the request path (for apps that put tokens in paths). */
    record_path: z.boolean().default(true),
    /** How long one export may take before it is given up. */
    timeout: duration.prefault('10s'),
  })
  .strict()
  .prefault({});

export const logSchema = z
  .object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict()
  .default({ level: 'info' });
