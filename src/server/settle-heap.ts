import { createRequire } from 'node:module';

/**
 * Hands the start-up's spare heap back once the sidecar has started (README "Benchmarks", memory).
 *
 * Loading the bundle, the packages, the config and the policy makes V8 grow its young generation
 * to its largest size (2 × 16 MiB) and reserve old space for the start-up's survivors. V8 gives
 * this back by itself, but only when its memory reducer finds the process idle (8 s or more after
 * start, later or not at all on a busy machine). Until then a sidecar held some 15–20 MiB of RSS it
 * did not need, and a large download's chunk garbage (up to V8's external-memory allowance) came on
 * top of it. This asks V8 for the same collection once, at start: `HeapProfiler.collectGarbage`
 * over an in-process inspector session is V8's low-memory notification (full collections that
 * shrink the heap, ≈ 50–150 ms once). The session is local to the process (no port, no debugger
 * attached) and disconnected when done. Where Node was built without the inspector, nothing happens.
 */
export async function settleHeap(): Promise<void> {
  let inspector: typeof import('node:inspector');
  try {
    inspector = createRequire(import.meta.url)('node:inspector') as typeof import('node:inspector');
  } catch {
    return;
  }
  const session = new inspector.Session();
  try {
    session.connect();
    await new Promise<void>((resolve) => session.post('HeapProfiler.collectGarbage', () => resolve()));
  } catch {
    // The inspector is not usable here: V8's memory reducer does the same later.
  } finally {
    session.disconnect();
  }
}
