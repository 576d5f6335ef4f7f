/**
 * `npm run bench`: the sidecar's cost, measured as ratios against baselines run side by side in
 * one run (absolute numbers on a shared 2-core machine are too noisy to compare across runs).
 *
 *   1. pass-through: direct upstream vs bare http-proxy-3 vs the sidecar, interleaved rounds,
 *      then latency at half of the bare proxy's throughput;
 *   2. policy size: the sidecar with a 10-rule vs a 10,000-rule policy (in the same rounds, then
 *      in paired slices);
 *   3. authenticated pass-through: GET /app/data with a real session's Cookie, through the bare
 *      proxy and through the sidecar (in the same rounds), then the sidecar's CPU per login;
 *   4. a 1 GiB streamed export, direct vs through a bare proxy vs through the sidecar, with the
 *      sidecar's peak RSS.
 *   5. workers: the authenticated request through `serve --workers 1` vs `--workers 2`, with the
 *      CPU split between load generator, upstream and sidecar, in rounds and in paired slices
 *      (bench/workers-case.ts).
 *
 * Results: console table + var/bench/latest.json. See bench/README.md.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { formatProfileSummary, summariseProfile, type ProfileSummary } from './cpu-profile-summary.ts';
import { DEMO_EMAIL, DEMO_PASSWORD, download, loginToDemo, type Download } from './export-download.ts';
import { fixed, int, mib, signedMs, table } from './format-table.ts';
import { applyLoad, type LoadOptions, type LoadResult } from './load.ts';
import { writePolicyFiles } from './policy-files.ts';
import { procStatusKiB, sampleRss, type RssSamples } from './rss-sampler.ts';
import { nginxAvailable, startNginx } from './nginx.ts';
import { openLoop } from './open-loop.ts';
import { startServer, stopAllServers, type ServerProcess } from './server-processes.ts';
import { loginThroughSidecar, sequentialLogins } from './sidecar-login.ts';
import { median, relativeSpread } from './stats.ts';
import { BENCH_EMAIL, BENCH_PASSWORD, STATIC_BODY_BYTES } from './upstream-body.ts';
// The same throw-away redis-server the tests use (a real server on a free port, no persistence).
import { startRedisServer } from '../test/helpers/redis-server.ts';
import { reportWorkers, workersCase, type WorkersResult } from './workers-case.ts';

/** Stops the bench's redis-server (set once it runs). */
let stopRedis: () => Promise<void> = async () => {};

// ---------------------------------------------------------------------------------------------
// Settings

function envNumber(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number (got ${JSON.stringify(text)})`);
  return value;
}

const KNOWN_CASES = ['passthrough', 'export', 'workers'];
const CASES = new Set((process.env['BENCH_CASES'] ?? KNOWN_CASES.join(',')).split(',').map((s) => s.trim()));
for (const name of CASES) {
  if (!KNOWN_CASES.includes(name)) throw new Error(`BENCH_CASES: unknown case "${name}" (known: ${KNOWN_CASES.join(', ')})`);
}
const settings = {
  seconds: envNumber('BENCH_SECONDS', 6),
  warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 1.5),
  connections: Math.round(envNumber('BENCH_CONNECTIONS', 32)),
  rounds: Math.round(envNumber('BENCH_ROUNDS', 3)),
  halfLoadSeconds: envNumber('BENCH_HALF_LOAD_SECONDS', 3),
  // The proxy-against-proxy targets are also measured in alternating short slices (A B B A …), so
  // that a slow spell of the shared machine falls on both proxies of a pair alike.
  pairedBlocks: Math.round(envNumber('BENCH_PAIRED_BLOCKS', 6)),
  pairedSliceSeconds: envNumber('BENCH_PAIRED_SLICE_SECONDS', 1),
  halfLoadWarmupSeconds: 0.5,
  halfLoadFraction: 0.5,
  smallPolicyRules: 10,
  largePolicyRules: Math.round(envNumber('BENCH_POLICY_RULES', 10_000)),
  exportRows: Math.round(envNumber('BENCH_EXPORT_ROWS', 16_777_216)),
  exportRounds: Math.round(envNumber('BENCH_EXPORT_ROUNDS', 2)),
  logins: Math.round(envNumber('BENCH_LOGINS', 1_000)),
  // V8 compiles a sign-in's code over its first few thousand runs (and Node's own HTTP code over
  // a few thousand requests even in a ten-line server): the first sign-ins after start are
  // measured apart (coldLogins), then the warm-up, then the measured ones (bench/README.md).
  coldLogins: 200,
  loginWarmup: Math.round(envNumber('BENCH_LOGIN_WARMUP', 5_000)),
  loginBatches: 4,
  rssIntervalMs: 50,
  cpuProfile: process.env['BENCH_CPU_PROF'] === '1',
  cases: [...CASES],
};

const PATH = '/static/app.css';
/** The authenticated pass-through case: an `/app/**` rule with `access: authenticated`. */
const AUTH_PATH = '/app/data';
const ROOT = resolve(import.meta.dirname, '..');
const OUT_DIR = join(ROOT, 'var', 'bench');
const PROFILE_DIR = join(OUT_DIR, 'profiles');
/** Files the sidecars write (SQLite store, outbox), one folder each; emptied at the start of a run. */
const STATE_DIR = join(OUT_DIR, 'state');

/** Targets (informational: the bench exits 0 either way). */
/** Issue 16's targets (and the earlier ones for the policy size and the Redis store). */
const TARGETS = {
  sidecarOverBare: 0.95,
  sidecarAuthOverBare: 0.95,
  cpuPerRequestOverBare: 1.05,
  loginCpuMs: 1.5,
  p99AddedMs: 1,
  largeOverSmallPolicy: 0.95,
  redisAuthOverMemoryAuth: 0.85,
  exportSidecarOverBare: 0.95,
  exportCpuPerMBOverBare: 1.2,
  idleRssMiB: 80,
  exportPeakRssMiB: 120,
  workersTwoOverOne: 1,
  workersCpuPerRequestTwoOverOne: 1.1,
};

const log = (line = ''): void => console.log(line);
/** How long after a server reported ready its idle RSS is read. */
const IDLE_SETTLE_MS = 1500;

// ---------------------------------------------------------------------------------------------
// Pass-through

type TargetName = 'direct' | 'nginx' | 'bare-proxy' | 'sidecar' | 'sidecar-10k' | 'bare-proxy-auth' | 'sidecar-auth' | 'sidecar-redis-auth';
type HalfLoadName = 'bare-proxy' | 'sidecar';
const TARGET_NAMES: readonly TargetName[] = ['direct', 'nginx', 'bare-proxy', 'sidecar', 'sidecar-10k', 'bare-proxy-auth', 'sidecar-auth', 'sidecar-redis-auth'];

interface Target {
  readonly name: TargetName;
  readonly label: string;
  readonly server: ServerProcess;
  /** What is requested: `/static/app.css` anonymously, or `/app/data` with a session's Cookie. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
}

interface Measurement extends LoadResult {
  /** CPU time (user + system, all threads) of the server under test per successful request, µs. */
  readonly serverCpuUs: number | undefined;
  /** The same for the upstream process (for `direct`, the upstream is the server under test). */
  readonly upstreamCpuUs: number | undefined;
}

interface MedianMeasurement {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** (max − min) / median of req/s over the rounds. */
  readonly rpsSpread: number;
  readonly serverCpuUs: number;
  readonly upstreamCpuUs: number;
  readonly errors: number;
  readonly non2xx: number;
}

/** Sequential logins through the sidecar (POST /_guard/api/login), after the pass-through rounds. */
interface LoginResult {
  readonly count: number;
  readonly warmup: number;
  /** The first sign-ins after start (part of the warm-up), and their CPU per login: a cold process. */
  readonly coldCount: number;
  readonly coldCpuMsPerLogin: number | undefined;
  /** Sidecar CPU (user + system, all threads) over all measured logins / count, ms. */
  readonly sidecarCpuMsPerLogin: number;
  /** The same per batch of count / batches logins (shows the noise). */
  readonly batchCpuMsPerLogin: number[];
  /** The upstream's CPU per login (the replayed POST /login), ms: not part of the sidecar's figure. */
  readonly upstreamCpuMsPerLogin: number | undefined;
  /**
   * The same sign-ins through bench/login-floor.ts (the three HTTP exchanges of a sign-in and
   * nothing else), warmed and measured in turn with the sidecar's: CPU ms per login, all and per batch.
   */
  readonly floorCpuMsPerLogin: number;
  readonly floorBatchCpuMsPerLogin: number[];
  readonly wallMsMedian: number;
  readonly wallMsP99: number;
}

interface PassThroughResult {
  readonly labels: Record<TargetName, string>;
  readonly requests: Record<TargetName, string>;
  readonly rounds: Array<Record<TargetName, Measurement>>;
  readonly median: Record<TargetName, MedianMeasurement>;
  readonly halfLoad: {
    readonly rate: number;
    readonly rounds: Array<Record<HalfLoadName, Measurement>>;
    readonly median: Record<HalfLoadName, MedianMeasurement>;
  };
  /** The public and the authenticated pair, measured in alternating slices. */
  readonly paired: {
    readonly public: PairedMeasurement;
    readonly authenticated: PairedMeasurement;
    /** The 10-rule sidecar (baseline, both slices) against the 10,000-rule one. */
    readonly policySize: PairedMeasurement;
    readonly halfLoad: PairedHalfLoad;
  };
  readonly memory: Record<'bare-proxy' | 'sidecar' | 'sidecar-10k', { rssKiB: number | undefined; hwmKiB: number | undefined; startMs: unknown }>;
  /** VmRSS of the 10-rule sidecar once started, before any request (after IDLE_SETTLE_MS). */
  readonly idleRssKiB: number | undefined;
  readonly profiles: Partial<Record<'bare-proxy' | 'sidecar' | 'sidecar-10k', { file: string; summary: ProfileSummary }>>;
  /** Whether GET /app/data with the session's Cookie still answered 200 after all the rounds. */
  readonly sessionValidAfterRounds: boolean;
  readonly login: LoginResult | undefined;
  readonly loginError: string | undefined;
}

async function get(target: Target, headers: Readonly<Record<string, string>> | undefined): Promise<{ status: number; body: Buffer }> {
  const response = await fetch(new URL(target.path, target.server.url), { headers: { Accept: '*/*', ...headers }, redirect: 'manual' });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
}

async function checkTarget(target: Target): Promise<void> {
  const { status, body } = await get(target, target.headers);
  if (status !== 200 || body.length !== STATIC_BODY_BYTES) {
    throw new Error(`${target.label}: GET ${target.path} answered ${status} with ${body.length} bytes: ${body.toString('utf8', 0, 300)}`);
  }
  if (target.name === 'sidecar-auth') {
    // The measured path must really need the session: without the Cookie, no 200.
    const anonymous = await get(target, undefined);
    if (anonymous.status === 200) throw new Error(`${target.label}: GET ${target.path} without a session answered 200; the policy does not protect it`);
  }
}

function describe(result: Measurement): string {
  const problems = result.errors + result.non2xx > 0 ? `  (errors ${result.errors}, non-2xx ${result.non2xx})` : '';
  return (
    `${int(result.rps).padStart(7)} req/s  p50 ${fixed(result.p50Ms, 3)} ms  p99 ${fixed(result.p99Ms, 3)} ms  ` +
    `CPU ${fixed(result.serverCpuUs ?? Number.NaN, 1)} µs/req${problems}`
  );
}

async function cpuMicros(server: ServerProcess): Promise<number | undefined> {
  const stats = await server.stats();
  return stats ? stats.cpu.user + stats.cpu.system : undefined;
}

/** Warm up, then one measured autocannon run, with the CPU time the server and the upstream spent on it. */
async function measure(target: Target, upstream: ServerProcess, options: LoadOptions, warmupSeconds: number): Promise<Measurement> {
  const url = `${target.server.url}${target.path}`;
  if (target.headers) options = { ...options, headers: target.headers };
  // A given rate is offered open-loop and evenly paced (open-loop.ts); otherwise autocannon runs flat out.
  const load = (opts: LoadOptions): Promise<LoadResult> =>
    opts.overallRate === undefined
      ? applyLoad(url, opts)
      : openLoop(url, { rate: opts.overallRate, seconds: opts.seconds, connections: opts.connections, ...(opts.headers ? { headers: opts.headers } : {}) });
  if (warmupSeconds > 0) await load({ ...options, seconds: warmupSeconds });
  const before = await Promise.all([cpuMicros(target.server), cpuMicros(upstream)]);
  const result = await load(options);
  const after = await Promise.all([cpuMicros(target.server), cpuMicros(upstream)]);
  const perRequest = (i: 0 | 1): number | undefined => {
    const a = after[i];
    const b = before[i];
    return a === undefined || b === undefined ? undefined : (a - b) / result.requests;
  };
  return { ...result, serverCpuUs: perRequest(0), upstreamCpuUs: perRequest(1) };
}

/** How a pair was sliced: blocks of four slices of this many seconds. */
interface PairedSlices {
  readonly blocks: number;
  readonly sliceSeconds: number;
}

/** One block of paired slices: the baseline, the candidate twice, the baseline again. */
const BLOCK_ORDER = ['baseline', 'candidate', 'candidate', 'baseline'] as const;

/**
 * A candidate and its baseline, the baseline as two processes of the same server: one started
 * before the candidate (a block's first slice) and one started after every other server (its last
 * slice). The same code measured against itself cost up to a tenth more CPU per request in the
 * process started later (bench/README.md, "Start order"); with one baseline on each side, that
 * falls on the baseline's two halves and not on the ratio.
 */
interface Pair {
  readonly baseline: Target;
  readonly lateBaseline: Target;
  readonly candidate: Target;
}

/** The server of a block's slice `slot`. */
function slotTarget(pair: Pair, slot: number): Target {
  if (BLOCK_ORDER[slot] === 'candidate') return pair.candidate;
  return slot === 0 ? pair.baseline : pair.lateBaseline;
}

/** Two servers measured in alternating slices: totals per server, and the ratio of each A B B A block. */
interface PairedMeasurement extends PairedSlices {
  readonly baseline: TargetName;
  readonly candidate: TargetName;
  /** Σ CPU / Σ successful requests over all slices of each server, µs. */
  readonly cpuUs: { readonly baseline: number; readonly candidate: number };
  /** Σ successful requests / Σ measured seconds of each server. */
  readonly rps: { readonly baseline: number; readonly candidate: number };
  /** candidate / baseline over all slices. */
  readonly cpuRatio: number;
  readonly rpsRatio: number;
  /** The same ratios per A B B A block (the spread shows what is left of the noise). */
  readonly blockCpuRatios: readonly number[];
  readonly blockRpsRatios: readonly number[];
  /** The baseline's CPU per request in its process started before the candidate, and in the one started after. */
  readonly baselineCpuUsByStart: { readonly before: number; readonly after: number };
}

/**
 * Two servers in alternating slices of a few seconds, in A B B A blocks: a slow spell of the
 * machine (other jobs on the shared cores) that lasts longer than a slice falls on both alike,
 * and a drift within a block cancels out. The interleaved rounds above run each target for
 * `BENCH_SECONDS` in a row, so a spell can fall on one proxy of a pair and not on the other.
 */
async function pairedMeasure(pair: Pair, upstream: ServerProcess): Promise<PairedMeasurement> {
  const { baseline, candidate } = pair;
  const options = { seconds: settings.pairedSliceSeconds, connections: settings.connections };
  // Each server warmed up once more: the previous case may have been another server.
  for (const target of [baseline, pair.lateBaseline, candidate]) await measure(target, upstream, { ...options, seconds: settings.warmupSeconds }, 0);
  const sum = { baseline: { cpu: 0, requests: 0, seconds: 0 }, candidate: { cpu: 0, requests: 0, seconds: 0 } };
  const blockCpuRatios: number[] = [];
  const blockRpsRatios: number[] = [];
  const byStart = { before: { cpu: 0, requests: 0 }, after: { cpu: 0, requests: 0 } };
  for (let block = 0; block < settings.pairedBlocks; block++) {
    const inBlock = { baseline: { cpu: 0, requests: 0, seconds: 0 }, candidate: { cpu: 0, requests: 0, seconds: 0 } };
    for (const [slot, which] of BLOCK_ORDER.entries()) {
      const result = await measure(slotTarget(pair, slot), upstream, options, 0);
      const cpu = (result.serverCpuUs ?? Number.NaN) * result.requests;
      if (which === 'baseline') {
        const half = byStart[slot === 0 ? 'before' : 'after'];
        half.cpu += cpu;
        half.requests += result.requests;
      }
      for (const into of [sum[which], inBlock[which]]) {
        into.cpu += cpu;
        into.requests += result.requests;
        into.seconds += result.seconds;
      }
    }
    blockCpuRatios.push(inBlock.candidate.cpu / inBlock.candidate.requests / (inBlock.baseline.cpu / inBlock.baseline.requests));
    blockRpsRatios.push(inBlock.candidate.requests / inBlock.candidate.seconds / (inBlock.baseline.requests / inBlock.baseline.seconds));
  }
  const cpuUs = { baseline: sum.baseline.cpu / sum.baseline.requests, candidate: sum.candidate.cpu / sum.candidate.requests };
  const rps = { baseline: sum.baseline.requests / sum.baseline.seconds, candidate: sum.candidate.requests / sum.candidate.seconds };
  return {
    baseline: baseline.name,
    candidate: candidate.name,
    blocks: settings.pairedBlocks,
    sliceSeconds: settings.pairedSliceSeconds,
    cpuUs,
    rps,
    cpuRatio: cpuUs.candidate / cpuUs.baseline,
    rpsRatio: rps.candidate / rps.baseline,
    blockCpuRatios,
    blockRpsRatios,
    baselineCpuUsByStart: { before: byStart.before.cpu / byStart.before.requests, after: byStart.after.cpu / byStart.after.requests },
  };
}

/** Latency of the two proxies at the same offered rate, in alternating slices (A B B A blocks). */
interface PairedHalfLoad extends PairedSlices {
  readonly rate: number;
  /** p50 and p99 over all slices of each proxy (their latencies merged into one distribution), ms. */
  readonly baseline: { readonly p50Ms: number; readonly p99Ms: number };
  readonly candidate: { readonly p50Ms: number; readonly p99Ms: number };
  /** candidate − baseline p99, ms: over all slices, and per block. */
  readonly p99AddedMs: number;
  readonly blockP99AddedMs: readonly number[];
}

async function pairedHalfLoad(pair: Pair, rate: number): Promise<PairedHalfLoad> {
  const slice = (target: Target, seconds: number, record?: RecordableHistogram): Promise<LoadResult> =>
    openLoop(`${target.server.url}${target.path}`, { rate, seconds, connections: settings.connections, ...(record ? { record } : {}) });
  const histogram = (): RecordableHistogram => createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });
  for (const target of [pair.baseline, pair.lateBaseline, pair.candidate]) await slice(target, settings.halfLoadWarmupSeconds);
  const all = { baseline: histogram(), candidate: histogram() };
  const blockP99AddedMs: number[] = [];
  for (let block = 0; block < settings.pairedBlocks; block++) {
    const inBlock = { baseline: histogram(), candidate: histogram() };
    for (const [slot, which] of BLOCK_ORDER.entries()) await slice(slotTarget(pair, slot), settings.pairedSliceSeconds, inBlock[which]);
    all.baseline.add(inBlock.baseline);
    all.candidate.add(inBlock.candidate);
    blockP99AddedMs.push((inBlock.candidate.percentile(99) - inBlock.baseline.percentile(99)) / 1000);
  }
  const of = (h: RecordableHistogram) => ({ p50Ms: h.percentile(50) / 1000, p99Ms: h.percentile(99) / 1000 });
  const b = of(all.baseline);
  const c = of(all.candidate);
  return { rate, blocks: settings.pairedBlocks, sliceSeconds: settings.pairedSliceSeconds, baseline: b, candidate: c, p99AddedMs: c.p99Ms - b.p99Ms, blockP99AddedMs };
}

function medianOf<K extends string>(rounds: ReadonlyArray<Record<K, Measurement>>, name: K): MedianMeasurement {
  const runs = rounds.map((r) => r[name]);
  return {
    rps: median(runs.map((r) => r.rps)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    rpsSpread: relativeSpread(runs.map((r) => r.rps)),
    serverCpuUs: median(runs.map((r) => r.serverCpuUs ?? Number.NaN)),
    upstreamCpuUs: median(runs.map((r) => r.upstreamCpuUs ?? Number.NaN)),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
  };
}

/** The main thread's profile of a process (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; tsx's loader is thread 1). */
function latestProfile(pid: number): string | undefined {
  try {
    const files = readdirSync(PROFILE_DIR).filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${pid}.0.`));
    return files.length > 0 ? join(PROFILE_DIR, files.sort().at(-1) as string) : undefined;
  } catch {
    return undefined;
  }
}

async function passThrough(): Promise<PassThroughResult> {
  const policies = writePolicyFiles(join(OUT_DIR, 'policies'), settings.smallPolicyRules, settings.largePolicyRules);
  const profileFlags = settings.cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];

  log('starting servers (each in its own process) …');
  const upstream = await startServer('upstream', './upstream.ts', []);
  const bare = await startServer('bare-proxy', './bare-proxy.ts', [upstream.url], { nodeFlags: profileFlags });
  if (!nginxAvailable()) throw new Error('nginx is not installed: the reference proxy needs it (apt-get install nginx-light)');
  const nginx = await startNginx(join(OUT_DIR, 'nginx'), upstream.url);
  const sidecar = await startServer('sidecar', './sidecar.ts', [upstream.url, policies.small, join(STATE_DIR, 'sidecar')], {
    nodeFlags: profileFlags,
  });
  // The same sidecar with all state in Redis (a bench-owned redis-server, as several replicas would share).
  const redis = await startRedisServer();
  if (!redis) throw new Error('redis-server is not installed: the Redis store case needs it (apt-get install redis-server)');
  stopRedis = () => redis.stop();
  const sidecarRedis = await startServer('sidecar-redis', './sidecar.ts', [upstream.url, policies.small, join(STATE_DIR, 'sidecar-redis'), redis.url], {
    nodeFlags: profileFlags,
  });
  const sidecarLarge = await startServer('sidecar-10k', './sidecar.ts', [upstream.url, policies.large, join(STATE_DIR, 'sidecar-10k')], {
    nodeFlags: profileFlags,
  });
  // The 10-rule sidecar once more, started after the 10,000-rule one: the last slice of each block
  // of the policy-size pair, as the late bare proxy is for the proxy pairs (bench/README, "Start order").
  const sidecarLate = await startServer('sidecar-late', './sidecar.ts', [upstream.url, policies.small, join(STATE_DIR, 'sidecar-late')], {
    nodeFlags: profileFlags,
  });
  // The bare proxy once more, started after every sidecar: the last slice of each paired block.
  const bareLate = await startServer('bare-proxy-late', './bare-proxy.ts', [upstream.url], { nodeFlags: profileFlags });
  // Idle: started, settled (as `serve` does), no request yet; the servers started after it had time to.
  await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
  const idleRssKiB = procStatusKiB(sidecar.pid, 'VmRSS');
  const labels: Record<TargetName, string> = {
    direct: 'direct',
    nginx: 'nginx proxy_pass',
    'bare-proxy': 'bare-proxy',
    sidecar: `sidecar (${policies.smallRules} rules)`,
    'sidecar-10k': `sidecar (${policies.largeRules.toLocaleString('en-US')} rules)`,
    'bare-proxy-auth': 'bare-proxy (auth req.)',
    'sidecar-auth': 'sidecar (authenticated)',
    'sidecar-redis-auth': 'sidecar on Redis (auth)',
  };
  // One real session, signed in once through the (10-rule) sidecar; the same Cookie header goes
  // to the bare proxy too, so both proxies parse and forward the same request.
  const cookie = await loginThroughSidecar(sidecar.url, { email: BENCH_EMAIL, password: BENCH_PASSWORD });
  const authHeaders = { Cookie: cookie };
  const redisCookie = await loginThroughSidecar(sidecarRedis.url, { email: BENCH_EMAIL, password: BENCH_PASSWORD });
  const requests: Record<TargetName, string> = {
    direct: `GET ${PATH}`,
    nginx: `GET ${PATH}`,
    'bare-proxy': `GET ${PATH}`,
    sidecar: `GET ${PATH}`,
    'sidecar-10k': `GET ${PATH}`,
    'bare-proxy-auth': `GET ${AUTH_PATH} + Cookie`,
    'sidecar-auth': `GET ${AUTH_PATH} + Cookie`,
    'sidecar-redis-auth': `GET ${AUTH_PATH} + Cookie`,
  };
  const targets: Target[] = [
    { name: 'direct', label: labels.direct, server: upstream, path: PATH },
    { name: 'nginx', label: labels.nginx, server: nginx, path: PATH },
    { name: 'bare-proxy', label: labels['bare-proxy'], server: bare, path: PATH },
    { name: 'sidecar', label: labels.sidecar, server: sidecar, path: PATH },
    { name: 'sidecar-10k', label: labels['sidecar-10k'], server: sidecarLarge, path: PATH },
    { name: 'bare-proxy-auth', label: labels['bare-proxy-auth'], server: bare, path: AUTH_PATH, headers: authHeaders },
    { name: 'sidecar-auth', label: labels['sidecar-auth'], server: sidecar, path: AUTH_PATH, headers: authHeaders },
    { name: 'sidecar-redis-auth', label: labels['sidecar-redis-auth'], server: sidecarRedis, path: AUTH_PATH, headers: { Cookie: redisCookie } },
  ];
  for (const target of targets) await checkTarget(target);
  log(
    `  upstream pid ${upstream.pid}, bare-proxy pid ${bare.pid}, sidecar pid ${sidecar.pid} (started in ${String(sidecar.info['startMs'])} ms), ` +
      `sidecar-10k pid ${sidecarLarge.pid} (started in ${String(sidecarLarge.info['startMs'])} ms)`,
  );
  log(`  session for ${AUTH_PATH}: Cookie with ${cookie.split('; ').length} cookie(s), ${cookie.length} bytes; GET ${AUTH_PATH} without it is refused`);

  // Full-speed rounds, interleaved so slow phases of the machine hit every target alike.
  const rounds: Array<Record<TargetName, Measurement>> = [];
  for (let round = 1; round <= settings.rounds; round++) {
    const results = {} as Record<TargetName, Measurement>;
    for (const target of targets) {
      const result = await measure(target, upstream, { seconds: settings.seconds, connections: settings.connections }, settings.warmupSeconds);
      results[target.name] = result;
      log(`  round ${round}/${settings.rounds}  ${target.label.padEnd(23)} ${describe(result)}`);
    }
    rounds.push(results);
  }
  const medians = Object.fromEntries(TARGET_NAMES.map((name) => [name, medianOf(rounds, name)])) as Record<TargetName, MedianMeasurement>;

  const byName = (name: TargetName): Target => targets.find((t) => t.name === name) as Target;
  const pairOf = (baseline: TargetName, candidate: TargetName): Pair => ({
    baseline: byName(baseline),
    lateBaseline: { ...byName(baseline), server: bareLate },
    candidate: byName(candidate),
  });
  const pairedLoad = {
    public: await pairedMeasure(pairOf('bare-proxy', 'sidecar'), upstream),
    authenticated: await pairedMeasure(pairOf('bare-proxy-auth', 'sidecar-auth'), upstream),
  };
  // Policy size: the 10-rule sidecar on both sides of a block (its first process, then the late one).
  const policySize = await pairedMeasure({ baseline: byName('sidecar'), lateBaseline: { ...byName('sidecar'), server: sidecarLate }, candidate: byName('sidecar-10k') }, upstream);
  for (const [name, p] of Object.entries({ ...pairedLoad, 'policy size': policySize })) {
    log(
      `  paired (${name}): ${p.blocks} blocks of A B B A × ${p.sliceSeconds} s, CPU ${fixed(p.cpuUs.baseline, 1)} / ${fixed(p.cpuUs.candidate, 1)} µs/req ` +
        `(ratio ${fixed(p.cpuRatio)}, blocks ${p.blockCpuRatios.map((r) => fixed(r)).join(' ')}), req/s ratio ${fixed(p.rpsRatio)}`,
    );
  }

  // Latency at half load: the same offered rate for both proxies.
  const rate = Math.round(medians['bare-proxy'].rps * settings.halfLoadFraction);
  log(`  half load: ${int(rate)} req/s open loop, evenly paced (${settings.halfLoadFraction * 100} % of bare-proxy)`);
  const halfRounds: Array<Record<HalfLoadName, Measurement>> = [];
  for (let round = 1; round <= settings.rounds; round++) {
    const results = {} as Record<HalfLoadName, Measurement>;
    for (const target of targets) {
      if (target.name !== 'bare-proxy' && target.name !== 'sidecar') continue;
      const options = { seconds: settings.halfLoadSeconds, connections: settings.connections, overallRate: rate };
      const result = await measure(target, upstream, options, settings.halfLoadWarmupSeconds);
      results[target.name] = result;
      log(`  half-load round ${round}/${settings.rounds}  ${target.label.padEnd(23)} ${describe(result)}`);
    }
    halfRounds.push(results);
  }

  const pairedHalf = await pairedHalfLoad(pairOf('bare-proxy', 'sidecar'), rate);
  log(
    `  paired half load: ${pairedHalf.blocks} blocks of A B B A × ${pairedHalf.sliceSeconds} s at ${int(rate)} req/s, p99 ${fixed(pairedHalf.baseline.p99Ms, 3)} / ` +
      `${fixed(pairedHalf.candidate.p99Ms, 3)} ms (added ${signedMs(pairedHalf.p99AddedMs)}; blocks ${pairedHalf.blockP99AddedMs.map((v) => fixed(v, 2)).join(' ')})`,
  );

  const memoryOf = (server: ServerProcess) => ({
    rssKiB: procStatusKiB(server.pid, 'VmRSS'),
    hwmKiB: procStatusKiB(server.pid, 'VmHWM'),
    startMs: server.info['startMs'],
  });
  const memory = { 'bare-proxy': memoryOf(bare), sidecar: memoryOf(sidecar), 'sidecar-10k': memoryOf(sidecarLarge) };

  // The session must have lasted through every round (a non-2xx answer is counted, but say so plainly).
  const sidecarAuth = targets.find((t) => t.name === 'sidecar-auth') as Target;
  const sessionValidAfterRounds = (await get(sidecarAuth, authHeaders)).status === 200;
  if (!sessionValidAfterRounds) log(`  WARNING: GET ${AUTH_PATH} with the session no longer answers 200: the session ended during the run`);

  let login: LoginResult | undefined;
  let loginError: string | undefined;
  try {
    const floor = await startServer('login-floor', './login-floor.ts', [upstream.url]);
    try {
      login = await measureLogins(sidecar, upstream, floor);
    } finally {
      await floor.stop();
    }
  } catch (error) {
    loginError = error instanceof Error ? (error.stack ?? error.message) : String(error);
    console.error(`\nbench: the login measurement failed: ${loginError}`);
  }

  for (const server of [sidecar, sidecarLarge, sidecarLate, bare, nginx, upstream]) await server.stop();
  const profiles: PassThroughResult['profiles'] = {};
  if (settings.cpuProfile) {
    for (const [name, server] of [['bare-proxy', bare], ['sidecar', sidecar], ['sidecar-10k', sidecarLarge]] as const) {
      const file = latestProfile(server.pid);
      if (file) profiles[name] = { file, summary: summariseProfile(file) };
    }
  }

  return {
    labels,
    requests,
    rounds,
    median: medians,
    halfLoad: { rate, rounds: halfRounds, median: { 'bare-proxy': medianOf(halfRounds, 'bare-proxy'), sidecar: medianOf(halfRounds, 'sidecar') } },
    paired: { ...pairedLoad, policySize, halfLoad: pairedHalf },
    memory,
    idleRssKiB,
    profiles,
    sessionValidAfterRounds,
    login,
    loginError,
  };
}

/**
 * CPU per login: sequential `POST /_guard/api/login` against the sidecar (after a warm-up), the
 * sidecar's CPU delta over them / their number. The upstream that checks the password is its own
 * process, so its CPU is not in the figure (it is reported beside it).
 */
async function measureLogins(sidecar: ServerProcess, upstream: ServerProcess, floor: ServerProcess): Promise<LoginResult> {
  const credentials = { email: BENCH_EMAIL, password: BENCH_PASSWORD };
  const coldCount = Math.min(settings.coldLogins, settings.loginWarmup);
  const coldBefore = await cpuMicros(sidecar);
  await sequentialLogins(sidecar.url, credentials, coldCount);
  const coldAfter = await cpuMicros(sidecar);
  // The rest of the warm-up in turns with the floor's own: a process left idle after its warm-up
  // while another warms up was seen to cost up to a fifth more per sign-in for a while after.
  for (let left = settings.loginWarmup - coldCount, floorLeft = settings.loginWarmup; left > 0 || floorLeft > 0; ) {
    const step = Math.min(250, left);
    if (step > 0) await sequentialLogins(sidecar.url, credentials, step);
    left -= step;
    const floorStep = Math.min(250, floorLeft);
    if (floorStep > 0) await sequentialLogins(floor.url, credentials, floorStep);
    floorLeft -= floorStep;
  }
  const batches = Math.max(1, Math.min(settings.loginBatches, settings.logins));
  const batchCpuMsPerLogin: number[] = [];
  const floorBatchCpuMsPerLogin: number[] = [];
  const wall: number[] = [];
  let done = 0;
  let sidecarCpu = 0;
  let floorCpu = 0;
  let upstreamCpu = 0;
  let upstreamComplete = true;
  // Batches of the sidecar and the floor in turns (S F F S S F …), so a slower spell of the machine falls on both.
  for (let batch = 0; batch < batches; batch++) {
    const count = Math.round((settings.logins * (batch + 1)) / batches) - done;
    const order = batch % 2 === 0 ? (['sidecar', 'floor'] as const) : (['floor', 'sidecar'] as const);
    for (const which of order) {
      const server = which === 'sidecar' ? sidecar : floor;
      const [before, upstreamBefore] = await Promise.all([cpuMicros(server), cpuMicros(upstream)]);
      const times = await sequentialLogins(server.url, credentials, count);
      const [after, upstreamAfter] = await Promise.all([cpuMicros(server), cpuMicros(upstream)]);
      if (before === undefined || after === undefined) throw new Error(`login case: ${server.name} did not report its CPU usage`);
      if (which === 'sidecar') {
        wall.push(...times);
        sidecarCpu += after - before;
        batchCpuMsPerLogin.push((after - before) / 1000 / count);
        if (upstreamBefore === undefined || upstreamAfter === undefined) upstreamComplete = false;
        else upstreamCpu += upstreamAfter - upstreamBefore;
      } else {
        floorCpu += after - before;
        floorBatchCpuMsPerLogin.push((after - before) / 1000 / count);
      }
    }
    done += count;
  }
  const sorted = [...wall].sort((a, b) => a - b);
  const result: LoginResult = {
    count: done,
    warmup: settings.loginWarmup,
    coldCount,
    coldCpuMsPerLogin: coldBefore === undefined || coldAfter === undefined || coldCount === 0 ? undefined : (coldAfter - coldBefore) / 1000 / coldCount,
    sidecarCpuMsPerLogin: sidecarCpu / 1000 / done,
    batchCpuMsPerLogin,
    upstreamCpuMsPerLogin: upstreamComplete ? upstreamCpu / 1000 / done : undefined,
    floorCpuMsPerLogin: floorCpu / 1000 / done,
    floorBatchCpuMsPerLogin,
    wallMsMedian: median(wall),
    wallMsP99: sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] ?? Number.NaN,
  };
  log(
    `  logins: ${done} sequential (after ${settings.loginWarmup} warm-up), sidecar CPU ${fixed(result.sidecarCpuMsPerLogin, 3)} ms/login ` +
      `[batches ${batchCpuMsPerLogin.map((v) => fixed(v, 3)).join(' ')}], wall p50 ${fixed(result.wallMsMedian, 2)} ms; ` +
      `the first ${coldCount} after start: ${fixed(result.coldCpuMsPerLogin ?? Number.NaN, 3)} ms/login; ` +
      `the floor (three exchanges, nothing else) ${fixed(result.floorCpuMsPerLogin, 3)} ms/login [batches ${floorBatchCpuMsPerLogin.map((v) => fixed(v, 3)).join(' ')}]`,
  );
  return result;
}

// ---------------------------------------------------------------------------------------------
// Streamed export

type ExportPath = 'direct' | 'bare-proxy' | 'sidecar';

interface ExportTransfer extends Download {
  /** CPU time of the proxy process per MB moved, ms; undefined for direct. */
  readonly proxyCpuMsPerMB: number | undefined;
  /** RSS of the proxy process during the transfer; undefined for direct. */
  readonly proxyRss: RssSamples | undefined;
}

interface ExportResult {
  readonly rows: number;
  readonly bytes: number;
  /** Every transfer, round by round (direct → bare-proxy → sidecar in each round). */
  readonly rounds: Array<Record<ExportPath, ExportTransfer>>;
  /** The fastest transfer per path: machine noise only ever slows a transfer down. */
  readonly best: Record<ExportPath, ExportTransfer>;
  /** Highest RSS of the proxy over all its transfers: max(sampled VmRSS, VmHWM). */
  readonly peakKiB: Record<'bare-proxy' | 'sidecar', number | undefined>;
  readonly rssBeforeKiB: Record<'bare-proxy' | 'sidecar', number | undefined>;
  /** process.memoryUsage() of the sidecar right after its last transfer. */
  readonly sidecarMemoryAfter: NodeJS.MemoryUsage | undefined;
  /** With BENCH_CPU_PROF=1: where each proxy's time went during the export case. */
  readonly profiles: Record<string, { file: string; summary: ProfileSummary }>;
}

function checkDownload(label: string, result: Download, expected: number): void {
  if (result.status !== 200) throw new Error(`export ${label}: HTTP ${result.status}`);
  if (result.bytes !== expected || result.expectedBytes !== expected) {
    throw new Error(`export ${label}: got ${result.bytes} bytes (Content-Length ${result.expectedBytes}), expected ${expected}`);
  }
}

async function transfer(label: string, url: string, cookie: string, expected: number, proxy?: ServerProcess): Promise<ExportTransfer> {
  const before = proxy ? await cpuMicros(proxy) : undefined;
  const sampler = proxy ? sampleRss(proxy.pid, settings.rssIntervalMs) : undefined;
  let result: Download;
  let proxyRss: RssSamples | undefined;
  try {
    result = await download(url, cookie);
  } finally {
    proxyRss = sampler?.stop();
  }
  const after = proxy ? await cpuMicros(proxy) : undefined;
  checkDownload(label, result, expected);
  const proxyCpuMsPerMB = before === undefined || after === undefined ? undefined : (after - before) / 1000 / (result.bytes / 1e6);
  const extra = proxyCpuMsPerMB === undefined ? '' : `, proxy CPU ${fixed(proxyCpuMsPerMB, 2)} ms/MB, proxy peak RSS ${mib(peakOf(proxyRss))}`;
  log(`  ${label.padEnd(20)} ${int(result.bytes)} bytes in ${fixed(result.seconds)} s = ${fixed(result.mbPerSecond, 0).padStart(4)} MB/s${extra}`);
  return { ...result, proxyCpuMsPerMB, proxyRss };
}

function peakOf(rss: RssSamples | undefined): number | undefined {
  const values = [rss?.peakSampledKiB, rss?.hwmKiB].filter((v): v is number => v !== undefined);
  return values.length > 0 ? Math.max(...values) : undefined;
}

async function streamedExport(): Promise<ExportResult> {
  const policies = writePolicyFiles(join(OUT_DIR, 'policies'), settings.smallPolicyRules, settings.largePolicyRules);
  log('starting the demo app, a bare proxy and a sidecar (open policy) in front of it; signing in …');
  const demo = await startServer('demo-app', './demo-app.ts', []);
  const profileFlags = settings.cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  const bare = await startServer('bare-proxy-export', './bare-proxy.ts', [demo.url], { nodeFlags: profileFlags });
  const sidecar = await startServer('sidecar-export', './sidecar.ts', [demo.url, policies.open, join(STATE_DIR, 'sidecar-export')], {
    nodeFlags: profileFlags,
  });
  // The bare proxy forwards the demo's own cookie; the sidecar withholds it unless it comes with a sidecar session.
  const directCookie = await loginToDemo(demo.url);
  const sidecarCookie = await loginThroughSidecar(sidecar.url, { email: DEMO_EMAIL, password: DEMO_PASSWORD });
  const path = `/api/contacts/export?rows=${settings.exportRows}`;
  const expected = 29 + 64 * settings.exportRows;
  const rssBeforeKiB = { 'bare-proxy': procStatusKiB(bare.pid, 'VmRSS'), sidecar: procStatusKiB(sidecar.pid, 'VmRSS') };

  // A small export through every path first: connections, JIT, and a check that the cookies pass.
  const small = '/api/contacts/export?rows=10000';
  checkDownload('warm-up direct', await download(`${demo.url}${small}`, directCookie), 29 + 64 * 10_000);
  checkDownload('warm-up via bare-proxy', await download(`${bare.url}${small}`, directCookie), 29 + 64 * 10_000);
  checkDownload('warm-up via sidecar', await download(`${sidecar.url}${small}`, sidecarCookie), 29 + 64 * 10_000);

  const rounds: Array<Record<ExportPath, ExportTransfer>> = [];
  const transfers: Record<ExportPath, (tag: string) => Promise<ExportTransfer>> = {
    direct: (tag) => transfer(`${tag} direct`, `${demo.url}${path}`, directCookie, expected),
    'bare-proxy': (tag) => transfer(`${tag} bare-proxy`, `${bare.url}${path}`, directCookie, expected, bare),
    sidecar: (tag) => transfer(`${tag} sidecar`, `${sidecar.url}${path}`, sidecarCookie, expected, sidecar),
  };
  for (let round = 1; round <= settings.exportRounds; round++) {
    const tag = `round ${round}/${settings.exportRounds}`;
    // Every other round runs the paths in reverse (A B C, C B A): a machine that slows or speeds up
    // during the case then weighs on both proxies alike instead of on whichever runs later.
    const order: ExportPath[] = round % 2 === 1 ? ['direct', 'bare-proxy', 'sidecar'] : ['sidecar', 'bare-proxy', 'direct'];
    const done: Partial<Record<ExportPath, ExportTransfer>> = {};
    for (const name of order) done[name] = await transfers[name](tag);
    const { direct, 'bare-proxy': bareRound, sidecar: sidecarRound } = done;
    if (!direct || !bareRound || !sidecarRound) throw new Error(`${tag}: a transfer did not run`);
    rounds.push({ direct, 'bare-proxy': bareRound, sidecar: sidecarRound });
  }
  const sidecarMemoryAfter = (await sidecar.stats())?.memory;
  await Promise.all([sidecar.stop(), bare.stop()]);
  await demo.stop();
  const profiles: Record<string, { file: string; summary: ProfileSummary }> = {};
  if (settings.cpuProfile) {
    for (const [name, server] of [['bare-proxy (export)', bare], ['sidecar (export)', sidecar]] as const) {
      const file = latestProfile(server.pid);
      if (file) profiles[name] = { file, summary: summariseProfile(file) };
    }
  }

  const fastest = (name: ExportPath): ExportTransfer =>
    rounds.map((r) => r[name]).reduce((a, b) => (b.mbPerSecond > a.mbPerSecond ? b : a));
  const peakOver = (name: 'bare-proxy' | 'sidecar'): number | undefined => {
    const peaks = rounds.map((r) => peakOf(r[name].proxyRss)).filter((v): v is number => v !== undefined);
    return peaks.length > 0 ? Math.max(...peaks) : undefined;
  };
  return {
    rows: settings.exportRows,
    bytes: expected,
    rounds,
    best: { direct: fastest('direct'), 'bare-proxy': fastest('bare-proxy'), sidecar: fastest('sidecar') },
    peakKiB: { 'bare-proxy': peakOver('bare-proxy'), sidecar: peakOver('sidecar') },
    rssBeforeKiB,
    sidecarMemoryAfter,
    profiles,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

interface TargetCheck {
  readonly name: string;
  readonly value: number | undefined;
  readonly shown: string;
  readonly target: string;
  readonly pass: boolean | undefined;
  /** NOISY: the per-round values fall on both sides of the target, so this run cannot tell. */
  readonly verdict: 'PASS' | 'MISS' | 'NOISY' | 'n/a';
}

/** A paired target's blocks other than its highest and lowest (with more than four blocks): what decides NOISY. */
function innerBlocks(blocks: readonly number[]): number[] {
  return blocks.length > 4 ? [...blocks].sort((a, b) => a - b).slice(1, -1) : [...blocks];
}

function report(pass: PassThroughResult | undefined, exp: ExportResult | undefined, workers: WorkersResult | undefined): { ratios: Record<string, number>; targets: TargetCheck[] } {
  const ratios: Record<string, number> = {};
  const targets: TargetCheck[] = [];
  const check = (
    name: string,
    value: number | undefined,
    shown: string,
    target: string,
    ok: (v: number) => boolean,
    perRound: readonly number[] = [],
  ): void => {
    const pass = value === undefined || !Number.isFinite(value) ? undefined : ok(value);
    const straddles = perRound.some(ok) && perRound.some((v) => !ok(v));
    const verdict = pass === undefined ? 'n/a' : straddles ? 'NOISY' : pass ? 'PASS' : 'MISS';
    targets.push({ name, value, shown, target, pass, verdict });
  };

  if (pass) {
    const m = pass.median;
    const labels = pass.labels;
    log();
    log(
      `PASS-THROUGH  ${STATIC_BODY_BYTES} B bodies, ${settings.connections} connections, pipelining 1, ` +
        `median of ${settings.rounds} interleaved rounds × ${settings.seconds} s (after ${settings.warmupSeconds} s warm-up each)`,
    );
    log(
      table(
        ['target', 'request', 'req/s', 'spread', 'p50 ms', 'p99 ms', 'CPU µs/req', 'upstream µs/req', 'errors', 'non-2xx'],
        TARGET_NAMES.map((name) => [
          labels[name],
          pass.requests[name],
          int(m[name].rps),
          `±${fixed((m[name].rpsSpread * 100) / 2, 1)} %`,
          fixed(m[name].p50Ms, 3),
          fixed(m[name].p99Ms, 3),
          fixed(m[name].serverCpuUs, 1),
          name === 'direct' ? '(same)' : fixed(m[name].upstreamCpuUs, 1),
          String(m[name].errors),
          String(m[name].non2xx),
        ]),
      ),
    );
    log('  CPU µs/req: user+system CPU of the process under test (all its threads) per successful request, measured window only.');
    log(`  "+ Cookie": the Cookie header of one real session (POST /_guard/api/login), to both proxies; non-2xx would mean a lost session.`);
    if (m['sidecar-auth'].non2xx > 0 || !pass.sessionValidAfterRounds) {
      log(`  WARNING: the authenticated sidecar answered non-2xx (${m['sidecar-auth'].non2xx}); the session ended during the run and its req/s is too low.`);
    }
    const h = pass.halfLoad;
    log();
    log(`HALF LOAD  open loop, evenly paced, ${int(h.rate)} req/s (50 % of bare-proxy), median of ${settings.rounds} rounds × ${settings.halfLoadSeconds} s`);
    log(
      table(
        ['target', 'achieved req/s', 'p50 ms', 'p99 ms', 'CPU µs/req'],
        (['bare-proxy', 'sidecar'] as const).map((name) => [
          labels[name],
          int(h.median[name].rps),
          fixed(h.median[name].p50Ms, 3),
          fixed(h.median[name].p99Ms, 3),
          fixed(h.median[name].serverCpuUs, 1),
        ]),
      ),
    );
    log('  open loop, evenly paced (request i due at i / rate; latency counted from when it was due, so a stall is not hidden).');
    log();
    log(`PAIRED  bare proxy and sidecar in alternating slices (A B B A) of ${fixed(pass.paired.public.sliceSeconds, 1)} s, ${pass.paired.public.blocks} blocks per pair`);
    log(
      table(
        ['request', 'CPU µs/req bare', 'CPU µs/req sidecar', 'CPU ratio', 'per block', 'req/s ratio', 'per block'],
        (['public', 'authenticated'] as const).map((name) => {
          const p = pass.paired[name];
          return [
            name === 'public' ? `GET ${PATH}` : `GET ${AUTH_PATH} + Cookie`,
            fixed(p.cpuUs.baseline, 1),
            fixed(p.cpuUs.candidate, 1),
            fixed(p.cpuRatio),
            p.blockCpuRatios.map((r) => fixed(r)).join(' '),
            fixed(p.rpsRatio),
            p.blockRpsRatios.map((r) => fixed(r)).join(' '),
          ];
        }),
      ),
    );
    log(
      `  the bare proxy's two processes (the first slice of a block: started before the sidecars; the last: after them), CPU µs/req: ` +
        (['public', 'authenticated'] as const).map((name) => `${name} ${fixed(pass.paired[name].baselineCpuUsByStart.before, 1)} / ${fixed(pass.paired[name].baselineCpuUsByStart.after, 1)}`).join(', '),
    );
    const ps = pass.paired.policySize;
    log(
      `  policy size, the same slices between the ${settings.smallPolicyRules}-rule and the ${settings.largePolicyRules.toLocaleString('en-US')}-rule sidecar: ` +
        `CPU ${fixed(ps.cpuUs.baseline, 1)} / ${fixed(ps.cpuUs.candidate, 1)} µs/req (ratio ${fixed(ps.cpuRatio)}, per block ${ps.blockCpuRatios.map((r) => fixed(r)).join(' ')}), ` +
        `req/s ratio ${fixed(ps.rpsRatio)} (per block ${ps.blockRpsRatios.map((r) => fixed(r)).join(' ')}); ` +
        `the 10-rule side's two processes ${fixed(ps.baselineCpuUsByStart.before, 1)} / ${fixed(ps.baselineCpuUsByStart.after, 1)} µs/req`,
    );
    const ph = pass.paired.halfLoad;
    log(
      `  half load, the same slices open loop at ${int(ph.rate)} req/s: p50 ${fixed(ph.baseline.p50Ms, 3)} / ${fixed(ph.candidate.p50Ms, 3)} ms, ` +
        `p99 ${fixed(ph.baseline.p99Ms, 3)} / ${fixed(ph.candidate.p99Ms, 3)} ms (bare / sidecar), p99 added ${signedMs(ph.p99AddedMs)} ` +
        `(per block ${ph.blockP99AddedMs.map((v) => fixed(v, 2)).join(' ')})`,
    );
    log('  ratio = sidecar / bare proxy over all slices (Σ CPU / Σ requests of each); p99 over all slices of each (latencies merged);');
    log('  the TARGETS of the two proxies use these.');
    log();
    log('MEMORY after the pass-through load (every server runs from a bundle with plain node, as bin/smartpush-guard.js does)');
    log(
      table(
        ['process', 'start ms', 'RSS now', 'peak RSS (VmHWM)'],
        (['bare-proxy', 'sidecar', 'sidecar-10k'] as const).map((name) => [
          labels[name],
          String(pass.memory[name].startMs ?? '–'),
          mib(pass.memory[name].rssKiB),
          mib(pass.memory[name].hwmKiB),
        ]),
      ),
    );

    ratios['sidecarOverBare'] = m.sidecar.rps / m['bare-proxy'].rps;
    ratios['sidecarOverDirect'] = m.sidecar.rps / m.direct.rps;
    ratios['bareOverDirect'] = m['bare-proxy'].rps / m.direct.rps;
    ratios['nginxOverDirect'] = m.nginx.rps / m.direct.rps;
    ratios['bareOverNginx'] = m['bare-proxy'].rps / m.nginx.rps;
    ratios['sidecarOverNginx'] = m.sidecar.rps / m.nginx.rps;
    ratios['sidecarOverNginxCpuPerRequest'] = m.sidecar.serverCpuUs / m.nginx.serverCpuUs;
    // Added latency: the median of the per-round paired differences (each pair ran back to back).
    ratios['p99AddedHalfLoadMs'] = median(h.rounds.map((r) => r.sidecar.p99Ms - r['bare-proxy'].p99Ms));
    ratios['p50AddedHalfLoadMs'] = median(h.rounds.map((r) => r.sidecar.p50Ms - r['bare-proxy'].p50Ms));
    ratios['largeOverSmallPolicy'] = m['sidecar-10k'].rps / m.sidecar.rps;
    ratios['sidecarOverBareCpuPerRequest'] = m.sidecar.serverCpuUs / m['bare-proxy'].serverCpuUs;
    ratios['largeOverSmallPolicyCpuPerRequest'] = m['sidecar-10k'].serverCpuUs / m.sidecar.serverCpuUs;
    ratios['sidecarAuthOverBare'] = m['sidecar-auth'].rps / m['bare-proxy-auth'].rps;
    ratios['sidecarAuthOverBareCpuPerRequest'] = m['sidecar-auth'].serverCpuUs / m['bare-proxy-auth'].serverCpuUs;
    ratios['sidecarAuthOverSidecarCpuPerRequest'] = m['sidecar-auth'].serverCpuUs / m.sidecar.serverCpuUs;
    ratios['sessionCpuUsPerRequest'] = m['sidecar-auth'].serverCpuUs - m.sidecar.serverCpuUs;
    ratios['redisAuthOverMemoryAuth'] = m['sidecar-redis-auth'].rps / m['sidecar-auth'].rps;
    ratios['redisAuthOverMemoryAuthCpuPerRequest'] = m['sidecar-redis-auth'].serverCpuUs / m['sidecar-auth'].serverCpuUs;
    ratios['pairedSidecarOverBareCpuPerRequest'] = pass.paired.public.cpuRatio;
    ratios['pairedSidecarAuthOverBareCpuPerRequest'] = pass.paired.authenticated.cpuRatio;
    ratios['pairedSidecarOverBare'] = pass.paired.public.rpsRatio;
    ratios['pairedSidecarAuthOverBare'] = pass.paired.authenticated.rpsRatio;
    ratios['pairedP99AddedHalfLoadMs'] = pass.paired.halfLoad.p99AddedMs;
    // Per-round ratios show how much of the median ratio is noise.
    const perRound = (a: TargetName, b: TargetName): string => pass.rounds.map((r) => fixed(r[a].rps / r[b].rps)).join(' ');
    const perRoundCpu = (a: TargetName, b: TargetName): string =>
      pass.rounds.map((r) => fixed((r[a].serverCpuUs ?? Number.NaN) / (r[b].serverCpuUs ?? Number.NaN))).join(' ');
    log();
    log('RATIOS (per-round values in brackets)');
    log(
      table(
        ['ratio', 'value', 'rounds'],
        [
          ['sidecar / bare-proxy req/s', fixed(ratios['sidecarOverBare']), `[${perRound('sidecar', 'bare-proxy')}]`],
          ['sidecar (authenticated) / bare-proxy req/s', fixed(ratios['sidecarAuthOverBare']), `[${perRound('sidecar-auth', 'bare-proxy-auth')}]`],
          ['sidecar on Redis / in memory, authenticated req/s', fixed(ratios['redisAuthOverMemoryAuth']), `[${perRound('sidecar-redis-auth', 'sidecar-auth')}]`],
          [
            'CPU per request, Redis / memory (auth)',
            fixed(ratios['redisAuthOverMemoryAuthCpuPerRequest']),
            `[${perRoundCpu('sidecar-redis-auth', 'sidecar-auth')}]`,
          ],
          ['sidecar / direct req/s', fixed(ratios['sidecarOverDirect']), `[${perRound('sidecar', 'direct')}]`],
          ['bare-proxy / direct req/s', fixed(ratios['bareOverDirect']), `[${perRound('bare-proxy', 'direct')}]`],
          ['nginx proxy_pass / direct req/s (the reference ceiling)', fixed(ratios['nginxOverDirect']), `[${perRound('nginx', 'direct')}]`],
          ['bare-proxy / nginx req/s', fixed(ratios['bareOverNginx']), `[${perRound('bare-proxy', 'nginx')}]`],
          ['sidecar / nginx req/s', fixed(ratios['sidecarOverNginx']), `[${perRound('sidecar', 'nginx')}]`],
          ['CPU per request, sidecar / nginx', fixed(ratios['sidecarOverNginxCpuPerRequest']), `[${perRoundCpu('sidecar', 'nginx')}]`],
          [
            `${settings.largePolicyRules.toLocaleString('en-US')} / ${settings.smallPolicyRules} rules req/s`,
            fixed(ratios['largeOverSmallPolicy']),
            `[${perRound('sidecar-10k', 'sidecar')}]`,
          ],
          [
            'CPU per request, sidecar / bare-proxy',
            fixed(ratios['sidecarOverBareCpuPerRequest']),
            `[${pass.rounds.map((r) => fixed((r.sidecar.serverCpuUs ?? Number.NaN) / (r['bare-proxy'].serverCpuUs ?? Number.NaN))).join(' ')}]`,
          ],
          [
            'implied CPU-bound ceiling, sidecar / bare',
            fixed(1 / ratios['sidecarOverBareCpuPerRequest']),
            '(= 1 / CPU ratio: req/s ratio when the proxy process is the bottleneck)',
          ],
          [
            'CPU per request, sidecar (auth) / bare-proxy',
            fixed(ratios['sidecarAuthOverBareCpuPerRequest']),
            `[${perRoundCpu('sidecar-auth', 'bare-proxy-auth')}]`,
          ],
          [
            'implied CPU-bound ceiling, sidecar (auth) / bare',
            fixed(1 / ratios['sidecarAuthOverBareCpuPerRequest']),
            '(the same for the authenticated request)',
          ],
          ['CPU per request, sidecar auth / public', fixed(ratios['sidecarAuthOverSidecarCpuPerRequest']), `[${perRoundCpu('sidecar-auth', 'sidecar')}]`],
          [
            'session CPU per request, sidecar auth − public',
            `${fixed(ratios['sessionCpuUsPerRequest'], 1)} µs`,
            `[${pass.rounds.map((r) => fixed((r['sidecar-auth'].serverCpuUs ?? Number.NaN) - (r.sidecar.serverCpuUs ?? Number.NaN), 1)).join(' ')}]`,
          ],
          [
            `CPU per request, ${settings.largePolicyRules.toLocaleString('en-US')} / ${settings.smallPolicyRules} rules`,
            fixed(ratios['largeOverSmallPolicyCpuPerRequest']),
            `[${pass.rounds.map((r) => fixed((r['sidecar-10k'].serverCpuUs ?? Number.NaN) / (r.sidecar.serverCpuUs ?? Number.NaN))).join(' ')}]`,
          ],
          ['p50 added at half load', signedMs(ratios['p50AddedHalfLoadMs']), `[${h.rounds.map((r) => fixed(r.sidecar.p50Ms - r['bare-proxy'].p50Ms, 3)).join(' ')}]`],
          [
            'p99 added at half load',
            signedMs(ratios['p99AddedHalfLoadMs']),
            `[${h.rounds.map((r) => fixed(r.sidecar.p99Ms - r['bare-proxy'].p99Ms, 3)).join(' ')}]`,
          ],
        ],
      ),
    );
    // The proxy-against-proxy targets are judged on the paired slices (less of the machine's noise);
    // the medians of the interleaved rounds are in the RATIOS block above.
    const pp = pass.paired.public;
    const pa = pass.paired.authenticated;
    // NOISY for a pair means that the blocks other than its highest and its lowest fall on both
    // sides: one block that caught another job's burst does not hide what the other blocks agree on.
    check('sidecar / bare-proxy req/s (paired)', pp.rpsRatio, fixed(pp.rpsRatio), `≥ ${TARGETS.sidecarOverBare}`, (v) => v >= TARGETS.sidecarOverBare, innerBlocks(pp.blockRpsRatios));
    check(
      'sidecar (authenticated) / bare-proxy req/s (paired)',
      pa.rpsRatio,
      fixed(pa.rpsRatio),
      `≥ ${TARGETS.sidecarAuthOverBare}`,
      (v) => v >= TARGETS.sidecarAuthOverBare,
      innerBlocks(pa.blockRpsRatios),
    );
    check(
      'CPU per request, sidecar / bare-proxy (paired)',
      pp.cpuRatio,
      fixed(pp.cpuRatio),
      `≤ ${TARGETS.cpuPerRequestOverBare}`,
      (v) => v <= TARGETS.cpuPerRequestOverBare,
      innerBlocks(pp.blockCpuRatios),
    );
    check(
      'CPU per request, sidecar (auth) / bare-proxy (paired)',
      pa.cpuRatio,
      fixed(pa.cpuRatio),
      `≤ ${TARGETS.cpuPerRequestOverBare}`,
      (v) => v <= TARGETS.cpuPerRequestOverBare,
      innerBlocks(pa.blockCpuRatios),
    );
    check(
      'authenticated, Redis store / memory store req/s',
      ratios['redisAuthOverMemoryAuth'],
      fixed(ratios['redisAuthOverMemoryAuth']),
      `≥ ${TARGETS.redisAuthOverMemoryAuth}`,
      (v) => v >= TARGETS.redisAuthOverMemoryAuth,
      pass.rounds.map((r) => r['sidecar-redis-auth'].rps / r['sidecar-auth'].rps),
    );
    check(
      'p99 added at half load (paired)',
      pass.paired.halfLoad.p99AddedMs,
      signedMs(pass.paired.halfLoad.p99AddedMs),
      `≤ ${TARGETS.p99AddedMs} ms`,
      (v) => v <= TARGETS.p99AddedMs,
      innerBlocks(pass.paired.halfLoad.blockP99AddedMs),
    );
    ratios['pairedLargeOverSmallPolicy'] = pass.paired.policySize.rpsRatio;
    check(
      `${settings.largePolicyRules.toLocaleString('en-US')}-rule / ${settings.smallPolicyRules}-rule policy req/s (paired)`,
      pass.paired.policySize.rpsRatio,
      fixed(pass.paired.policySize.rpsRatio),
      `≥ ${TARGETS.largeOverSmallPolicy}`,
      (v) => v >= TARGETS.largeOverSmallPolicy,
      innerBlocks(pass.paired.policySize.blockRpsRatios),
    );

    const idleMiB = pass.idleRssKiB === undefined ? undefined : pass.idleRssKiB / 1024;
    check('sidecar idle RSS (started, no request yet)', idleMiB, mib(pass.idleRssKiB), `≤ ${TARGETS.idleRssMiB} MiB`, (v) => v <= TARGETS.idleRssMiB);

    const login = pass.login;
    log();
    if (login) {
      log(
        `LOGINS  ${login.count} sequential POST /_guard/api/login (JSON) on the 10-rule sidecar after ${login.warmup} warm-up logins, ` +
          'min_response_time 0ms; the password is checked by the upstream, in its own process',
      );
      log(
        table(
          ['sidecar CPU ms/login', 'per batch', `first ${login.coldCount} after start`, 'floor CPU ms/login', 'sidecar − floor', 'upstream CPU ms/login', 'wall p50 ms', 'wall p99 ms'],
          [
            [
              fixed(login.sidecarCpuMsPerLogin, 3),
              login.batchCpuMsPerLogin.map((v) => fixed(v, 3)).join(' '),
              fixed(login.coldCpuMsPerLogin ?? Number.NaN, 3),
              fixed(login.floorCpuMsPerLogin, 3),
              fixed(login.sidecarCpuMsPerLogin - login.floorCpuMsPerLogin, 3),
              fixed(login.upstreamCpuMsPerLogin ?? Number.NaN, 3),
              fixed(login.wallMsMedian, 2),
              fixed(login.wallMsP99, 2),
            ],
          ],
        ),
      );
      log('  sidecar CPU ms/login: the sidecar process\'s CPU over all measured logins / their number (upstream excluded: another process).');
      log(`  first ${login.coldCount} after start: the same over the first sign-ins the process served (V8 still compiling; part of the warm-up).`);
      log('  floor: bench/login-floor.ts, the three HTTP exchanges of a sign-in (the browser\'s, the replayed POST /login, GET /api/me) in a');
      log('  plain Node server with no session, risk, audit, throttle or log, warmed and measured in turns with the sidecar (not a target).');
      ratios['loginCpuMs'] = login.sidecarCpuMsPerLogin;
    } else {
      log('LOGINS  not measured (see the error above)');
    }
    check(
      'sidecar CPU per login (upstream excluded)',
      login?.sidecarCpuMsPerLogin,
      login ? `${fixed(login.sidecarCpuMsPerLogin, 3)} ms` : 'n/a',
      `≤ ${TARGETS.loginCpuMs} ms`,
      (v) => v <= TARGETS.loginCpuMs,
      login?.batchCpuMsPerLogin ?? [],
    );

    for (const [name, profile] of Object.entries(pass.profiles)) {
      log();
      log(`CPU PROFILE of ${name} (${profile.file})`);
      log(formatProfileSummary(profile.summary));
    }
  }

  if (exp) {
    log();
    log(
      `STREAMED EXPORT  GET /api/contacts/export?rows=${exp.rows} (${int(exp.bytes)} bytes), ` +
        `fastest of ${settings.exportRounds} round(s) per path, body counted and discarded`,
    );
    const paths: Array<[ExportPath, string]> = [
      ['direct', 'direct (demo app)'],
      ['bare-proxy', 'via bare-proxy (baseline)'],
      ['sidecar', 'via sidecar'],
    ];
    log(
      table(
        ['path', 'MB/s', 'all rounds MB/s', 'proxy CPU ms/MB', 'proxy RSS before', 'proxy peak RSS'],
        paths.map(([name, label]) => [
          label,
          fixed(exp.best[name].mbPerSecond, 0),
          exp.rounds.map((r) => fixed(r[name].mbPerSecond, 0)).join(' '),
          name === 'direct' ? '–' : exp.rounds.map((r) => fixed(r[name].proxyCpuMsPerMB ?? Number.NaN, 2)).join(' '),
          name === 'direct' ? '–' : mib(exp.rssBeforeKiB[name]),
          name === 'direct' ? '–' : mib(exp.peakKiB[name]),
        ]),
      ),
    );
    log(`  peak RSS = max(VmRSS sampled every ${settings.rssIntervalMs} ms during the transfers, VmHWM after them)`);
    const after = exp.sidecarMemoryAfter;
    if (after) {
      const m = (bytes: number): string => mib(bytes / 1024);
      log(
        `  sidecar right after: rss ${m(after.rss)} = heap ${m(after.heapTotal)} (used ${m(after.heapUsed)}) + ` +
          `external ${m(after.external)} (array buffers ${m(after.arrayBuffers)}) + code, stacks, allocator slack`,
      );
    }
    ratios['exportSidecarOverDirect'] = exp.best.sidecar.mbPerSecond / exp.best.direct.mbPerSecond;
    ratios['exportBareOverDirect'] = exp.best['bare-proxy'].mbPerSecond / exp.best.direct.mbPerSecond;
    ratios['exportSidecarOverBare'] = exp.best.sidecar.mbPerSecond / exp.best['bare-proxy'].mbPerSecond;
    log(
      `  ratios MB/s: sidecar / direct ${fixed(ratios['exportSidecarOverDirect'])}, bare-proxy / direct ${fixed(ratios['exportBareOverDirect'])}, ` +
        `sidecar / bare-proxy ${fixed(ratios['exportSidecarOverBare'])}`,
    );
    const cpuPerMB = (r: Record<ExportPath, ExportTransfer>): number => (r.sidecar.proxyCpuMsPerMB ?? Number.NaN) / (r['bare-proxy'].proxyCpuMsPerMB ?? Number.NaN);
    ratios['exportCpuPerMBSidecarOverBare'] = median(exp.rounds.map(cpuPerMB));
    log(`  CPU per MB, sidecar / bare-proxy ${fixed(ratios['exportCpuPerMBSidecarOverBare'])} (per round: ${exp.rounds.map((r) => fixed(cpuPerMB(r))).join(' ')})`);
    check(
      'export sidecar / bare-proxy MB/s',
      ratios['exportSidecarOverBare'],
      fixed(ratios['exportSidecarOverBare']),
      `≥ ${TARGETS.exportSidecarOverBare}`,
      (v) => v >= TARGETS.exportSidecarOverBare,
      exp.rounds.map((r) => r.sidecar.mbPerSecond / r['bare-proxy'].mbPerSecond),
    );
    check(
      'export CPU per MB, sidecar / bare-proxy',
      ratios['exportCpuPerMBSidecarOverBare'],
      fixed(ratios['exportCpuPerMBSidecarOverBare']),
      `≤ ${TARGETS.exportCpuPerMBOverBare}`,
      (v) => v <= TARGETS.exportCpuPerMBOverBare,
      exp.rounds.map(cpuPerMB),
    );
    const peakMiB = exp.peakKiB.sidecar === undefined ? undefined : exp.peakKiB.sidecar / 1024;
    for (const [name, profile] of Object.entries(exp.profiles)) {
      log();
      log(`CPU PROFILE of ${name} (${profile.file})`);
      log(formatProfileSummary(profile.summary));
    }
    check('sidecar peak RSS during export', peakMiB, mib(exp.peakKiB.sidecar), `≤ ${TARGETS.exportPeakRssMiB} MiB`, (v) => v <= TARGETS.exportPeakRssMiB);
  }

  if (workers) {
    reportWorkers(workers, settings, log);
    // The paired slices, as for the proxy-against-proxy targets (the rounds' ratios are in the table above).
    const paired = workers.paired;
    ratios['workersTwoOverOne'] = paired.rpsRatio;
    ratios['workersCpuPerRequestTwoOverOne'] = paired.cpuRatio;
    ratios['workersTwoOverOneRounds'] = workers.twoOverOne;
    ratios['workersCpuPerRequestTwoOverOneRounds'] = workers.median['workers-2'].cpuUs.sidecar / workers.median['workers-1'].cpuUs.sidecar;
    check(
      '--workers 2 / --workers 1 req/s (paired)',
      paired.rpsRatio,
      fixed(paired.rpsRatio),
      `> ${TARGETS.workersTwoOverOne}`,
      (v) => v > TARGETS.workersTwoOverOne,
      innerBlocks(paired.blockRpsRatios),
    );
    check(
      'CPU per request, 2 workers / 1 worker (paired)',
      ratios['workersCpuPerRequestTwoOverOne'],
      fixed(ratios['workersCpuPerRequestTwoOverOne']),
      `≤ ${TARGETS.workersCpuPerRequestTwoOverOne}`,
      (v) => v <= TARGETS.workersCpuPerRequestTwoOverOne,
      innerBlocks(paired.blockCpuRatios),
    );
  }

  log();
  log('TARGETS (informational; 2 shared cores: load generator, proxy and upstream compete for CPU;');
  log('NOISY = the per-round values fall on both sides of the target, so this run cannot tell;');
  log(' for a paired target, the blocks other than its highest and lowest)');
  log(
    table(
      ['target', 'measured', 'wanted', 'result'],
      targets.map((t) => [t.name, t.shown, t.target, t.verdict]),
    ),
  );
  return { ratios, targets };
}

// ---------------------------------------------------------------------------------------------

/** Runs one case; a crash is reported and recorded, and the other cases still run. */
async function runCase<T>(name: string, failures: Record<string, string>, body: () => Promise<T>): Promise<T | undefined> {
  try {
    return await body();
  } catch (error) {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    console.error(`\nbench: case ${name} failed: ${text}`);
    failures[name] = text;
    await stopAllServers();
    return undefined;
  }
}

async function main(): Promise<boolean> {
  mkdirSync(OUT_DIR, { recursive: true });
  rmSync(STATE_DIR, { recursive: true, force: true });
  if (settings.cpuProfile) mkdirSync(PROFILE_DIR, { recursive: true });
  const startedAt = new Date();
  log(
    `smartpush-guard bench — node ${process.version}, ${cpus().length} CPUs, load average ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}, cases: ${settings.cases.join(', ')}`,
  );
  const failures: Record<string, string> = {};
  const pass = CASES.has('passthrough') ? await runCase('passthrough', failures, passThrough) : undefined;
  if (pass?.loginError) failures['passthrough/logins'] = pass.loginError;
  const exp = CASES.has('export') ? await runCase('export', failures, streamedExport) : undefined;
  const workers = CASES.has('workers')
    ? await runCase('workers', failures, () =>
        workersCase(
          {
            seconds: settings.seconds,
            warmupSeconds: settings.warmupSeconds,
            connections: settings.connections,
            rounds: settings.rounds,
            pairedBlocks: settings.pairedBlocks,
            pairedSliceSeconds: settings.pairedSliceSeconds,
            policy: writePolicyFiles(join(OUT_DIR, 'policies'), settings.smallPolicyRules, settings.largePolicyRules).small,
            stateDir: STATE_DIR,
            nodeFlags: settings.cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [],
          },
          log,
        ),
      )
    : undefined;
  const { ratios, targets } = report(pass, exp, workers);

  const file = join(OUT_DIR, 'latest.json');
  const json = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    environment: { node: process.version, platform: process.platform, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavg: loadavg() },
    settings: { ...settings, path: PATH, authPath: AUTH_PATH, bodyBytes: STATIC_BODY_BYTES },
    passThrough: pass,
    streamedExport: exp,
    workers,
    ratios,
    targets,
    failures,
  };
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  log();
  const failed = Object.keys(failures);
  if (failed.length > 0) log(`FAILED cases (crashed, see above): ${failed.join(', ')}`);
  log(`results written to ${file} (${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s in all)`);
  return failed.length === 0;
}

let ok = false;
try {
  ok = await main();
} catch (error) {
  console.error('bench failed:', error instanceof Error ? (error.stack ?? error.message) : error);
} finally {
  await stopAllServers();
  await stopRedis();
}
process.exit(ok ? 0 : 1);
