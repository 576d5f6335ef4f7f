/**
 * The audit trail: one record per security event, for security teams (who signed in, from where,
 * which code was sent and verified, who changed a factor, what support did and why). Records carry
 * no secret: never a code, password, cookie, token or TOTP key, only facts about them.
 *
 * Recording never blocks nor fails a request: a sink that cannot write reports it to the log and
 * the metrics, and the request goes on (the event is also in the service log).
 */
import type { AuditEventType } from '../config/audit-events.ts';

type AuditOutcome = 'success' | 'failure' | 'info';

export interface AuditEvent {
  /** ISO 8601 time from the injected clock. */
  readonly time: string;
  readonly event: AuditEventType;
  readonly outcome: AuditOutcome;
  /** Lower-case account email, when the event concerns an account. */
  readonly user?: string;
  /** The client's address as the sidecar decided it (trusted proxies applied). */
  readonly client?: string;
  readonly userAgent?: string;
  /** The request id also sent upstream as X-Request-Id, to join audit, logs and upstream logs. */
  readonly requestId?: string;
  /** Why: the refusal's reason, or the reason support gave for an admin action. */
  readonly reason?: string;
  /** Who acted when it is not the user: `admin:<token name>` or `cli:<os user>`. */
  readonly actor?: string;
  readonly risk?: { readonly score: number; readonly level: string; readonly signals: readonly string[] };
  /** Small facts (method, channel, category, purpose, masked destination…), never secrets. */
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

/** What emitters hand in; the time is added by the recorder from its clock. */
export type AuditInput = Omit<AuditEvent, 'time'>;

export interface AuditRecorder {
  /** Never throws and never waits: a failing sink is reported, the request goes on. */
  record(event: AuditInput): void;
}

export interface AuditFilter {
  readonly user?: string;
  readonly event?: AuditEventType;
  /** Epoch ms: only events at or after it. */
  readonly since?: number;
  /** At most this many, newest first. */
  readonly limit: number;
}

export interface AuditQuery {
  recent(filter: AuditFilter): Promise<AuditEvent[]>;
}

/**
 * What a flow knows about the request behind an event, handed down to the parts that record it
 * (the second factor, the risk service, regulation). `details` carries correlation keys such as
 * `login` (one id for every event of one sign-in attempt).
 */
export interface AuditContext {
  readonly client?: string | undefined;
  readonly userAgent?: string | undefined;
  readonly requestId?: string | undefined;
  readonly details?: Readonly<Record<string, string | number | boolean>> | undefined;
}

/** The context's fields spread into an event (undefined ones left out, for exactOptionalPropertyTypes). */
export function fromContext(context: AuditContext | undefined, details?: Readonly<Record<string, string | number | boolean | undefined>>): Pick<AuditInput, 'client' | 'userAgent' | 'requestId' | 'details'> {
  const merged: Record<string, string | number | boolean> = { ...context?.details };
  for (const [key, value] of Object.entries(details ?? {})) if (value !== undefined) merged[key] = value;
  return {
    ...(context?.client !== undefined ? { client: context.client } : {}),
    ...(context?.userAgent !== undefined && context.userAgent !== '' ? { userAgent: context.userAgent.slice(0, 512) } : {}),
    ...(context?.requestId !== undefined ? { requestId: context.requestId } : {}),
    ...(Object.keys(merged).length > 0 ? { details: merged } : {}),
  };
}

/**
 * Words that, in a detail key, name a secret or something that opens one. A record never keeps
 * such a key, whatever its value: the guard works on names, so a careless `details: { code }`
 * cannot leak. Keys are split into words (snake_case, kebab-case, camelCase) first, so
 * `session_id` and `totpSecret` are caught while `subject` or `monkey` are not.
 */
const SECRET_WORDS: ReadonlySet<string> = new Set([
  'password', 'passwd', 'passphrase', 'pass', 'pwd', 'code', 'codes', 'otp', 'totp', 'secret', 'secrets', 'token', 'tokens',
  'cookie', 'cookies', 'session', 'sid', 'seed', 'key', 'keys', 'auth', 'authorization', 'credential', 'credentials',
  'bearer', 'signature', 'pin', 'uri',
]);

export function isSecretDetailKey(key: string): boolean {
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase().split(/[^a-z0-9]+/);
  return words.some((word) => SECRET_WORDS.has(word));
}

/**
 * Drops secret-named detail keys and returns the record to keep; `dropped` lists what was taken
 * out (the recorder reports it, so the emitter gets fixed).
 */
export function withoutSecrets<T extends AuditInput>(event: T): { event: T; dropped: string[] } {
  const details = event.details;
  if (details === undefined) return { event, dropped: [] };
  const kept: Record<string, string | number | boolean> = {};
  const dropped: string[] = [];
  for (const [key, value] of Object.entries(details)) {
    if (isSecretDetailKey(key)) dropped.push(key);
    else kept[key] = value;
  }
  if (dropped.length === 0) return { event, dropped };
  return { event: { ...event, details: kept }, dropped };
}

/** Records nowhere (parts built without an audit trail, e.g. unit tests that do not look at it). */
export const NO_AUDIT: AuditRecorder = { record: () => undefined };

/** Events matching a filter, newest first, from a list kept oldest first. */
function filterRecent(events: readonly AuditEvent[], filter: AuditFilter): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (let i = events.length - 1; i >= 0 && out.length < filter.limit; i--) {
    const e = events[i] as AuditEvent;
    if (filter.user !== undefined && e.user !== filter.user) continue;
    if (filter.event !== undefined && e.event !== filter.event) continue;
    if (filter.since !== undefined && Date.parse(e.time) < filter.since) continue;
    out.push(e);
  }
  return out;
}

/** In memory, bounded: for tests and as the query side when no durable audit store is set. */
export class MemoryAudit implements AuditRecorder, AuditQuery {
  private readonly events: AuditEvent[] = [];

  constructor(
    private readonly now: () => number,
    private readonly max = 10_000,
  ) {}

  record(event: AuditInput): void {
    this.events.push({ time: new Date(this.now()).toISOString(), ...withoutSecrets(event).event });
    if (this.events.length > this.max) this.events.splice(0, this.events.length - this.max);
  }

  async recent(filter: AuditFilter): Promise<AuditEvent[]> {
    return filterRecent(this.events, filter);
  }

  /** Everything recorded, oldest first (tests). */
  all(): readonly AuditEvent[] {
    return this.events;
  }
}
