/**
 * Load generation with autocannon (in the parent process, so it never shares an event loop with
 * a server under test). Latency percentiles come from our own histogram fed by autocannon's
 * per-response event, in microseconds: autocannon's own histogram has 1 ms resolution, too coarse
 * for "p99 added ≤ 1 ms".
 */
import { createHistogram } from 'node:perf_hooks';
import autocannon from 'autocannon';

export interface LoadOptions {
  readonly seconds: number;
  readonly connections: number;
  /** Requests per second over all connections (autocannon `overallRate`); omitted = as fast as possible. */
  readonly overallRate?: number;
  /** Request headers, e.g. the Cookie of a session. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface LoadResult {
  /** Successful (2xx) responses per second over the measured window. */
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly requests: number;
  readonly errors: number;
  readonly non2xx: number;
  readonly seconds: number;
}

function run(url: string, options: LoadOptions, seconds: number): Promise<LoadResult> {
  const histogram = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });
  const instance = autocannon({
    url,
    connections: options.connections,
    pipelining: 1,
    duration: seconds,
    ...(options.overallRate !== undefined ? { overallRate: Math.max(1, Math.round(options.overallRate)) } : {}),
    ...(options.headers !== undefined ? { headers: { ...options.headers } } : {}),
    renderProgressBar: false,
    renderResultsTable: false,
    renderLatencyTable: false,
  });
  instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
    if (statusCode >= 200 && statusCode < 300) histogram.record(Math.max(1, Math.round(responseTimeMs * 1000)));
  });
  return new Promise<LoadResult>((resolve, reject) => {
    instance.then((result) => {
      const ok = result['2xx'];
      resolve({
        rps: ok / result.duration,
        p50Ms: histogram.percentile(50) / 1000,
        p99Ms: histogram.percentile(99) / 1000,
        meanMs: histogram.mean / 1000,
        requests: ok,
        errors: result.errors + result.timeouts,
        non2xx: result.non2xx,
        seconds: result.duration,
      });
    }, reject);
  });
}

/** One autocannon run against `url`; throws when not a single request succeeded. */
export async function applyLoad(url: string, options: LoadOptions): Promise<LoadResult> {
  const result = await run(url, options, options.seconds);
  if (result.requests === 0) throw new Error(`${url}: no successful response (errors ${result.errors}, non-2xx ${result.non2xx})`);
  return result;
}
