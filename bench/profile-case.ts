/**
 * One case against one server, to see where its time goes without the other cases mixed in:
 *
 *   node --import tsx bench/profile-case.ts public|auth [seconds]    pass-through through the sidecar
 *   node --import tsx bench/profile-case.ts public-bare|auth-bare [s] the same requests through the bare proxy
 *   node --import tsx bench/profile-case.ts login [sign-ins]         sequential sign-ins
 *   node --import tsx bench/profile-case.ts export|export-bare [rows] a streamed export (sidecar | bare proxy)
 *
 * Prints the server's CPU per unit and writes a V8 CPU profile to var/bench/profiles/case-<case>/
 * (read it with bench/cpu-profile-summary.ts). Settings (environment):
 *   BENCH_CPU_PROF=0          no profile (profiling itself costs CPU); BENCH_NODE_FLAGS then goes
 *                             to the server's node instead, e.g. "--trace-gc", with
 *                             BENCH_CHILD_STDOUT=/tmp/out to keep what it prints (/tmp/out.<server>)
 *   BENCH_IDLE_FIRST=ms       export: let the server idle first (V8's memory reducer runs after 8 s)
 *   BENCH_DIRECT_FIRST=1      export: one download straight from the demo app first (it warms up
 *                             and then sends faster, as in `npm run bench`)
 *   BENCH_SAMPLE_RSS=1        export: also print the server's peak RSS
 *   BENCH_PATH=/x             public|auth: request this path instead (auth: still with the session cookie)
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_EMAIL, DEMO_PASSWORD, download, loginToDemo } from './export-download.ts';
import { applyLoad } from './load.ts';
import { writePolicyFiles } from './policy-files.ts';
import { sampleRss } from './rss-sampler.ts';
import { startServer, stopAllServers, type ServerProcess } from './server-processes.ts';
import { loginThroughSidecar, sequentialLogins } from './sidecar-login.ts';
import { BENCH_EMAIL, BENCH_PASSWORD } from './upstream-body.ts';

const OUT = join(fileURLToPath(new URL('..', import.meta.url)), 'var/bench');
const CASES = ['public', 'auth', 'login', 'export', 'export-bare', 'public-bare', 'auth-bare'] as const;
type Case = (typeof CASES)[number];
const which: Case = CASES.find((name) => name === process.argv[2]) ?? 'public';
const exporting = which === 'export' || which === 'export-bare';
const dir = join(OUT, 'profiles', `case-${which}`);
const env = process.env;
rmSync(dir, { recursive: true, force: true });
rmSync(join(OUT, 'state-profile'), { recursive: true, force: true });

async function cpuDuring(server: ServerProcess, work: () => Promise<void>): Promise<number> {
  const before = await server.stats();
  await work();
  const after = await server.stats();
  if (!before || !after) throw new Error(`${server.name}: no stats`);
  return after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system;
}

try {
  const policies = writePolicyFiles(join(OUT, 'policies'), 10, 10);
  const upstream = exporting ? await startServer('demo-app', './demo-app.ts', []) : await startServer('upstream', './upstream.ts', []);
  const nodeFlags = env['BENCH_CPU_PROF'] === '0' ? (env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter(Boolean) : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
  const bare = which === 'export-bare' || which === 'public-bare' || which === 'auth-bare';
  const server = bare
    ? await startServer('bare-proxy', './bare-proxy.ts', [upstream.url], { nodeFlags })
    : await startServer('sidecar', './sidecar.ts', [upstream.url, exporting ? policies.open : policies.small, join(OUT, 'state-profile')], { nodeFlags });
  const creds = { email: BENCH_EMAIL, password: BENCH_PASSWORD };

  if (exporting) {
    const cookie = which === 'export-bare' ? await loginToDemo(upstream.url) : await loginThroughSidecar(server.url, { email: DEMO_EMAIL, password: DEMO_PASSWORD });
    const rows = Number(process.argv[3] ?? 8_388_608);
    await download(`${server.url}/api/contacts/export?rows=10000`, cookie);
    if (env['BENCH_IDLE_FIRST']) await new Promise((resolve) => setTimeout(resolve, Number(env['BENCH_IDLE_FIRST'])));
    if (env['BENCH_DIRECT_FIRST'] === '1') await download(`${upstream.url}/api/contacts/export?rows=${rows}`, await loginToDemo(upstream.url));
    const sampler = env['BENCH_SAMPLE_RSS'] === '1' ? sampleRss(server.pid, 50) : undefined;
    let bytes = 0;
    const cpu = await cpuDuring(server, async () => {
      const result = await download(`${server.url}/api/contacts/export?rows=${rows}`, cookie);
      if (result.status !== 200 || result.bytes !== result.expectedBytes) throw new Error(`export: HTTP ${result.status}, ${result.bytes} bytes`);
      bytes = result.bytes;
    });
    const rss = sampler?.stop();
    const peak = rss ? `, peak RSS ${(Math.max(rss.peakSampledKiB ?? 0, rss.hwmKiB ?? 0) / 1024).toFixed(1)} MiB` : '';
    console.log(`${which}: ${bytes} bytes, ${(cpu / 1000 / (bytes / 1e6)).toFixed(2)} ms CPU/MB${peak}`);
  } else if (which === 'login') {
    const count = Number(process.argv[3] ?? 300);
    await sequentialLogins(server.url, creds, Number(env['BENCH_LOGIN_WARMUP'] ?? 30));
    const cpu = await cpuDuring(server, async () => void (await sequentialLogins(server.url, creds, count)));
    console.log(`login: ${count} sign-ins, ${(cpu / count / 1000).toFixed(2)} ms CPU/sign-in`);
  } else {
    const seconds = Number(process.argv[3] ?? 8);
    const authenticated = which === 'auth' || which === 'auth-bare';
    // The bare proxy is sent the same Cookie header: that of a session signed in through a sidecar.
    const signedIn = authenticated ? (which === 'auth' ? server : await startServer('sidecar', './sidecar.ts', [upstream.url, policies.small, join(OUT, 'state-profile')], {})) : undefined;
    const headers = signedIn ? { Cookie: await loginThroughSidecar(signedIn.url, creds) } : undefined;
    const url = `${server.url}${env['BENCH_PATH'] ?? (authenticated ? '/app/data' : '/static/app.css')}`;
    await applyLoad(url, { seconds: 2, connections: 32, ...(headers ? { headers } : {}) });
    let requests = 0;
    const cpu = await cpuDuring(server, async () => {
      requests = (await applyLoad(url, { seconds, connections: 32, ...(headers ? { headers } : {}) })).requests;
    });
    console.log(`${which}: ${requests} requests, ${(cpu / requests).toFixed(1)} µs CPU/request`);
  }
  if (env['BENCH_CPU_PROF'] !== '0') console.log(`profile in ${dir}`);
} finally {
  await stopAllServers();
}
process.exit(0);
