// Over 300 lines: the primary's supervision (fork, back-off, metrics aggregation, drain) is one state machine, kept in one place.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { LoadedConfig } from '../config/load.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import type { MetricsOutput } from '../observability/metrics.ts';
import { MemoryStore } from '../store/memory.ts';
import { SharedStoreClient } from '../store/shared.ts';
import { childPort, primaryPort } from '../store/shared-ipc.ts';
import { StoreHost } from '../store/shared-host.ts';
import type { Clock } from '../core/clock.ts';
import type { RunningGuard, StartOptions } from './start.ts';
import { keepTickShape } from './tick-shape.ts';

/**
 * `serve --workers N`: N worker processes serve one port (node:cluster; the primary accepts the
 * connections and hands them to the workers in turn, and serves no request itself).
 *
 * - State: with `store.kind: redis` every worker talks to Redis as a replica would. With the
 *   embedded store the durable records are the one SQLite file (WAL; every worker opens it) and
 *   the ephemeral state (sessions, counters, pending logins, bans, budgets) is the primary's
 *   MemoryStore, which workers call over IPC (src/store/shared.ts): exactly one process's semantics.
 * - Worker 1 also runs the admin listener; its `/metrics` is the sum of every worker's (prom-client's
 *   AggregatorRegistry.aggregate in the primary, over the workers that finished starting). If worker 1 is restarted the admin listener is back
 *   with it.
 * - Every log line carries `worker` (0 is the primary). A worker that exits unasked is started again,
 *   after 0.5 s, doubling up to 30 s while it keeps failing (reset once it has run 30 s).
 * - SIGTERM / SIGINT to the primary: every worker drains (shutdown_grace) and exits; the primary exits
 *   0 once all have exited cleanly. SIGHUP is passed on to every worker (policy reload). A primary
 *   that dies (kill -9) takes the workers with it: node:cluster ends a worker whose IPC channel closes.
 * - Worker 1 starts alone first (it may create the store with --init-store, runs the migrations and the
 *   key check), then the others. A worker that fails to start in that first round stops the whole
 *   start with its exit code (its error is already printed on stderr).
 */

const SLOT_ENV = 'GUARD_WORKER_SLOT';
const INIT_STORE_ENV = 'GUARD_WORKER_INIT_STORE';
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
const HEALTHY_AFTER_MS = 30_000;

/** Messages of the cluster runtime (the shared store's are tagged `spg`, prom-client's `type`). */
type ClusterMessage =
  | { readonly spgWorker: 'ready'; readonly url?: string; readonly adminUrl?: string }
  | { readonly spgWorker: 'metrics'; readonly id: number }
  | { readonly spgWorker: 'metrics-reply'; readonly id: number; readonly body?: string; readonly contentType?: string; readonly error?: string }
  | { readonly spgWorker: 'metrics-json'; readonly id: number }
  | { readonly spgWorker: 'metrics-json-reply'; readonly id: number; readonly metrics?: unknown[]; readonly error?: string };

/** How long the primary waits for one worker's metrics before leaving that worker out of a scrape. */
const METRICS_WAIT_MS = 3_000;

function isClusterMessage(message: unknown): message is ClusterMessage {
  return typeof message === 'object' && message !== null && typeof (message as { spgWorker?: unknown }).spgWorker === 'string';
}

/** This process is a worker of `serve --workers N` (its slot, 1…N), or null. */
export function workerSlot(env: NodeJS.ProcessEnv = process.env): number | null {
  if (!cluster.isWorker) return null;
  const slot = Number(env[SLOT_ENV]);
  return Number.isSafeInteger(slot) && slot >= 1 ? slot : null;
}

interface Slot {
  readonly slot: number;
  worker: Worker | undefined;
  readyAt: number | undefined;
  failures: number;
  restart: NodeJS.Timeout | undefined;
}

export interface PrimaryOptions {
  readonly workers: number;
  readonly initStore: boolean;
  readonly logger?: Logger;
  readonly clock: Clock;
}

/** The primary: forks and supervises the workers, holds the shared store, aggregates metrics. Resolves with the exit code. */
export async function runPrimary(loaded: LoadedConfig, options: PrimaryOptions): Promise<number> {
  keepTickShape();
  const { config } = loaded;
  const logger = options.logger ?? createLogger(config.log.level).child({ worker: 0 });
  const clock = options.clock;
  const host = config.store.kind === 'embedded' ? new StoreHost(new MemoryStore(clock)) : undefined;
  let nextMetrics = 1;
  const metricsWaiting = new Map<number, (metrics: unknown[] | undefined) => void>();
  /**
   * Every ready worker's metrics as prom-client JSON, summed by AggregatorRegistry.aggregate. Only
   * workers that finished starting are asked (one still starting has no registry yet), and one that
   * does not answer in time is left out rather than failing the scrape.
   */
  const aggregatedMetrics = async (): Promise<{ body: string; contentType: string }> => {
    const ready = slots.flatMap((s) => (s.worker && s.readyAt !== undefined && s.worker.isConnected() ? [s.worker] : []));
    const answers = await Promise.all(
      ready.map(
        (worker) =>
          new Promise<unknown[] | undefined>((resolve) => {
            const id = nextMetrics++;
            const timer = setTimeout(() => done(undefined), METRICS_WAIT_MS);
            const done = (metrics: unknown[] | undefined): void => {
              clearTimeout(timer);
              metricsWaiting.delete(id);
              resolve(metrics);
            };
            metricsWaiting.set(id, done);
            worker.send({ spgWorker: 'metrics-json', id } satisfies ClusterMessage, (error: Error | null) => {
              if (error) done(undefined);
            });
          }),
      ),
    );
    const gathered = answers.filter((a): a is unknown[] => Array.isArray(a));
    if (gathered.length === 0) throw new Error('no worker answered');
    const registry = AggregatorRegistry.aggregate(gathered as Parameters<typeof AggregatorRegistry.aggregate>[0]);
    return { body: await registry.metrics(), contentType: registry.contentType };
  };
  const slots: Slot[] = Array.from({ length: options.workers }, (_, i) => ({ slot: i + 1, worker: undefined, readyAt: undefined, failures: 0, restart: undefined }));
  let stopping = false;
  let initStoreUsed = false;
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const readyWaiters = new Map<number, (ok: boolean, code: number) => void>();
  /** Where the workers listen (slot 1 also runs the admin listener), for the one "listening" line. */
  const listening: { url?: string; adminUrl?: string } = {};

  const onMessage = (slot: Slot, worker: Worker) => (message: unknown): void => {
    if (!isClusterMessage(message)) return;
    if (message.spgWorker === 'ready') {
      slot.readyAt = clock.now();
      if (message.url !== undefined) listening.url = message.url;
      if (message.adminUrl) listening.adminUrl = message.adminUrl;
      logger.info({ slot: slot.slot, pid: worker.process.pid }, 'worker ready');
      readyWaiters.get(slot.slot)?.(true, 0);
      return;
    }
    if (message.spgWorker === 'metrics-json-reply') {
      metricsWaiting.get(message.id)?.(message.metrics);
      return;
    }
    if (message.spgWorker === 'metrics') {
      const reply = (fields: { body?: string; contentType?: string; error?: string }): void => {
        if (worker.isConnected()) worker.send({ spgWorker: 'metrics-reply', id: message.id, ...fields }, () => {});
      };
      aggregatedMetrics().then(
        (output) => reply(output),
        (error: unknown) => reply({ error: String((error as Error | null)?.message ?? error) }),
      );
    }
  };

  const fork = (slot: Slot): Worker => {
    slot.restart = undefined;
    slot.readyAt = undefined;
    const initStore = options.initStore && !initStoreUsed;
    initStoreUsed = true;
    const worker = cluster.fork({ [SLOT_ENV]: String(slot.slot), [INIT_STORE_ENV]: initStore ? '1' : '' });
    slot.worker = worker;
    host?.attach(childPort(worker));
    worker.on('message', onMessage(slot, worker));
    worker.once('exit', (code, signal) => exited(slot, worker, code, signal));
    return worker;
  };

  const exited = (slot: Slot, worker: Worker, code: number | null, signal: string | null): void => {
    if (slot.worker === worker) slot.worker = undefined;
    const waiter = readyWaiters.get(slot.slot);
    if (waiter && slot.readyAt === undefined) {
      // A start cut short by a shutdown is no failure; otherwise the start fails with its code.
      waiter(stopping, stopping ? 0 : (code ?? 1));
      if (!stopping) return;
    }
    if (stopping) {
      if (slots.every((s) => s.worker === undefined)) finish(0);
      return;
    }
    const ranMs = slot.readyAt === undefined ? 0 : clock.now() - slot.readyAt;
    slot.failures = ranMs >= HEALTHY_AFTER_MS ? 1 : slot.failures + 1;
    const delayMs = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (slot.failures - 1));
    logger.error({ slot: slot.slot, pid: worker.process.pid, code, signal, restartInMs: delayMs }, 'worker exited; restarting it');
    slot.restart = setTimeout(() => {
      if (!stopping) fork(slot);
    }, delayMs);
  };

  /** Forks the slot and waits until it is ready; false (with its exit code) when it exits first. */
  const start = (slot: Slot): Promise<{ ok: boolean; code: number }> =>
    new Promise((resolve) => {
      readyWaiters.set(slot.slot, (ok, code) => {
        readyWaiters.delete(slot.slot);
        resolve({ ok, code });
      });
      fork(slot);
    });

  const exitCodes: number[] = [];
  const stop = async (reason: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason, workers: slots.filter((s) => s.worker).length }, 'shutting down: draining every worker');
    for (const slot of slots) {
      if (slot.restart) clearTimeout(slot.restart);
      slot.restart = undefined;
    }
    const live = slots.flatMap((s) => (s.worker ? [{ worker: s.worker, ready: s.readyAt !== undefined }] : []));
    if (live.length === 0) {
      finish(0);
      return;
    }
    const exits = live.map(
      ({ worker, ready }) =>
        new Promise<void>((resolve) => {
          worker.once('exit', (code) => {
            // A worker still starting had nothing to drain; SIGTERM may end it before its handler is in place.
            if (ready) exitCodes.push(code ?? 1);
            resolve();
          });
          worker.process.kill('SIGTERM');
        }),
    );
    // A worker that does not drain in time is ended: shutdown_grace plus time to close the stores.
    const deadline = setTimeout(() => {
      for (const { worker } of live) if (worker.isConnected() || worker.process.exitCode === null) worker.process.kill('SIGKILL');
    }, config.shutdown_grace + 15_000);
    deadline.unref();
    await Promise.all(exits);
    clearTimeout(deadline);
    finish(0);
  };

  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => {
    for (const slot of slots) slot.worker?.process.kill('SIGHUP');
  });

  logger.info({ workers: options.workers, store: config.store.kind }, 'starting workers');
  const first = slots[0] as Slot;
  const results = [await start(first)];
  if (results[0]?.ok && !stopping) results.push(...(await Promise.all(slots.slice(1).map((slot) => start(slot)))));
  const failed = results.find((r) => !r.ok);
  if (failed && !stopping) {
    // The worker printed why; the others are stopped, and the start fails with its code.
    logger.error({ code: failed.code }, 'a worker did not start; stopping');
    await stop('a worker did not start');
    await finished;
    await host?.close();
    return failed.code === 0 ? 1 : failed.code;
  }
  if (!stopping) {
    logger.info({ workers: options.workers, listen: `${config.listen.host}:${config.listen.port}` }, 'every worker is ready');
    logger.info({ url: listening.url, adminUrl: listening.adminUrl ?? '', upstream: config.upstream.url, policy: loaded.policyPath, workers: options.workers }, 'smartpush-guard listening');
  }
  await finished;
  await host?.close();
  const clean = exitCodes.every((code) => code === 0);
  logger.info({ clean }, 'smartpush-guard stopped');
  return clean ? 0 : 1;
}

export interface WorkerHooks {
  /** Starts the sidecar with these options (serve.ts' start, with its error messages). */
  start(options: StartOptions): Promise<RunningGuard>;
}

/** A worker: the sidecar with the shared store (embedded) and, in slot 1, the admin listener. */
export async function runWorker(loaded: LoadedConfig, slot: number, hooks: WorkerHooks): Promise<RunningGuard> {
  keepTickShape();
  const logger = createLogger(loaded.config.log.level).child({ worker: slot });
  const shared = loaded.config.store.kind === 'embedded' ? new SharedStoreClient(primaryPort()) : undefined;
  let nextMetrics = 1;
  const metricsWaiting = new Map<number, { resolve: (output: MetricsOutput) => void; reject: (error: Error) => void }>();
  let registry: { getMetricsAsJSON(): Promise<unknown[]> } | undefined;
  process.on('message', (message: unknown) => {
    if (!isClusterMessage(message)) return;
    if (message.spgWorker === 'metrics-json') {
      const answer = (fields: { metrics?: unknown[]; error?: string }): void => {
        if (process.connected) process.send?.({ spgWorker: 'metrics-json-reply', id: message.id, ...fields } satisfies ClusterMessage, undefined, undefined, () => {});
      };
      if (!registry) answer({ error: 'starting' });
      else registry.getMetricsAsJSON().then((metrics) => answer({ metrics }), (error: unknown) => answer({ error: String(error) }));
      return;
    }
    if (message.spgWorker !== 'metrics-reply') return;
    const waiting = metricsWaiting.get(message.id);
    if (!waiting) return;
    metricsWaiting.delete(message.id);
    if (message.body !== undefined) waiting.resolve({ body: message.body, contentType: message.contentType ?? 'text/plain; version=0.0.4; charset=utf-8' });
    else waiting.reject(new Error(`metrics of the workers could not be gathered: ${message.error ?? 'no answer'}`));
  });
  const aggregatedMetrics = (): Promise<MetricsOutput> =>
    new Promise((resolve, reject) => {
      const id = nextMetrics++;
      metricsWaiting.set(id, { resolve, reject });
      if (!process.connected || !process.send) {
        metricsWaiting.delete(id);
        reject(new Error('the primary process has gone'));
        return;
      }
      process.send({ spgWorker: 'metrics', id }, undefined, undefined, () => {});
    });
  const guard = await hooks.start({
    logger,
    initStore: process.env[INIT_STORE_ENV] === '1',
    adminListener: slot === 1,
    announce: false,
    metricsOutput: aggregatedMetrics,
    ...(shared ? { store: shared, events: shared } : {}),
  });
  // The primary sums every worker's registry (AggregatorRegistry.aggregate) for worker 1's /metrics.
  registry = guard.metrics.registry;
  process.send?.({ spgWorker: 'ready', url: guard.url, adminUrl: guard.adminUrl } satisfies ClusterMessage);
  return guard;
}
