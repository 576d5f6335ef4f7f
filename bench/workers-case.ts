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
  /** Blocks of paired slices (1 worker, 2 workers, 2 workers, 1 worker) and each slice's length. */
  readonly pairedBlocks: number;
  readonly pairedSliceSeconds: number;
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

/** What each party spent over some measured windows of one target, summed. */
interface Spent {
  readonly cpuUs: { loadGenerator: number; upstream: number; sidecar: number };
  requests: number;
  seconds: number;
}

/**
 * The two targets in alternating slices, blocks of 1 worker, 2 workers, 2 workers, 1 worker: a slow
 * or fast spell of the shared machine longer than a slice falls on both alike. The rounds above run
 * each target for `seconds` in a row, and this machine's speed drifts by a fifth over a minute.
 */
export interface WorkersPaired {
  readonly blocks: number;
  readonly sliceSeconds: number;
  /** Over all slices of each target: CPU µs per successful request of each party, req/s, cores used. */
  readonly totals: Record<WorkersTarget, Pick<WorkersRun, 'cpuUs' | 'cores' | 'rps'>>;
  /** 2 workers / 1 worker over all slices (Σ requests / Σ seconds; Σ sidecar CPU / Σ requests). */
  readonly rpsRatio: number;
  readonly cpuRatio: number;
  /** The same ratios per block. */
  readonly blockRpsRatios: readonly number[];
  readonly blockCpuRatios: readonly number[];
}

export interface WorkersResult {
  readonly request: string;
  readonly rounds: Array<Record<WorkersTarget, WorkersRun>>;
  readonly median: Record<WorkersTarget, WorkersRun & { readonly rpsSpread: number }>;
  /** Median req/s of 2 workers / 1 worker. */
  readonly twoOverOne: number;
  readonly paired: WorkersPaired;
}

async function cpuOf(server: ServerProcess): Promise<number> {
  const stats = await server.stats();
  if (!stats) throw new Error(`${server.name}: no CPU figures (stats not answered)`);
  return stats.cpu.user + stats.cpu.system;
}

/** One measured window of load on `server`: what each party spent, and the load's own figures. */
async function measureWindow(server: ServerProcess, upstream: ServerProcess, cookie: string, settings: WorkersSettings, seconds: number) {
  const url = `${server.url}${PATH}`;
  const options = { connections: settings.connections, headers: { Cookie: cookie } };
  const [sidecarBefore, upstreamBefore] = await Promise.all([cpuOf(server), cpuOf(upstream)]);
  const ownBefore = process.cpuUsage();
  const result = await applyLoad(url, { ...options, seconds });
  const own = process.cpuUsage(ownBefore);
  const [sidecarAfter, upstreamAfter] = await Promise.all([cpuOf(server), cpuOf(upstream)]);
  const spent: Spent = {
    cpuUs: { loadGenerator: own.user + own.system, upstream: upstreamAfter - upstreamBefore, sidecar: sidecarAfter - sidecarBefore },
    requests: result.requests,
    seconds: result.seconds,
  };
  return { result, spent };
}

/** CPU µs per request and cores of each party over what was spent. */
function perRequest(spent: Spent): Pick<WorkersRun, 'cpuUs' | 'cores' | 'rps'> {
  const each = (of: (us: number) => number) => ({
    loadGenerator: of(spent.cpuUs.loadGenerator),
    upstream: of(spent.cpuUs.upstream),
    sidecar: of(spent.cpuUs.sidecar),
  });
  return { rps: spent.requests / spent.seconds, cpuUs: each((us) => us / spent.requests), cores: each((us) => us / 1e6 / spent.seconds) };
}

function addInto(into: Spent, more: Spent): void {
  into.cpuUs.loadGenerator += more.cpuUs.loadGenerator;
  into.cpuUs.upstream += more.cpuUs.upstream;
  into.cpuUs.sidecar += more.cpuUs.sidecar;
  into.requests += more.requests;
  into.seconds += more.seconds;
}

const nothingSpent = (): Spent => ({ cpuUs: { loadGenerator: 0, upstream: 0, sidecar: 0 }, requests: 0, seconds: 0 });

async function measureOnce(server: ServerProcess, upstream: ServerProcess, cookie: string, settings: WorkersSettings): Promise<WorkersRun> {
  const url = `${server.url}${PATH}`;
  if (settings.warmupSeconds > 0) await applyLoad(url, { connections: settings.connections, headers: { Cookie: cookie }, seconds: settings.warmupSeconds });
  const { result, spent } = await measureWindow(server, upstream, cookie, settings, settings.seconds);
  return {
    ...perRequest(spent),
    rps: result.rps,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    requests: result.requests,
    errors: result.errors,
    non2xx: result.non2xx,
    seconds: result.seconds,
  };
}

const BLOCK_ORDER: readonly WorkersTarget[] = ['workers-1', 'workers-2', 'workers-2', 'workers-1'];

async function measurePaired(
  servers: Record<WorkersTarget, ServerProcess>,
  upstream: ServerProcess,
  cookies: Record<WorkersTarget, string>,
  settings: WorkersSettings,
): Promise<WorkersPaired> {
  const totals = { 'workers-1': nothingSpent(), 'workers-2': nothingSpent() };
  const blockRpsRatios: number[] = [];
  const blockCpuRatios: number[] = [];
  for (let block = 0; block < settings.pairedBlocks; block++) {
    const inBlock = { 'workers-1': nothingSpent(), 'workers-2': nothingSpent() };
    for (const name of BLOCK_ORDER) {
      const { spent } = await measureWindow(servers[name], upstream, cookies[name], settings, settings.pairedSliceSeconds);
      addInto(inBlock[name], spent);
      addInto(totals[name], spent);
    }
    const [one, two] = [perRequest(inBlock['workers-1']), perRequest(inBlock['workers-2'])];
    blockRpsRatios.push(two.rps / one.rps);
    blockCpuRatios.push(two.cpuUs.sidecar / one.cpuUs.sidecar);
  }
  const sums = { 'workers-1': perRequest(totals['workers-1']), 'workers-2': perRequest(totals['workers-2']) };
  return {
    blocks: settings.pairedBlocks,
    sliceSeconds: settings.pairedSliceSeconds,
    totals: sums,
    rpsRatio: sums['workers-2'].rps / sums['workers-1'].rps,
    cpuRatio: sums['workers-2'].cpuUs.sidecar / sums['workers-1'].cpuUs.sidecar,
    blockRpsRatios,
    blockCpuRatios,
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
  let paired: WorkersPaired | undefined;
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
    paired = await measurePaired(servers, upstream, cookies, settings);
    log(
      `  paired: ${paired.blocks} blocks of 1 worker, 2, 2, 1 × ${paired.sliceSeconds} s: req/s ratio ${fixed(paired.rpsRatio)} ` +
        `(blocks ${paired.blockRpsRatios.map((r) => fixed(r)).join(' ')}), CPU per request ratio ${fixed(paired.cpuRatio)} ` +
        `(blocks ${paired.blockCpuRatios.map((r) => fixed(r)).join(' ')})`,
    );
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
  if (!paired) throw new Error('workers: the paired slices did not run');
  return { request: `GET ${PATH} + Cookie`, rounds, median: medians, twoOverOne: medians['workers-2'].rps / medians['workers-1'].rps, paired };
}

/** The columns: µs per request of the sidecar, the upstream and the load generator, then the cores each used. */
function cpuSplit(of: Pick<WorkersRun, 'cpuUs' | 'cores'>): string[] {
  const { cpuUs, cores } = of;
  return [fixed(cpuUs.sidecar, 1), fixed(cpuUs.upstream, 1), fixed(cpuUs.loadGenerator, 1), fixed(cores.sidecar), fixed(cores.upstream), fixed(cores.loadGenerator)];
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
          ...cpuSplit(m),
          String(m.errors),
          String(m.non2xx),
        ];
      }),
    ),
  );
  log(`  ratio req/s: 2 workers / 1 worker ${fixed(result.twoOverOne)} (per round: ${result.rounds.map((r) => fixed(r['workers-2'].rps / r['workers-1'].rps)).join(' ')})`);
  const p = result.paired;
  log();
  log(`WORKERS PAIRED  the same request in alternating slices (1 worker, 2, 2, 1) of ${p.sliceSeconds} s, ${p.blocks} blocks; the TARGETS use these`);
  log(
    table(
      ['target', 'req/s', 'sidecar µs/req', 'upstream µs/req', 'load gen µs/req', 'cores: sidecar', 'upstream', 'load gen'],
      TARGETS.map((name) => {
        const t = p.totals[name];
        return [LABELS[name], int(t.rps), ...cpuSplit(t)];
      }),
    ),
  );
  log(
    `  2 workers / 1 worker: req/s ${fixed(p.rpsRatio)} (per block ${p.blockRpsRatios.map((r) => fixed(r)).join(' ')}), ` +
      `sidecar CPU per request ${fixed(p.cpuRatio)} (per block ${p.blockCpuRatios.map((r) => fixed(r)).join(' ')})`,
  );
  log(`  "cores" = CPU seconds / wall seconds of each party over the measured window (this machine: ${availableParallelism()} cores)`);
}
