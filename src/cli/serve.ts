import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { LoadedConfig } from '../config/load.ts';
import { loadConfig } from '../config/load.ts';
import { systemClock } from '../core/clock.ts';
import { runPrimary, runWorker, workerSlot } from '../server/cluster.ts';
import { settleHeap } from '../server/settle-heap.ts';
import { handleSignals, startGuard, type RunningGuard, type StartOptions } from '../server/start.ts';
import { listenFailure } from './listen-failure.ts';
import { UsageError } from './policy.ts';

/**
 * `smartpush-guard serve`: runs until SIGTERM/SIGINT, then drains and exits. `initStore` (the
 * `--init-store` flag) says this is a new deployment, so a missing SQLite store may be created.
 * `workers` (`--workers N`, else `workers:` / GUARD_WORKERS, else one per core): more than one runs
 * that many worker processes on the one port (src/server/cluster.ts); one is a single process.
 */
export async function runServe(
  configPath: string,
  options: { readonly initStore?: boolean; readonly workers?: string | undefined } = {},
): Promise<number> {
  const loaded = loadConfig(configPath);
  const slot = workerSlot();
  if (slot !== null) {
    let guard: RunningGuard;
    try {
      guard = await runWorker(loaded, slot, { start: (startOptions) => start(loaded, startOptions) });
    } catch (error) {
      // main prints the error and sets the exit code; the IPC channel must not keep this worker alive
      // (the primary waits for its exit), nor anything else the failed start left open.
      // (A plain process.disconnect() would make node:cluster exit 0 at once.)
      cluster.worker?.disconnect();
      setTimeout(() => process.exit(process.exitCode ?? 1), 2_000).unref();
      throw error;
    }
    handleSignals(guard);
    await closed(guard);
    return 0;
  }
  // Under another process manager's cluster (PM2 cluster mode) this process is already one of its workers.
  const workers = cluster.isWorker ? 1 : workersOf(options.workers, loaded);
  if (workers > 1) return runPrimary(loaded, { workers, initStore: options.initStore === true, clock: systemClock });
  const guard = await start(loaded, { initStore: options.initStore === true });
  handleSignals(guard);
  await closed(guard);
  return 0;
}

/** `--workers` wins over the config (where GUARD_WORKERS already applied); the default is one per core. */
export function workersOf(flag: string | undefined, loaded: LoadedConfig): number {
  if (flag !== undefined) {
    if (!/^\d{1,4}$/.test(flag) || Number(flag) < 1 || Number(flag) > 1024) throw new UsageError(`--workers must be a whole number from 1 to 1024 (got "${flag}")`);
    return Number(flag);
  }
  return loaded.config.workers ?? availableParallelism();
}

async function start(loaded: LoadedConfig, options: StartOptions): Promise<RunningGuard> {
  let guard: RunningGuard;
  try {
    guard = await startGuard(loaded, options);
  } catch (error) {
    const { listen, admin } = loaded.config;
    const port = (error as { port?: unknown }).port;
    if (port === listen.port) throw listenFailure(error, `the sidecar's address ${listen.host}:${port}`, 'GUARD_PORT (or listen.port)');
    if (port === admin.port) throw listenFailure(error, `the admin listener's address ${admin.host}:${port}`, 'GUARD_ADMIN_PORT (or admin.port)');
    throw error;
  }
  // The start-up's spare heap, back to the system now rather than whenever V8 finds the process idle.
  await settleHeap();
  return guard;
}

function closed(guard: RunningGuard): Promise<void> {
  return new Promise<void>((resolve) => guard.server.once('close', () => resolve()));
}
