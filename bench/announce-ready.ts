/**
 * Child side of the server processes the benchmark starts (see server-processes.ts): tell the
 * parent the URL over IPC, exit with the parent, exit cleanly on SIGTERM (so `--cpu-prof` writes
 * its profile).
 */

export interface ReadyMessage {
  readonly type: 'ready';
  readonly url: string;
  /** Extra facts the parent records (e.g. how long the server took to start). */
  readonly info?: Record<string, unknown>;
}

export function announceReady(url: string, info?: Record<string, unknown>): void {
  const message: ReadyMessage = info ? { type: 'ready', url, info } : { type: 'ready', url };
  if (!process.send) {
    // Started by hand: just say where it listens.
    console.log(JSON.stringify(message));
    return;
  }
  process.send(message);
}

/** Answer to the parent's `{ type: 'stats' }`: resource usage of this whole process (all threads). */
export interface StatsMessage {
  readonly type: 'stats';
  readonly memory: NodeJS.MemoryUsage;
  /** Microseconds of CPU (user, system) since the process started. */
  readonly cpu: NodeJS.CpuUsage;
}

/**
 * Never outlive the benchmark: the IPC channel closes when the parent dies, however it dies.
 * Also answers the parent's `{ type: 'stats' }` with memory and CPU usage.
 */
export function exitWithParent(): void {
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: { type?: string } | undefined) => {
    if (message?.type === 'stats') {
      process.send?.({ type: 'stats', memory: process.memoryUsage(), cpu: process.cpuUsage() } satisfies StatsMessage);
    }
  });
  process.once('SIGTERM', () => process.exit(0));
  process.once('SIGINT', () => process.exit(0));
}

/** The child's failure goes to stderr, which the parent shows. */
export function failStartup(error: unknown): never {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
}
