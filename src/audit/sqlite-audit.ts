import type Database from 'better-sqlite3';
import type { Clock } from '../core/clock.ts';
import type { SqliteDurableStore } from '../store/sqlite.ts';
import type { AuditEvent, AuditFilter, AuditQuery } from './audit.ts';
import type { AuditSink } from './record.ts';

/**
 * The audit trail's query side on the embedded SQLite file (table `audit_events`, schema step 3 in
 * src/store/sqlite.ts, applied when the durable store opens the file). better-sqlite3 is
 * synchronous, so records are queued and inserted in one transaction on the next turn of the event
 * loop. A query first writes what is queued, so it sees every record so far. Records older than the
 * retention are pruned (at open, then hourly) and never answered.
 *
 * The audit table shares the durable store's connection, but its commits run with `synchronous =
 * NORMAL`: the store's FULL fsyncs every commit (~4 ms measured, blocking the event loop, on every
 * sign-in); NORMAL in WAL mode does not fsync per commit and may lose only the last commits on
 * power loss (the store's next FULL commit syncs them with its own). That is fine for the query
 * side: the JSON-lines file is the complete trail, and nothing replays from here.
 *
 * Why one connection and not one of its own, as before (issue 16): SQLite drops a connection's
 * whole page cache when another connection has committed to the file, so every audit commit made
 * the store re-read its pages from the operating system at the next sign-in (its first reads then
 * cost 5–10 times as much), and every store commit did the same to the audit connection.
 */
interface SqliteAuditOptions {
  readonly clock: Clock;
  readonly retentionMs: number;
  /** Receives a failed batch's error (the batch is lost: the file sink and the log still have it). */
  readonly onError?: (error: unknown) => void;
}

const PRUNE_EVERY_MS = 3_600_000;

export class SqliteAudit implements AuditSink, AuditQuery {
  readonly name = 'sqlite';
  private readonly db: Database.Database;
  /** Run around each batch when the store's connection syncs harder than NORMAL; null when it does not. */
  private readonly relaxed: { readonly normal: Database.Statement; readonly restore: Database.Statement } | null;
  private readonly insert;
  private readonly insertBatch;
  private readonly prune;
  private readonly queries = new Map<string, Database.Statement<Record<string, string | number>, { record: string }>>();
  private queue: AuditEvent[] = [];
  private scheduled = false;
  private readonly pruneTimer: NodeJS.Timeout;

  constructor(
    store: SqliteDurableStore,
    private readonly options: SqliteAuditOptions,
  ) {
    this.db = store.database();
    // 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA: a connection set above NORMAL is relaxed for audit commits only.
    const level = Number(this.db.pragma('synchronous', { simple: true }));
    this.relaxed = level > 1 ? { normal: this.db.prepare('PRAGMA synchronous = NORMAL'), restore: this.db.prepare(`PRAGMA synchronous = ${level}`) } : null;
    this.insert = this.db.prepare<[{ time: number; user: string | null; event: string; record: string }]>(
      'INSERT INTO audit_events (time, user, event, record) VALUES (@time, @user, @event, @record)',
    );
    this.insertBatch = this.db.transaction((events: readonly AuditEvent[]) => {
      for (const event of events) {
        this.insert.run({ time: Date.parse(event.time), user: event.user ?? null, event: event.event, record: JSON.stringify(event) });
      }
    });
    this.prune = this.db.prepare<[number]>('DELETE FROM audit_events WHERE time < ?');
    this.pruneExpired();
    this.pruneTimer = setInterval(() => this.pruneExpired(), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
  }

  private cutoff(): number {
    return this.options.clock.now() - this.options.retentionMs;
  }

  /** Deletes records past the retention; returns how many. */
  pruneExpired(): number {
    try {
      if (!this.db.open) return 0;
      return this.prune.run(this.cutoff()).changes;
    } catch (error) {
      this.options.onError?.(error);
      return 0;
    }
  }

  write(event: AuditEvent): void {
    this.queue.push(event);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /**
   * Commits what is queued. The connection is `synchronous = NORMAL` in WAL mode: a commit is in
   * the operating system's hands (it survives a kill -9 of the process; a power loss may take the
   * last ones, which the fsynced JSON-lines file keeps).
   */
  async settle(): Promise<void> {
    if (this.db.open) this.flush();
  }

  /** Inserts what is queued, in one transaction. */
  flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    // SQLite refuses a new safety level inside a transaction: a flush from within one (a query
    // run inside a store transaction) commits with the transaction, at its level.
    const relaxed = this.db.inTransaction ? null : this.relaxed;
    try {
      relaxed?.normal.run();
      try {
        this.insertBatch(batch);
      } finally {
        relaxed?.restore.run();
      }
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  private statement(filter: AuditFilter) {
    const shape = `${filter.user !== undefined ? 'u' : ''}${filter.event !== undefined ? 'e' : ''}`;
    let statement = this.queries.get(shape);
    if (!statement) {
      const where = ['time >= @since'];
      if (filter.user !== undefined) where.push('user = @user');
      if (filter.event !== undefined) where.push('event = @event');
      statement = this.db.prepare<Record<string, string | number>, { record: string }>(
        `SELECT record FROM audit_events WHERE ${where.join(' AND ')} ORDER BY time DESC, id DESC LIMIT @limit`,
      );
      this.queries.set(shape, statement);
    }
    return statement;
  }

  async recent(filter: AuditFilter): Promise<AuditEvent[]> {
    this.flush();
    const params: Record<string, string | number> = {
      since: Math.max(filter.since ?? 0, this.cutoff()),
      limit: Math.max(0, Math.floor(filter.limit)),
    };
    if (filter.user !== undefined) params['user'] = filter.user;
    if (filter.event !== undefined) params['event'] = filter.event;
    return this.statement(filter)
      .all(params)
      .map((row) => JSON.parse(row.record) as AuditEvent);
  }

  async close(): Promise<void> {
    clearInterval(this.pruneTimer);
    if (this.db.open) this.flush();
  }
}
