import type { Logger } from '../observability/logger.ts';
import type { Clock } from '../core/clock.ts';
import { withoutSecrets, type AuditEvent, type AuditFilter, type AuditInput, type AuditQuery, type AuditRecorder } from './audit.ts';

/** One place audit records go to (a file, stdout, a query store, the metrics). */
export interface AuditSink {
  /** For the failure metric and the log: `file`, `stdout`, `sqlite`, `redis`, … */
  readonly name: string;
  /** Must not wait on the caller's behalf: a sink that does I/O buffers or returns a promise. */
  write(event: AuditEvent): void | Promise<void>;
  /**
   * Resolves once every record written so far is stored (on disk, committed, acknowledged); a
   * sink without it is synchronous or has its writes tracked through the promise `write` returns.
   */
  settle?(): Promise<void>;
  /** Writes what is buffered; resolves when it is on its way to disk or server. */
  close?(): Promise<void>;
}

/** The recorder the flows use and the query side the admin API uses, in one. */
export interface Audit extends AuditRecorder, AuditQuery {
  /**
   * Resolves once every record recorded so far is stored by every sink (issue 14 item 15): the
   * service awaits it before answering, so an event a user was told about survives a kill -9.
   * Never rejects (a failing sink is logged and counted) and returns at once when nothing is pending.
   */
  settle(): Promise<void>;
  /** Flushes and closes every sink (the query store's connection is closed by its owner). */
  close(): Promise<void>;
}

interface CreateAuditOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly sinks: readonly AuditSink[];
  /** Where "recent events" are answered from (a durable store shared by the replicas). */
  readonly query: AuditQuery;
  /** Counts a record a sink could not write. */
  readonly onWriteFailure?: (sink: string) => void;
}

/**
 * The fan-out recorder: every record goes to every sink. It never throws and never waits, so an
 * audit outage cannot fail or slow a sign-in; each failed write is logged and counted instead.
 * Secret-named detail keys are dropped before any sink sees the record (and the drop is logged,
 * so the emitter gets fixed).
 */
export function createAudit(options: CreateAuditOptions): Audit {
  const { clock, logger, sinks } = options;
  let closed = false;
  // Sequence numbers: `settle()` waits only when something was recorded since the last settle
  // covered it, so requests that recorded nothing pay nothing.
  let recorded = 0;
  let settled = 0;
  const inFlight = new Set<Promise<void>>();
  const failed = (sink: string, event: AuditEvent, error: unknown): void => {
    options.onWriteFailure?.(sink);
    try {
      logger.error({ err: error, sink, auditEvent: event.event, user: event.user, requestId: event.requestId }, 'audit record could not be written');
    } catch {
      // The logger itself failing must not reach the request either.
    }
  };
  return {
    record(input: AuditInput): void {
      let event: AuditEvent;
      try {
        const { event: clean, dropped } = withoutSecrets(input);
        if (dropped.length > 0) logger.error({ auditEvent: input.event, dropped }, 'audit: secret-named detail keys dropped from a record');
        event = { time: new Date(clock.now()).toISOString(), ...clean };
      } catch (error) {
        options.onWriteFailure?.('recorder');
        logger.error({ err: error }, 'audit record could not be built');
        return;
      }
      if (closed) {
        failed('closed', event, new Error('audit trail already closed'));
        return;
      }
      recorded += 1;
      for (const sink of sinks) {
        try {
          const pending = sink.write(event);
          if (pending) {
            const tracked: Promise<void> = pending.catch((error: unknown) => failed(sink.name, event, error)).finally(() => inFlight.delete(tracked));
            inFlight.add(tracked);
          }
        } catch (error) {
          failed(sink.name, event, error);
        }
      }
    },
    async settle(): Promise<void> {
      const target = recorded;
      if (settled >= target) return;
      const waits: Array<Promise<unknown>> = [...inFlight];
      for (const sink of sinks) {
        if (!sink.settle) continue;
        waits.push(
          sink.settle().catch((error: unknown) => {
            options.onWriteFailure?.(sink.name);
            logger.error({ err: error, sink: sink.name }, 'audit records could not be made durable');
          }),
        );
      }
      await Promise.all(waits);
      if (settled < target) settled = target;
    },
    recent(filter: AuditFilter): Promise<AuditEvent[]> {
      return options.query.recent(filter);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const results = await Promise.allSettled(sinks.map((sink) => sink.close?.()));
      results.forEach((result, i) => {
        if (result.status === 'rejected') logger.error({ err: result.reason, sink: sinks[i]?.name }, 'audit sink could not be closed cleanly');
      });
    },
  };
}
