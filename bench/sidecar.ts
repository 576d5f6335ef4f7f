/**
 * The real sidecar, as production runs it: startGuard() with a config parsed by the real schema
 * (sidecar-config.ts), the pino logger at level info (access log on) writing to /dev/null.
 * Usage: node --import tsx bench/sidecar.ts <upstream-url> <policy-file> <state-dir> [redis-url]
 */
import { performance } from 'node:perf_hooks';
import { createLogger } from '../src/observability/logger.ts';
import { settleHeap } from '../src/server/settle-heap.ts';
import { startGuard } from '../src/server/start.ts';
import { announceReady, exitWithParent, failStartup } from './announce-ready.ts';
import { benchSidecarConfig } from './sidecar-config.ts';

exitWithParent();

const [upstreamUrl, policyFile, stateDir, redisUrl] = process.argv.slice(2);
if (!upstreamUrl || !policyFile || !stateDir) failStartup(new Error('usage: sidecar.ts <upstream-url> <policy-file> <state-dir>'));

try {
  const loaded = benchSidecarConfig(upstreamUrl, policyFile, stateDir, redisUrl);
  // The same buffered writer production uses for stdout, pointed at /dev/null.
  const logger = createLogger('info', process.env['BENCH_SIDECAR_LOG'] ?? '/dev/null');
  const started = performance.now();
  const guard = await startGuard(loaded, { logger, watchPolicy: false, initStore: true });
  await settleHeap(); // as `serve` does (src/cli/serve.ts)
  announceReady(guard.url, { startMs: Math.round(performance.now() - started) });
} catch (error) {
  failStartup(error);
}
