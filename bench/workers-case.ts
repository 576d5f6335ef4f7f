/**
 * The `workers` case of `npm run bench`: authenticated pass-through (GET /app/data with a real
 * session's Cookie) through the sidecar as one process (`serve --workers 1`: bench/sidecar.ts) and as
 * a 2-worker cluster (`serve --workers 2`: bench/sidecar-workers.ts, embedded store shared through
 * the primary), in interleaved rounds, with where the CPU went: the load generator (this process,
 * autocannon), the upstream, and the sidecar (for the cluster: primary + workers summed).
 *
 * On the 2-core bench machine the load generator and the upstream take their share of the same two
 * cores, so the 2-worker figure shows what a second worker buys when the cores are already shared;
 * the CPU split says how much of the machine each process had.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fixed, int, table } from './format-table.ts';
import { applyLoad } from './load.ts';
import type { ServerProcess } from './server-processes.ts';
import { startServer } from './server-processes.ts';
import { loginThroughSidecar } from './sidecar-login.ts';
import { median, relativeSpread } from './stats.ts';
import { BENCH_EMAIL, BENCH_PASSWORD, STATIC_BODY_BYTES } from './upstream-body.ts';

export interface WorkersSettings {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly rounds: number;
  /** The 10-rule policy file (writePolicyFiles().small). */
  readonly policy: string;
  readonly stateDir: string;
  readonly nodeFlags: readonly string[];
}

type WorkersTarget = 'workers-1' | 'workers-2';
const TARGETS: readonly WorkersTarget[] = ['workers-1', 'workers-2'];
const LABELS: Record<WorkersTarget, string> = { 'workers-1': 'sidecar --workers 1', 'workers-2': 'sidecar --workers 2' };
const PATH = '/app/data';

interface WorkersRun {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly errors: number;
  readonly non2xx: number;
  readonly seconds: number;
  /** CPU µs per successful request of: the load generator, the upstream, the sidecar (all its processes). */
  readonly cpuUs: { readonly loadGenerator: number; readonly upstream: number; readonly sidecar: number };
  /** Cores each used on average over the window (CPU seconds / wall seconds). */
  readonly cores: { readonly loadGenerator: number; readonly upstream: number; readonly sidecar: number };
}

export interface WorkersResult {
  readonly request: string;
  readonly rounds: Array<Record<WorkersTarget, WorkersRun>>;
  readonly median: Record<WorkersTarget, WorkersRun & { readonly rpsSpread: number }>;
  /** Median req/s of 2 workers / 1 worker. */
  readonly twoOverOne: number;
}

async function cpuOf(server: ServerProcess): Promise<number> {
  const stats = await server.stats();
  if (!stats) throw new Error(`${server.name}: no CPU figures (stats not answered)`);
  return stats.cpu.user + stats.cpu.system;
}

async function measureOnce(server: ServerProcess, upstream: ServerProcess, cookie: string, settings: WorkersSettings): Promise<WorkersRun> {
  const url = `${server.url}${PATH}`;
  const options = { connections: settings.connections, headers: { Cookie: cookie } };
  if (settings.warmupSeconds > 0) await applyLoad(url, { ...options, seconds: settings.warmupSeconds });
  const [sidecarBefore, upstreamBefore] = await Promise.all([cpuOf(server), cpuOf(upstream)]);
  const ownBefore = process.cpuUsage();
  const result = await applyLoad(url, { ...options, seconds: settings.seconds });
  const own = process.cpuUsage(ownBefore);
  const [sidecarAfter, upstreamAfter] = await Promise.all([cpuOf(server), cpuOf(upstream)]);
  const spent = { loadGenerator: own.user + own.system, upstream: upstreamAfter - upstreamBefore, sidecar: sidecarAfter - sidecarBefore };
  const perRequest = (us: number): number => us / result.requests;
  const cores = (us: number): number => us / 1e6 / result.seconds;
  return {
    rps: result.rps,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    requests: result.requests,
    errors: result.errors,
    non2xx: result.non2xx,
    seconds: result.seconds,
    cpuUs: { loadGenerator: perRequest(spent.loadGenerator), upstream: perRequest(spent.upstream), sidecar: perRequest(spent.sidecar) },
    cores: { loadGenerator: cores(spent.loadGenerator), upstream: cores(spent.upstream), sidecar: cores(spent.sidecar) },
  };
}

async function check(server: ServerProcess, cookie: string): Promise<void> {
  const answer = async (headers: Record<string, string>) => {
    const response = await fetch(new URL(PATH, server.url), { headers, redirect: 'manual' });
    return { status: response.status, bytes: (await response.arrayBuffer()).byteLength };
  };
  const signedIn = await answer({ Cookie: cookie, Accept: '*/*' });
  if (signedIn.status !== 200 || signedIn.bytes !== STATIC_BODY_BYTES) throw new Error(`${server.name}: GET ${PATH} with the session answered ${signedIn.status} (${signedIn.bytes} bytes)`);
  if ((await answer({ Accept: '*/*' })).status === 200) throw new Error(`${server.name}: GET ${PATH} without a session answered 200; the policy does not protect it`);
}

export async function workersCase(settings: WorkersSettings, log: (line?: string) => void): Promise<WorkersResult> {
  log('starting the upstream, the sidecar as one process and as a 2-worker cluster …');
  const upstream = await startServer('upstream-workers', './upstream.ts', []);
  const one = await startServer('sidecar-workers-1', './sidecar.ts', [upstream.url, settings.policy, join(settings.stateDir, 'sidecar-workers-1')], { nodeFlags: settings.nodeFlags });
  const two = await startServer('sidecar-workers-2', './sidecar-workers.ts', [upstream.url, settings.policy, join(settings.stateDir, 'sidecar-workers-2'), '2'], {
    nodeFlags: settings.nodeFlags,
  });
  const servers: Record<WorkersTarget, ServerProcess> = { 'workers-1': one, 'workers-2': two };
  const cookies = {} as Record<WorkersTarget, string>;
  for (const name of TARGETS) {
    cookies[name] = await loginThroughSidecar(servers[name].url, { email: BENCH_EMAIL, password: BENCH_PASSWORD });
    await check(servers[name], cookies[name]);
  }
  const rounds: Array<Record<WorkersTarget, WorkersRun>> = [];
  try {
    for (let round = 1; round <= settings.rounds; round++) {
      const results = {} as Record<WorkersTarget, WorkersRun>;
      for (const name of TARGETS) {
        const run = await measureOnce(servers[name], upstream, cookies[name], settings);
        results[name] = run;
        log(
          `  round ${round}/${settings.rounds}  ${LABELS[name].padEnd(20)} ${int(run.rps).padStart(7)} req/s  p99 ${fixed(run.p99Ms, 3)} ms  ` +
            `cores: load generator ${fixed(run.cores.loadGenerator)}, upstream ${fixed(run.cores.upstream)}, sidecar ${fixed(run.cores.sidecar)}` +
            (run.errors + run.non2xx > 0 ? `  (errors ${run.errors}, non-2xx ${run.non2xx})` : ''),
        );
      }
      rounds.push(results);
    }
  } finally {
    await Promise.all([one.stop(), two.stop()]);
    await upstream.stop();
  }
  const medianOf = (name: WorkersTarget): WorkersRun & { rpsSpread: number } => {
    const runs = rounds.map((r) => r[name]);
    const m = (pick: (r: WorkersRun) => number): number => median(runs.map(pick));
    return {
      rps: m((r) => r.rps),
      rpsSpread: relativeSpread(runs.map((r) => r.rps)),
      p50Ms: m((r) => r.p50Ms),
      p99Ms: m((r) => r.p99Ms),
      requests: runs.reduce((n, r) => n + r.requests, 0),
      errors: runs.reduce((n, r) => n + r.errors, 0),
      non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
      seconds: m((r) => r.seconds),
      cpuUs: { loadGenerator: m((r) => r.cpuUs.loadGenerator), upstream: m((r) => r.cpuUs.upstream), sidecar: m((r) => r.cpuUs.sidecar) },
      cores: { loadGenerator: m((r) => r.cores.loadGenerator), upstream: m((r) => r.cores.upstream), sidecar: m((r) => r.cores.sidecar) },
    };
  };
  const medians = { 'workers-1': medianOf('workers-1'), 'workers-2': medianOf('workers-2') };
  return { request: `GET ${PATH} + Cookie`, rounds, median: medians, twoOverOne: medians['workers-2'].rps / medians['workers-1'].rps };
}

export function reportWorkers(result: WorkersResult, settings: Pick<WorkersSettings, 'rounds' | 'seconds' | 'connections'>, log: (line?: string) => void): void {
  log();
  log(`WORKERS  ${result.request}, ${settings.connections} connections, median of ${settings.rounds} interleaved rounds × ${settings.seconds} s`);
  log(
    table(
      ['target', 'req/s', 'spread', 'p50 ms', 'p99 ms', 'sidecar µs/req', 'upstream µs/req', 'load gen µs/req', 'cores: sidecar', 'upstream', 'load gen', 'errors', 'non-2xx'],
      TARGETS.map((name) => {
        const m = result.median[name];
        return [
          LABELS[name],
          int(m.rps),
          `±${fixed((m.rpsSpread * 100) / 2, 1)} %`,
          fixed(m.p50Ms, 3),
          fixed(m.p99Ms, 3),
          fixed(m.cpuUs.sidecar, 1),
          fixed(m.cpuUs.upstream, 1),
          fixed(m.cpuUs.loadGenerator, 1),
          fixed(m.cores.sidecar),
          fixed(m.cores.upstream),
          fixed(m.cores.loadGenerator),
          String(m.errors),
          String(m.non2xx),
        ];
      }),
    ),
  );
  log(`  ratio req/s: 2 workers / 1 worker ${fixed(result.twoOverOne)} (per round: ${result.rounds.map((r) => fixed(r['workers-2'].rps / r['workers-1'].rps)).join(' ')})`);
  log(`  "cores" = CPU seconds / wall seconds of each party over the measured window (this machine: ${availableParallelism()} cores)`);
}
