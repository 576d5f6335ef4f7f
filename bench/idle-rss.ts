/**
 * The sidecar's RSS once started and idle, a few times over (each a fresh process):
 *   node --import tsx bench/idle-rss.ts [starts]
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePolicyFiles } from './policy-files.ts';
import { procStatusKiB } from './rss-sampler.ts';
import { startServer, stopAllServers } from './server-processes.ts';

const OUT = join(fileURLToPath(new URL('..', import.meta.url)), 'var/bench');
const starts = Number(process.argv[2] ?? 3);
try {
  const policies = writePolicyFiles(join(OUT, 'policies'), 10, 10);
  const upstream = await startServer('upstream', './upstream.ts', []);
  const seen: string[] = [];
  for (let i = 0; i < starts; i++) {
    rmSync(join(OUT, 'state-idle'), { recursive: true, force: true });
    const sidecar = await startServer('sidecar', './sidecar.ts', [upstream.url, policies.small, join(OUT, 'state-idle')]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const rss = procStatusKiB(sidecar.pid, 'VmRSS');
    const stats = await sidecar.stats();
    seen.push(`${((rss ?? 0) / 1024).toFixed(1)} MiB (heap used ${((stats?.memory.heapUsed ?? 0) / 1048576).toFixed(1)} of ${((stats?.memory.heapTotal ?? 0) / 1048576).toFixed(1)})`);
    await sidecar.stop();
  }
  console.log(`idle RSS: ${seen.join(', ')}`);
} finally {
  await stopAllServers();
}
process.exit(0);
