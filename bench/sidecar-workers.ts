/**
 * The sidecar as `serve --workers N` runs it: the cluster primary (src/server/cluster.ts) with N
 * worker processes on one port, the embedded store shared through the primary. The config is the
 * bench's (sidecar-config.ts); logs go to stdout, which the bench discards.
 * Usage: node bench/sidecar-workers.ts <upstream-url> <policy-file> <state-dir> <workers>
 *
 * The parent's `{ type: 'stats' }` is answered with the CPU of the primary and every worker summed
 * (asked over the cluster's IPC), and with the primary's memory.
 */
import cluster, { type Worker } from 'node:cluster';
import { performance } from 'node:perf_hooks';
import { systemClock } from '../src/core/clock.ts';
import { runPrimary, runWorker, workerSlot } from '../src/server/cluster.ts';
import { settleHeap } from '../src/server/settle-heap.ts';
import { handleSignals, startGuard } from '../src/server/start.ts';
import { announceReady, failStartup } from './announce-ready.ts';
import { benchSidecarConfig } from './sidecar-config.ts';

const [upstreamUrl, policyFile, stateDir, workersText] = process.argv.slice(2);
if (!upstreamUrl || !policyFile || !stateDir || !workersText) failStartup(new Error('usage: sidecar-workers.ts <upstream-url> <policy-file> <state-dir> <workers>'));
const workers = Number(workersText);

interface WorkerReady {
  readonly type: 'bench-worker-ready';
  readonly url: string;
}
interface WorkerCpu {
  readonly type: 'bench-worker-cpu';
  readonly id: number;
  readonly cpu: NodeJS.CpuUsage;
}

try {
  // In the primary this also puts the generated secrets into the environment the workers inherit.
  const loaded = benchSidecarConfig(upstreamUrl, policyFile, stateDir);
  const slot = workerSlot();
  if (slot !== null) {
    // Each worker settles its heap after start, as `serve` does (src/cli/serve.ts).
    const start = async (options: Parameters<typeof startGuard>[1]) => {
      const started = await startGuard(loaded, { ...options, watchPolicy: false });
      await settleHeap();
      return started;
    };
    const guard = await runWorker(loaded, slot, { start });
    handleSignals(guard);
    process.on('message', (message: { type?: string; id?: number }) => {
      if (message?.type === 'bench-cpu') process.send?.({ type: 'bench-worker-cpu', id: message.id ?? 0, cpu: process.cpuUsage() } satisfies WorkerCpu);
    });
    process.send?.({ type: 'bench-worker-ready', url: guard.url } satisfies WorkerReady);
  } else {
    const started = performance.now();
    const ready = new Set<Worker>();
    let url = '';
    let nextId = 1;
    cluster.on('message', (worker, message: WorkerReady | undefined) => {
      if (message?.type !== 'bench-worker-ready' || ready.has(worker)) return;
      ready.add(worker);
      url = message.url;
      if (ready.size === workers) announceReady(url, { startMs: Math.round(performance.now() - started), workers });
    });
    /** CPU of this process and every worker (each asked over IPC; a worker that does not answer in 2 s is left out). */
    const clusterCpu = async (): Promise<NodeJS.CpuUsage> => {
      const id = nextId++;
      const live = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
      const answers = await Promise.all(
        live.map(
          (worker) =>
            new Promise<NodeJS.CpuUsage>((resolve) => {
              const timer = setTimeout(() => done({ user: 0, system: 0 }), 2_000);
              const onMessage = (message: WorkerCpu | undefined): void => {
                if (message?.type === 'bench-worker-cpu' && message.id === id) done(message.cpu);
              };
              const done = (cpu: NodeJS.CpuUsage): void => {
                clearTimeout(timer);
                worker.off('message', onMessage);
                resolve(cpu);
              };
              worker.on('message', onMessage);
              worker.send({ type: 'bench-cpu', id });
            }),
        ),
      );
      const own = process.cpuUsage();
      return answers.reduce((sum, cpu) => ({ user: sum.user + cpu.user, system: sum.system + cpu.system }), own);
    };
    process.on('message', (message: { type?: string } | undefined) => {
      if (message?.type !== 'stats') return;
      void clusterCpu().then((cpu) => process.send?.({ type: 'stats', memory: process.memoryUsage(), cpu }));
    });
    // Never outlive the bench: its IPC channel closes however it ends (the workers follow the primary).
    process.on('disconnect', () => process.exit(0));
    const code = await runPrimary(loaded, { workers, initStore: true, clock: systemClock });
    process.exit(code);
  }
} catch (error) {
  failStartup(error);
}
