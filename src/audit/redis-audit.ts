import type { RedisClient } from '../store/redis-connection.ts';
import type { Clock } from '../core/clock.ts';
import type { AuditEvent, AuditFilter, AuditQuery } from './audit.ts';
import type { AuditSink } from './record.ts';

/**
 * The audit trail's query side in the Redis every replica shares: a capped list per user (newest
 * first) that expires `retention` after the user's last event, and a capped list of every event.
 * Each record is pushed in one MULTI, so a user's list and the global one never disagree. The
 * lists are the query side only (answering "recent events of a user" on any replica); the complete
 * trail is the JSON-lines file (or stdout) each replica writes.
 */
interface RedisAuditOptions {
  /** Key prefix of the deployment, e.g. `spg:prod:` (keys are `<prefix>audit:user:<email>` and `<prefix>audit:all`). */
  readonly prefix: string;
  readonly clock: Clock;
  readonly retentionMs: number;
  /** Records kept per user (default 1000). */
  readonly perUser?: number;
  /** Records kept in the global list (default 10000). */
  readonly global?: number;
}

const PAGE = 200;

export class RedisAudit implements AuditSink, AuditQuery {
  readonly name = 'redis';
  private readonly perUser: number;
  private readonly globalMax: number;

  constructor(
    private readonly client: RedisClient,
    private readonly options: RedisAuditOptions,
  ) {
    if (options.prefix === '') throw new RangeError('RedisAudit needs a key prefix (e.g. "spg:<deployment>:")');
    this.perUser = options.perUser ?? 1000;
    this.globalMax = options.global ?? 10_000;
  }

  private userKey(user: string): string {
    return `${this.options.prefix}audit:user:${user}`;
  }

  private get globalKey(): string {
    return `${this.options.prefix}audit:all`;
  }

  async write(event: AuditEvent): Promise<void> {
    const line = JSON.stringify(event);
    // One transaction per key: on Redis Cluster the user's list and the global list live in
    // different slots, and a transaction may not span slots.
    const writes: Array<Promise<Array<[Error | null, unknown]> | null>> = [];
    if (event.user !== undefined) {
      const key = this.userKey(event.user);
      writes.push(this.client.multi().lpush(key, line).ltrim(key, 0, this.perUser - 1).pexpire(key, this.options.retentionMs).exec());
    }
    writes.push(this.client.multi().lpush(this.globalKey, line).ltrim(this.globalKey, 0, this.globalMax - 1).exec());
    for (const replies of await Promise.all(writes)) {
      if (replies === null) throw new Error('redis audit: transaction aborted');
      for (const [error] of replies) if (error) throw error;
    }
  }

  async recent(filter: AuditFilter): Promise<AuditEvent[]> {
    const key = filter.user !== undefined ? this.userKey(filter.user) : this.globalKey;
    const since = Math.max(filter.since ?? 0, this.options.clock.now() - this.options.retentionMs);
    const out: AuditEvent[] = [];
    // Newest first: read page by page until enough match or the records get older than `since`.
    for (let start = 0; out.length < filter.limit; start += PAGE) {
      const lines = await this.client.lrange(key, start, start + PAGE - 1);
      for (const line of lines) {
        const event = JSON.parse(line) as AuditEvent;
        if (Date.parse(event.time) < since) return out;
        if (filter.user !== undefined && event.user !== filter.user) continue;
        if (filter.event !== undefined && event.event !== filter.event) continue;
        out.push(event);
        if (out.length >= filter.limit) return out;
      }
      if (lines.length < PAGE) break;
    }
    return out;
  }
}
