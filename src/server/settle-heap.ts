import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';

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
 *
 * Then incremental marking is turned off, for this reason: after a memory-reducing collection
 * (this one, or the memory reducer's own once a sidecar has been idle for 8 s) V8 grows the old
 * generation slowly and, with the sidecar's ~22 MiB of live heap above its activation threshold,
 * starts an incremental mark-compact whenever a streamed body's read buffers (64 KiB each, external
 * memory) pile up: about every 18 MB of a download. A 1 GiB export then cost 4.4–5.0 ms of CPU per
 * MB instead of 2.1 (58 full collections instead of 3; the bare proxy, whose heap is below the
 * threshold, never marks). Without incremental marking V8 collects the old generation only when it
 * is actually full. The price is that such a collection is one pause instead of several short
 * steps (≈ 10–40 ms for this heap), rare under request load (README "Benchmarks").
 */
export async function settleHeap(): Promise<void> {
  await lowMemoryCollection();
  // Read by V8 each time it considers starting a collection, so it takes effect at once.
  setFlagsFromString('--no-incremental-marking');
}

async function lowMemoryCollection(): Promise<void> {
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
