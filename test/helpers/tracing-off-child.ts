import { appendFileSync } from 'node:fs';
import { startStack } from './stack.ts';
import { createLogger } from '../../src/observability/logger.ts';

/**
 * Run by test/integration/tracing-lazy.test.ts in its own process, under module-log.mjs: a stack
 * with tracing off serves a request and stops, then tracing is started, with markers in the log.
 */

const log = process.env.SPG_MODULE_LOG as string;
const stack = await startStack();
await (await fetch(`${stack.url}/login`)).text();
await stack.close();
appendFileSync(log, 'MARK tracing-off-done\n');
const { startTracing } = await import('../../src/observability/tracing.ts');
const tracing = await startTracing(
  {
    endpoint: 'http://127.0.0.1:9/',
    serviceName: 'lazy-check',
    sampleRatio: 1,
    headers: {},
    recordPath: true,
    timeoutMs: 1_000,
    upstreamUrl: new URL('http://127.0.0.1:9/'),
  },
  createLogger('silent'),
);
await tracing.shutdown();
appendFileSync(log, 'MARK tracing-on-done\n');
