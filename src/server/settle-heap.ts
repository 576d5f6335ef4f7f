import { createRequire } from 'node:module';
import { constants, PerformanceObserver, performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { raiseMallocTrimThreshold } from '../proxy/body-memory.ts';

/**
 * Hands the start-up's spare heap back once the sidecar has started (docs/PERFORMANCE.md, memory).
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
 * That collection also frees the block that raises glibc's trim threshold (src/proxy/body-memory.ts).
 *
 * Then the marking guard below is started.
 */
export async function settleHeap(): Promise<void> {
  // Freed by the collection below.
  raiseMallocTrimThreshold();
  await lowMemoryCollection();
  // Its entries arrive after the fact: the collections just asked for are no thrash.
  startMarkingGuard().ignoreBefore(performance.now());
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

export interface MarkingGuardSettings {
  /** Full collections less than this apart (ms) count as one run. */
  readonly gapMs: number;
  /** A run this long is a thrash: incremental marking goes off. */
  readonly runLength: number;
  /** Incremental marking comes back once this long (ms) has passed without a run. */
  readonly calmMs: number;
}

/**
 * A download's thrash runs full collections 25–100 ms apart (now and then one ~380 ms after the
 * last). A sign-in load whose heap is still growing runs them ~1 s apart, and V8's memory reducer
 * runs up to three ~0.6 s apart when the process goes idle: neither is a thrash. With a 1 s gap and
 * runs of three, a sidecar warming up under sequential sign-ins was seen to turn marking off (three
 * collections 978 and 923 ms apart) and then pay ≈ 0.3 ms more per sign-in for the next minute.
 */
export const MARKING_GUARD: MarkingGuardSettings = { gapMs: 400, runLength: 4, calmMs: 60_000 };

/**
 * Why incremental marking is turned off, and only while full collections come back to back.
 *
 * After a memory-reducing collection (the start-up's above, or V8's memory reducer once a sidecar
 * has been idle for 8 s) V8 leaves the old generation little room above its ~20 MiB of live heap,
 * and counts the external memory allocated since the last full collection against that room. A
 * streamed download allocates a 64 KiB read buffer per chunk (external memory, garbage a moment
 * later), so the room is used up every ~18 MB and V8 starts an incremental mark-compact each time:
 * a 1 GiB export ran 58 full collections and cost 4.4–5.0 ms of CPU per MB instead of 2.1 (the
 * bare proxy, whose heap is below V8's threshold for marking, never marks). Without incremental
 * marking V8 collects the old generation only when it is actually full.
 *
 * Turning incremental marking off for good (as the sidecar did first) fixed exports but cost every
 * sign-in ≈ 0.25 ms of CPU on V8's helper threads (issue 16: 1.60 → 1.38 ms per sign-in with it
 * on). So it goes off only while the thrash lasts: `runLength` full collections each less than
 * `gapMs` after the previous one (a sidecar under sign-in load runs one every second or few), and
 * comes back after `calmMs` without such a run. While it is off, a full collection is one pause
 * instead of several short steps (≈ 10–40 ms for this heap).
 */
export class MarkingGuard {
  private run = 0;
  private last = Number.NEGATIVE_INFINITY;
  private offSince: number | null = null;
  private lastRunAt = Number.NEGATIVE_INFINITY;
  private from = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly settings: MarkingGuardSettings,
    private readonly setMarking: (on: boolean) => void,
  ) {}

  get marking(): boolean {
    return this.offSince === null;
  }

  /** When incremental marking went off (the collection that completed the run), or null while it is on. */
  get offAt(): number | null {
    return this.offSince;
  }

  /** Collections that started before `at` are not counted (ones the process asked for itself). */
  ignoreBefore(at: number): void {
    this.from = Math.max(this.from, at);
  }

  /** A full collection started at `at` (ms, any monotonic clock). */
  fullCollection(at: number): void {
    if (at < this.from) return;
    this.run = at - this.last < this.settings.gapMs ? this.run + 1 : 1;
    this.last = at;
    if (this.run < this.settings.runLength) return;
    this.lastRunAt = at;
    if (this.offSince === null) {
      this.offSince = at;
      this.setMarking(false);
    }
  }

  /** Asked now and then; brings incremental marking back after a calm spell. */
  tick(now: number): void {
    if (this.offSince !== null && now - this.lastRunAt >= this.settings.calmMs) {
      this.offSince = null;
      this.run = 0;
      this.setMarking(true);
    }
  }
}

let started: MarkingGuard | undefined;

/** One guard per process, fed by V8's collections; neither its observer nor its timer keeps the process alive. */
function startMarkingGuard(): MarkingGuard {
  if (started) return started;
  // Read by V8 each time it considers starting a collection, so it takes effect at once.
  const guard = new MarkingGuard(MARKING_GUARD, (on) => setFlagsFromString(on ? '--incremental-marking' : '--no-incremental-marking'));
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const detail = (entry as unknown as { detail?: { kind?: number } }).detail;
      if (detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) guard.fullCollection(entry.startTime);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  setInterval(() => guard.tick(performance.now()), Math.min(5_000, MARKING_GUARD.calmMs)).unref();
  started = guard;
  return guard;
}

/** The process's guard (tests). */
export function markingGuard(): MarkingGuard | undefined {
  return started;
}
