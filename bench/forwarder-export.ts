/**
 * A streamed export through each forwarding core on its own, side by side: bare http-proxy-3
 * (bare-proxy.ts), the sidecar's core (bare-forwarder.ts) and the undici candidate
 * (undici-forwarder.ts), with and without its parser kept on V8's baseline compiler, in front of
 * the demo app. Per server: MB/s, CPU ms per MB and peak RSS (sampled VmRSS or VmHWM, whichever is
 * higher: the kernel's peak includes a one-time compile). docs/PERFORMANCE.md, "undici's parser memory".
 *
 *   node --import tsx bench/forwarder-export.ts     # BENCH_EXPORT_ROUNDS (2), BENCH_EXPORT_ROWS (8388608)
 */
import { download, loginToDemo } from './export-download.ts';
import { fixed, table } from './format-table.ts';
import { sampleRss } from './rss-sampler.ts';
import { startServer, stopAllServers, type ServerProcess } from './server-processes.ts';

const rounds = Number(process.env['BENCH_EXPORT_ROUNDS'] ?? 2);
const rows = Number(process.env['BENCH_EXPORT_ROWS'] ?? 8_388_608);

async function main(): Promise<void> {
  const demo = await startServer('demo-app', './demo-app.ts', []);
  const cookie = await loginToDemo(demo.url);
  const servers: Array<[string, ServerProcess]> = [
    ['bare http-proxy-3', await startServer('bare-proxy', './bare-proxy.ts', [demo.url])],
    ['forwarding core alone', await startServer('bare-forwarder', './bare-forwarder.ts', [demo.url])],
    ['undici dispatch', await startServer('undici-forwarder', './undici-forwarder.ts', [demo.url])],
  ];
  process.env['BENCH_UNDICI_LIFTOFF'] = '1';
  servers.push(['undici, parser on Liftoff', await startServer('undici-forwarder-liftoff', './undici-forwarder.ts', [demo.url])]);
  delete process.env['BENCH_UNDICI_LIFTOFF'];
  // The demo app sends faster once warm, as in `npm run bench`.
  await download(`${demo.url}/api/contacts/export?rows=${rows}`, cookie);
  const results = new Map<string, { mbps: number[]; cpu: number[]; peak: number }>();
  for (let round = 0; round < rounds; round++) {
    for (const [name, server] of servers) {
      await download(`${server.url}/api/contacts/export?rows=10000`, cookie);
      const before = await server.stats();
      const sampler = sampleRss(server.pid, 50);
      const result = await download(`${server.url}/api/contacts/export?rows=${rows}`, cookie);
      const rss = sampler.stop();
      const after = await server.stats();
      if (result.status !== 200 || result.bytes !== result.expectedBytes) throw new Error(`${name}: HTTP ${result.status}, ${result.bytes} bytes`);
      if (!before || !after) throw new Error(`${name}: no stats`);
      const cpuMs = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000;
      const entry = results.get(name) ?? { mbps: [], cpu: [], peak: 0 };
      entry.mbps.push(result.mbPerSecond);
      entry.cpu.push(cpuMs / (result.bytes / 1e6));
      entry.peak = Math.max(entry.peak, rss.peakSampledKiB ?? 0, rss.hwmKiB ?? 0);
      results.set(name, entry);
      console.log(`  round ${round + 1}/${rounds}  ${name.padEnd(26)} ${fixed(result.mbPerSecond, 0)} MB/s  ${fixed(cpuMs / (result.bytes / 1e6), 2)} ms CPU/MB`);
    }
  }
  console.log(`\nEXPORT through each core alone, ${rows} rows (${rounds} rounds; MB/s: the fastest round)`);
  console.log(
    table(
      ['server', 'MB/s', 'CPU ms/MB (rounds)', 'peak RSS MiB'],
      [...results].map(([name, r]) => [name, fixed(Math.max(...r.mbps), 0), r.cpu.map((c) => fixed(c, 2)).join(' '), fixed(r.peak / 1024, 1)]),
    ),
  );
}

try {
  await main();
} finally {
  await stopAllServers();
}
process.exit(0);
