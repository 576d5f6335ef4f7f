/**
 * The forwarding core on its own, side by side in one run: the bare http-proxy-3 server
 * (bare-proxy.ts), the sidecar's forwarding core alone (bare-forwarder.ts: src/proxy/forward.ts
 * with header hygiene, no policy, session or log), a candidate core on undici's dispatch API with
 * the same hygiene (undici-forwarder.ts) and the whole sidecar, alternating in rounds.
 * CPU µs per request (process.cpuUsage of each server) for a public and an authenticated request.
 *
 *   node --import tsx bench/forwarder-compare.ts      # BENCH_ROUNDS (5), BENCH_SECONDS (4)
 *
 * BENCH_CPU_PROF=1 profiles the core and the sidecar (var/bench/profiles/).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixed, table } from './format-table.ts';
import { applyLoad } from './load.ts';
import { writePolicyFiles } from './policy-files.ts';
import { startServer, stopAllServers, type ServerProcess } from './server-processes.ts';
import { loginThroughSidecar } from './sidecar-login.ts';
import { median } from './stats.ts';
import { BENCH_EMAIL, BENCH_PASSWORD } from './upstream-body.ts';

const OUT = join(fileURLToPath(new URL('..', import.meta.url)), 'var/bench');
const STATE = join(OUT, 'state-forwarder');
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 5);
const seconds = Number(process.env['BENCH_SECONDS'] ?? 4);
const prof = process.env['BENCH_CPU_PROF'] === '1' ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${join(OUT, 'profiles')}`] } : {};

async function cpuUs(server: ServerProcess): Promise<number> {
  const stats = await server.stats();
  if (!stats) throw new Error(`${server.name}: no stats`);
  return stats.cpu.user + stats.cpu.system;
}

async function main(): Promise<void> {
  rmSync(STATE, { recursive: true, force: true });
  const policies = writePolicyFiles(join(OUT, 'policies'), 10, 10);
  const upstream = await startServer('upstream', './upstream.ts', []);
  const servers = {
    'bare http-proxy-3': await startServer('bare-proxy', './bare-proxy.ts', [upstream.url]),
    'forwarding core alone': await startServer('bare-forwarder', './bare-forwarder.ts', [upstream.url], prof),
    'undici dispatch (candidate)': await startServer('undici-forwarder', './undici-forwarder.ts', [upstream.url], prof),
    sidecar: await startServer('sidecar', './sidecar.ts', [upstream.url, policies.small, STATE], prof),
  };
  const cookie = await loginThroughSidecar(servers.sidecar.url, { email: BENCH_EMAIL, password: BENCH_PASSWORD });
  const cases = [
    { label: 'public GET /static/app.css', path: '/static/app.css', headers: undefined },
    { label: 'authenticated GET /app/data', path: '/app/data', headers: { Cookie: cookie } },
  ];
  const names = Object.keys(servers) as Array<keyof typeof servers>;
  const rows: string[][] = [];
  for (const c of cases) {
    const perRound = new Map<string, number[]>(names.map((name) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const name of names) {
        const url = `${servers[name].url}${c.path}`;
        const options = { connections: 32, ...(c.headers ? { headers: c.headers } : {}) };
        await applyLoad(url, { seconds: 1, ...options });
        const before = await cpuUs(servers[name]);
        const result = await applyLoad(url, { seconds, ...options });
        if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name} ${c.path}: ${result.non2xx} non-2xx, ${result.errors} errors`);
        perRound.get(name)?.push(((await cpuUs(servers[name])) - before) / result.requests);
      }
    }
    const bare = median(perRound.get(names[0] as string) ?? []);
    for (const name of names) {
      const values = perRound.get(name) ?? [];
      rows.push([c.label, name, fixed(median(values), 1), values.map((v) => v.toFixed(0)).join(' '), fixed(median(values) / bare)]);
    }
  }
  console.log(table(['request', 'server', 'CPU µs/req (median)', 'rounds', '/ bare http-proxy-3'], rows));
}

try {
  await main();
} finally {
  await stopAllServers();
}
process.exit(0);
