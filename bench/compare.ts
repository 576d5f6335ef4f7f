/**
 * Before/after in one run: the sidecar built from a git ref (`BENCH_BASELINE_REF`, default
 * `HEAD~1`) against the working tree's, next to the bare proxy, on the same machine at the same
 * moment, alternating so a noisy patch hits both alike. CPU time (process.cpuUsage of each server
 * process) is the measure, not wall time: on 2 shared cores it is the number that holds still.
 *
 *   BENCH_BASELINE_REF=main npm run bench:compare
 *
 * Measures: idle RSS; CPU ms per MB of a streamed export; CPU µs per public and per
 * authenticated pass-through request; CPU ms per login (upstream excluded). The requests are also
 * measured paired: before and after alternating in one-second slices (blocks of before, after,
 * after, before; BENCH_PAIRED_BLOCKS, 6), which a burst of another job on the shared cores cannot
 * put on one side only; a change of a few per cent needs that. Logins are paired the same way,
 * in slices of BENCH_LOGINS sign-ins (BENCH_LOGIN_BLOCKS blocks), after BENCH_LOGIN_WARMUP each.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_EMAIL, DEMO_PASSWORD, download, loginToDemo } from './export-download.ts';
import { fixed, mib, table } from './format-table.ts';
import { applyLoad, type LoadResult } from './load.ts';
import { openLoop } from './open-loop.ts';
import { writePolicyFiles } from './policy-files.ts';
import { procStatusKiB } from './rss-sampler.ts';
import { startServer, stopAllServers, type ServerProcess } from './server-processes.ts';
import { loginThroughSidecar, sequentialLogins } from './sidecar-login.ts';
import { median } from './stats.ts';
import { BENCH_EMAIL, BENCH_PASSWORD } from './upstream-body.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'var/bench');
const BASE = join(OUT, 'baseline');
const STATE = join(OUT, 'state-compare');
const ref = process.env['BENCH_BASELINE_REF'] ?? 'HEAD~1';
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
const seconds = Number(process.env['BENCH_SECONDS'] ?? 4);
const exportRows = Number(process.env['BENCH_EXPORT_ROWS'] ?? 4_194_304);
const only = new Set((process.env['BENCH_COMPARE'] ?? 'requests,logins,export').split(','));
const logins = Number(process.env['BENCH_LOGINS'] ?? 300);
const loginWarmup = Number(process.env['BENCH_LOGIN_WARMUP'] ?? 5_000);
const loginBlocks = Number(process.env['BENCH_LOGIN_BLOCKS'] ?? 12);
const pairedBlocks = Number(process.env['BENCH_PAIRED_BLOCKS'] ?? 6);
const startFirst = process.env['BENCH_START_FIRST'] === 'after' ? 'after' : 'before';
// BENCH_RATE=N: the request cases run open-loop at N req/s instead of saturating the machine. A
// machine that is not saturated gives a far steadier CPU per request (less contention for caches
// and cores), which is what a before/after of a few per cent needs.
const rate = Number(process.env['BENCH_RATE'] ?? 0);
const measure = (url: string, headers: Record<string, string> | undefined, secs: number): Promise<LoadResult> =>
  rate > 0
    ? openLoop(url, { rate, seconds: secs, connections: 8, ...(headers ? { headers } : {}) })
    : applyLoad(url, { seconds: secs, connections: 32, ...(headers ? { headers } : {}) });
const log = (line = ''): void => console.log(line);

async function cpuUs(server: ServerProcess): Promise<number> {
  const stats = await server.stats();
  if (!stats) throw new Error(`${server.name}: no stats`);
  return stats.cpu.user + stats.cpu.system;
}

async function cpuOf(server: ServerProcess, work: () => Promise<number>): Promise<number> {
  const before = await cpuUs(server);
  const units = await work();
  return ((await cpuUs(server)) - before) / units;
}

function prepareBaseline(): void {
  rmSync(BASE, { recursive: true, force: true });
  mkdirSync(BASE, { recursive: true });
  const tar = execFileSync('git', ['archive', ref, 'src', 'bench'], { cwd: ROOT, maxBuffer: 256 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', BASE], { input: tar });
  // A distinct file name: the bundles are named after their entry file.
  execFileSync('mv', [join(BASE, 'bench/sidecar.ts'), join(BASE, 'bench/sidecar-baseline.ts')]);
  const file = join(BASE, 'bench/sidecar-baseline.ts');
  const text = execFileSync('cat', [file], { encoding: 'utf8' }).replace('watchPolicy: false })', 'watchPolicy: false, initStore: true })');
  writeFileSync(file, text);
}

type Name = 'bare' | 'before' | 'after';
const NAMES: readonly Name[] = ['bare', 'before', 'after'];

async function main(): Promise<void> {
  log(
    `sidecar before (${ref}) vs after (working tree), bare proxy for reference; ${rounds} rounds${rate > 0 ? `, open loop at ${rate} req/s` : ''}; ` +
      `the ${startFirst === 'before' ? 'before' : 'after'} sidecar started first (BENCH_START_FIRST)`,
  );
  prepareBaseline();
  rmSync(STATE, { recursive: true, force: true });
  const policies = writePolicyFiles(join(OUT, 'policies'), 10, 10);
  const baseScript = '../var/bench/baseline/bench/sidecar-baseline.ts';

  const rows: Array<[string, string, string, string, string]> = [];
  const ratio = (a: number, b: number): string => fixed(a / b);

  // 1. Pass-through and logins, against the bench upstream.
  const upstream = await startServer('upstream', './upstream.ts', []);
  // BENCH_CPU_PROF=1: both sidecars write a profile (var/bench/profiles/before, …/after) to compare per function.
  const profile = (name: string): { nodeFlags: string[] } => ({
    nodeFlags: process.env['BENCH_CPU_PROF'] === '1' ? ['--cpu-prof', `--cpu-prof-dir=${join(OUT, 'profiles', name)}`] : [],
  });
  const bare = await startServer('bare-proxy', './bare-proxy.ts', [upstream.url], profile('bare'));
  const startSidecar = (name: 'before' | 'after'): Promise<ServerProcess> =>
    name === 'before'
      ? startServer('sidecar-before', baseScript, [upstream.url, policies.small, join(STATE, 'before')], profile('before'))
      : startServer('sidecar', './sidecar.ts', [upstream.url, policies.small, join(STATE, 'after')], profile('after'));
  // Which sidecar starts first (BENCH_START_FIRST): the same code measured against itself came out
  // up to 10 % cheaper in the process started first, so a before/after is run in both orders.
  const second = startFirst === 'before' ? 'after' : 'before';
  const first = await startSidecar(startFirst);
  const servers = { bare, [startFirst]: first, [second]: await startSidecar(second) } as Record<Name, ServerProcess>;
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const idle = { before: procStatusKiB(servers.before.pid, 'VmRSS'), after: procStatusKiB(servers.after.pid, 'VmRSS'), bare: procStatusKiB(servers.bare.pid, 'VmRSS') };
  const creds = { email: BENCH_EMAIL, password: BENCH_PASSWORD };
  const cookies = { before: await loginThroughSidecar(servers.before.url, creds), after: await loginThroughSidecar(servers.after.url, creds) };
  const cases = [
    { label: 'public GET /static/app.css', path: '/static/app.css', auth: false },
    { label: 'authenticated GET /app/data', path: '/app/data', auth: true },
  ];
  for (const c of only.has('requests') ? cases : []) {
    const perRound: Record<Name, number[]> = { bare: [], before: [], after: [] };
    for (let round = 0; round < rounds; round++) {
      for (const name of NAMES) {
        const cookie = name === 'bare' ? cookies.after : cookies[name];
        const headers = c.auth ? { Cookie: cookie } : undefined;
        const url = `${servers[name].url}${c.path}`;
        await measure(url, headers, 1);
        const value = await cpuOf(servers[name], async () => {
          const result = await measure(url, headers, seconds);
          if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name} ${c.path}: ${result.non2xx} non-2xx, ${result.errors} errors`);
          if (process.env['BENCH_VERBOSE'] === '1') log(`  round ${round + 1} ${name} ${c.path}: ${result.requests} requests`);
          return result.requests;
        });
        perRound[name].push(value);
        if (process.env['BENCH_VERBOSE'] === '1') log(`  round ${round + 1} ${name}: ${fixed(value, 1)} µs/req`);
      }
    }
    const m = (name: Name): number => median(perRound[name]);
    rows.push([`${c.label}, CPU µs/req`, fixed(m('bare'), 1), fixed(m('before'), 1), fixed(m('after'), 1), `${ratio(m('before'), m('bare'))} → ${ratio(m('after'), m('bare'))}`]);
    // Paired: Σ CPU / Σ requests of each sidecar over its slices, and the ratio of each block.
    const sum = { before: { cpu: 0, requests: 0 }, after: { cpu: 0, requests: 0 } };
    const blocks: number[] = [];
    for (let block = 0; block < pairedBlocks; block++) {
      const inBlock = { before: { cpu: 0, requests: 0 }, after: { cpu: 0, requests: 0 } };
      for (const name of ['before', 'after', 'after', 'before'] as const) {
        const headers = c.auth ? { Cookie: cookies[name] } : undefined;
        const before = await cpuUs(servers[name]);
        const result = await measure(`${servers[name].url}${c.path}`, headers, 1);
        const cpu = (await cpuUs(servers[name])) - before;
        for (const into of [sum[name], inBlock[name]]) {
          into.cpu += cpu;
          into.requests += result.requests;
        }
      }
      blocks.push(inBlock.after.cpu / inBlock.after.requests / (inBlock.before.cpu / inBlock.before.requests));
    }
    const paired = (name: 'before' | 'after'): number => sum[name].cpu / sum[name].requests;
    rows.push([
      `${c.label}, paired, CPU µs/req`,
      '–',
      fixed(paired('before'), 1),
      fixed(paired('after'), 1),
      `now / before ${ratio(paired('after'), paired('before'))} (blocks ${blocks.map((b) => fixed(b)).join(' ')})`,
    ]);
  }
  // Sign-ins, paired: both sidecars warmed in turns (V8 compiles a sign-in's code over its first
  // few thousand runs), then blocks of before, after, after, before, each slice BENCH_LOGINS
  // sequential sign-ins. Two processes of one build differ by up to a fifth from one slice to the
  // next on a shared machine, so only the blocks' spread says whether a difference is real.
  if (only.has('logins')) {
    for (let left = loginWarmup; left > 0; left -= 500) {
      for (const name of ['before', 'after'] as const) await sequentialLogins(servers[name].url, creds, Math.min(500, left));
    }
    const sum = { before: 0, after: 0 };
    const blocks: number[] = [];
    for (let block = 0; block < loginBlocks; block++) {
      const inBlock = { before: 0, after: 0 };
      for (const name of block % 2 === 0 ? (['before', 'after', 'after', 'before'] as const) : (['after', 'before', 'before', 'after'] as const)) {
        const cpu = await cpuOf(servers[name], async () => (await sequentialLogins(servers[name].url, creds, logins)).length);
        inBlock[name] += cpu;
        sum[name] += cpu;
      }
      blocks.push(inBlock.after / inBlock.before);
    }
    const perLogin = (name: 'before' | 'after'): number => sum[name] / (2 * loginBlocks) / 1000;
    rows.push([
      'login, paired, sidecar CPU ms/login',
      '–',
      fixed(perLogin('before'), 3),
      fixed(perLogin('after'), 3),
      `now / before ${ratio(perLogin('after'), perLogin('before'))} (blocks ${blocks.map((b) => fixed(b)).join(' ')})`,
    ]);
  }
  rows.push(['idle RSS (after start, before load)', mib(idle.bare), mib(idle.before), mib(idle.after), '']);
  await stopAllServers();

  if (!only.has('export')) {
    log(table(['measure (median of rounds)', 'bare proxy', `sidecar ${ref}`, 'sidecar now', 'sidecar / bare, before → now'], rows));
    return;
  }
  // 2. The streamed export through each, in front of the demo app.
  const demo = await startServer('demo-app', './demo-app.ts', []);
  const ex: Record<Name, ServerProcess> = {
    bare: await startServer('bare-proxy-export', './bare-proxy.ts', [demo.url]),
    before: await startServer('sidecar-before-export', baseScript, [demo.url, policies.open, join(STATE, 'before-export')]),
    after: await startServer('sidecar-export', './sidecar.ts', [demo.url, policies.open, join(STATE, 'after-export')]),
  };
  const login = { email: DEMO_EMAIL, password: DEMO_PASSWORD };
  const exportCookies: Record<Name, string> = {
    bare: await loginToDemo(demo.url),
    before: await loginThroughSidecar(ex.before.url, login),
    after: await loginThroughSidecar(ex.after.url, login),
  };
  const path = `/api/contacts/export?rows=${exportRows}`;
  const perMB: Record<Name, number[]> = { bare: [], before: [], after: [] };
  const mbps: Record<Name, number[]> = { bare: [], before: [], after: [] };
  for (const name of NAMES) await download(`${ex[name].url}/api/contacts/export?rows=10000`, exportCookies[name]);
  for (let round = 0; round < rounds; round++) {
    for (const name of NAMES) {
      perMB[name].push(
        (await cpuOf(ex[name], async () => {
          const result = await download(`${ex[name].url}${path}`, exportCookies[name]);
          if (result.status !== 200 || result.bytes !== result.expectedBytes) throw new Error(`${name}: export HTTP ${result.status}, ${result.bytes} bytes`);
          mbps[name].push(result.mbPerSecond);
          return result.bytes / 1e6;
        })) / 1000,
      );
    }
  }
  const pm = (name: Name): number => median(perMB[name]);
  rows.push([`export ${(29 + 64 * exportRows) / 1e6} MB, proxy CPU ms/MB`, fixed(pm('bare'), 2), fixed(pm('before'), 2), fixed(pm('after'), 2), `${ratio(pm('before'), pm('bare'))} → ${ratio(pm('after'), pm('bare'))}`]);
  const best = (name: Name): number => Math.max(...mbps[name]);
  rows.push(['export, best MB/s', fixed(best('bare'), 0), fixed(best('before'), 0), fixed(best('after'), 0), `${ratio(best('before'), best('bare'))} → ${ratio(best('after'), best('bare'))}`]);
  const peak = (name: Name): number | undefined => procStatusKiB(ex[name].pid, 'VmHWM');
  rows.push(['export, peak RSS (VmHWM)', mib(peak('bare')), mib(peak('before')), mib(peak('after')), '']);
  await stopAllServers();

  log(table(['measure (median of rounds)', 'bare proxy', `sidecar ${ref}`, 'sidecar now', 'sidecar / bare, before → now'], rows));
}

try {
  await main();
} finally {
  await stopAllServers();
}
process.exit(0);
