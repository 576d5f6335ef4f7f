import { z } from 'zod';
import type { AuditEvent } from '../audit.ts';
import { AUDIT_EVENTS } from '../../config/audit-events.ts';

/**
 * The pushed security events, version 1: what a SIEM or a webhook receiver can rely on. The fields
 * are the audit record's (README "Audit log and metrics" explains each event), plus an id for
 * de-duplication (a retried delivery may arrive twice) and the sidecar instance that recorded it.
 * New optional fields may appear within v1; a removed or renamed field makes v2.
 */

const EVENT_SCHEMA = 'smartpush-guard.event/v1';
export const BATCH_SCHEMA = 'smartpush-guard.events/v1';

const text = z.string().max(2048);

export const streamEventSchema = z
  .object({
    schema: z.literal(EVENT_SCHEMA),
    /** Unique per event: a receiver drops a second delivery of the same id. */
    id: z.uuid(),
    time: z.iso.datetime({ offset: false }),
    /** The sidecar instance (host name) that recorded it. */
    host: text,
    event: z.enum(AUDIT_EVENTS),
    outcome: z.enum(['success', 'failure', 'info']),
    user: text.optional(),
    client: text.optional(),
    userAgent: text.optional(),
    requestId: text.optional(),
    reason: text.optional(),
    actor: text.optional(),
    risk: z.object({ score: z.number(), level: text, signals: z.array(text) }).strict().optional(),
    details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  })
  .strict();

export const eventBatchSchema = z
  .object({
    schema: z.literal(BATCH_SCHEMA),
    events: z.array(streamEventSchema).min(1),
  })
  .strict();

export type StreamEvent = z.infer<typeof streamEventSchema>;

export function toStreamEvent(event: AuditEvent, id: string, host: string): StreamEvent {
  return { schema: EVENT_SCHEMA, id, host, ...event } as StreamEvent;
}

export function eventJsonSchema(): unknown {
  return {
    title: 'smartpush-guard security events, v1 (a webhook delivery)',
    ...z.toJSONSchema(eventBatchSchema, { target: 'draft-2020-12' }),
  };
}
