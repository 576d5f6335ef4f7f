import type { AuditEvent } from '../audit.ts';
import type { AuditSink } from '../record.ts';

/**
 * The bounded, retrying queue between the audit trail and a receiver that may be down or slow
 * (a SIEM's webhook, a syslog collector). Recording only appends here: nothing a receiver does can
 * block or fail a sign-in. One batch is in flight at a time; a transient failure waits with
 * exponential back-off and tries the same batch again, a permanent one (or too many attempts)
 * drops it. When the queue is full the oldest events go first: the newest are the most actionable,
 * and the audit file and query store keep every record regardless.
 */

export type DeliveryOutcome = 'delivered' | 'retried' | 'dropped' | 'overflow';

/** What a transport says about one batch. */
export type SendResult = { readonly ok: true } | { readonly ok: false; readonly transient: boolean; readonly detail: string };

interface DeliveryQueueOptions {
  /** For metrics and logs: `webhook`, `syslog`. */
  readonly name: string;
  readonly send: (batch: readonly AuditEvent[]) => Promise<SendResult>;
  readonly maxQueue: number;
  readonly batchSize: number;
  /** Attempts per batch before it is dropped. */
  readonly maxAttempts: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  /** Schedules a retry; returns a cancel function (injected so tests need no real time). */
  readonly schedule?: ((run: () => void, ms: number) => () => void) | undefined;
  readonly onOutcome?: ((outcome: DeliveryOutcome, events: number) => void) | undefined;
  readonly onDepth?: ((depth: number) => void) | undefined;
  readonly onFailure?: ((detail: string, attempt: number, dropped: boolean) => void) | undefined;
}

const realTimer = (run: () => void, ms: number): (() => void) => {
  const timer = setTimeout(run, ms);
  // A pending retry never keeps a stopping process alive.
  timer.unref();
  return () => clearTimeout(timer);
};

export class DeliveryQueue {
  readonly #options: DeliveryQueueOptions;
  readonly #schedule: (run: () => void, ms: number) => () => void;
  #queue: AuditEvent[] = [];
  #sending = false;
  #attempt = 0;
  #cancelRetry: (() => void) | null = null;
  #closed = false;
  #idle: Array<() => void> = [];

  constructor(options: DeliveryQueueOptions) {
    if (options.maxQueue < 1 || options.batchSize < 1 || options.maxAttempts < 1) throw new Error(`${options.name}: queue, batch and attempts must be positive`);
    this.#options = options;
    this.#schedule = options.schedule ?? realTimer;
  }

  get depth(): number {
    return this.#queue.length;
  }

  /** Never throws and never waits. */
  push(event: AuditEvent): void {
    if (this.#closed) return;
    this.#queue.push(event);
    const excess = this.#queue.length - this.#options.maxQueue;
    if (excess > 0) {
      // While a batch is in flight its events are the head of the queue: drop after them.
      const from = this.#sending ? Math.min(this.#options.batchSize, this.#queue.length - excess) : 0;
      this.#queue.splice(from, excess);
      this.#options.onOutcome?.('overflow', excess);
    }
    this.#options.onDepth?.(this.#queue.length);
    this.#pump();
  }

  #pump(): void {
    if (this.#sending || this.#cancelRetry !== null) return;
    if (this.#queue.length === 0 || this.#closed) {
      this.#wakeIdle();
      return;
    }
    this.#sending = true;
    const batch = this.#queue.slice(0, this.#options.batchSize);
    void this.#options
      .send(batch)
      .catch((error: unknown): SendResult => ({ ok: false, transient: true, detail: (error as Error).message }))
      .then((result) => this.#settle(batch.length, result));
  }

  #settle(count: number, result: SendResult): void {
    this.#sending = false;
    this.#attempt += 1;
    const drop = (outcome: DeliveryOutcome): void => {
      this.#queue.splice(0, count);
      this.#attempt = 0;
      this.#options.onOutcome?.(outcome, count);
      this.#options.onDepth?.(this.#queue.length);
    };
    if (result.ok) {
      drop('delivered');
      this.#pump();
      return;
    }
    const giveUp = !result.transient || this.#attempt >= this.#options.maxAttempts;
    this.#options.onFailure?.(result.detail, this.#attempt, giveUp);
    if (giveUp) {
      drop('dropped');
      this.#pump();
      return;
    }
    this.#options.onOutcome?.('retried', count);
    if (this.#closed) return this.#wakeIdle();
    const { initialMs, maxMs } = this.#options.backoff;
    const delay = Math.min(maxMs, initialMs * 2 ** (this.#attempt - 1));
    this.#cancelRetry = this.#schedule(() => {
      this.#cancelRetry = null;
      this.#pump();
    }, delay);
  }

  #wakeIdle(): void {
    for (const wake of this.#idle.splice(0)) wake();
  }

  /** Resolves when nothing is queued or in flight, or a retry is waiting (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.#sending && (this.#queue.length === 0 || this.#cancelRetry !== null || this.#closed)) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Stops taking events, gives what is queued one last attempt within `graceMs`, then drops the
   * rest (counted): a stopping sidecar must not hang on a receiver that is down.
   */
  async close(graceMs = 2_000): Promise<void> {
    this.#cancelRetry?.();
    this.#cancelRetry = null;
    if (this.#queue.length > 0 && !this.#sending) this.#pump();
    this.#closed = true;
    await Promise.race([this.idle(), new Promise<void>((resolve) => realTimer(resolve, graceMs))]);
    if (this.#queue.length > 0) {
      this.#options.onOutcome?.('dropped', this.#queue.length);
      this.#queue = [];
      this.#options.onDepth?.(0);
    }
  }
}

/** A stream sink: an audit sink with the queue behind it (for metrics and tests). */
export interface StreamSink extends AuditSink {
  readonly queue: DeliveryQueue;
}

/** What both stream sinks take for their queue: its limits, retries and observers, the events pushed, and event ids. */
export interface StreamQueueOptions {
  readonly maxQueue: number;
  readonly maxAttempts: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  /** Only these events are pushed (default: every one). */
  readonly events?: ReadonlySet<string> | undefined;
  readonly newId: () => string;
  readonly schedule?: (run: () => void, ms: number) => () => void;
  readonly onOutcome?: (outcome: DeliveryOutcome, events: number) => void;
  readonly onDepth?: (depth: number) => void;
  readonly onFailure?: (detail: string, attempt: number, dropped: boolean) => void;
}

/**
 * A sink that queues the events `options.events` selects for `send`. The id of each is fixed when
 * it is queued (in `ids`, which `send` reads), so every retry of it carries the same one.
 */
export function queuedSink(
  name: string,
  options: StreamQueueOptions,
  batchSize: number,
  ids: WeakMap<AuditEvent, string>,
  send: (batch: readonly AuditEvent[]) => Promise<SendResult>,
  close: (queue: DeliveryQueue) => Promise<void>,
): StreamSink {
  const queue = new DeliveryQueue({
    name,
    send,
    maxQueue: options.maxQueue,
    batchSize,
    maxAttempts: options.maxAttempts,
    backoff: options.backoff,
    schedule: options.schedule,
    onOutcome: options.onOutcome,
    onDepth: options.onDepth,
    onFailure: options.onFailure,
  });
  return {
    name,
    queue,
    write(event) {
      if (options.events !== undefined && !options.events.has(event.event)) return;
      ids.set(event, options.newId());
      queue.push(event);
    },
    close: () => close(queue),
  };
}
