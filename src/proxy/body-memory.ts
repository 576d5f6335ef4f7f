import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Gives a streamed body's chunk memory back as the stream goes, not 32 MiB later.
 *
 * Every chunk a socket reads is a fresh 64 KiB buffer whose memory lives outside V8's heap; it is
 * garbage as soon as it has been written on, but it is freed only when a young-generation
 * collection finds it dead. Forwarding allocates almost nothing else on the JS heap, so that
 * collection comes only from V8's own rule for such buffers: once 32 MiB of them (2 × the largest
 * young generation) have piled up. During a 1 GiB export that pile was most of the sidecar's peak
 * memory above its resting size, and every chunk landed on memory the process had not touched for
 * a while (docs/PERFORMANCE.md: peak RSS and CPU per MB of the export).
 *
 * So the forwarder counts the bytes of large bodies and asks for a young-generation collection
 * (a scavenge: the young generation holds little while bytes stream) each time another STEP has
 * passed. At most one per STEP of large bodies, whatever else runs; old-generation collections are
 * never asked for. Checking V8's external memory first does not work: a scavenge frees the buffers
 * on a background thread, so the figure read just after one has not come down yet.
 *
 * The collection is V8's `gc({ type: 'minor' })`, exposed to this process only (the flag is set
 * once, then the function is read from a fresh context, as jest's leak detector does); where it is
 * not available nothing is asked and V8's own rule applies.
 */

/** Every this many bytes of large bodies, one young-generation collection. */
export const BODY_MEMORY_STEP = 4 * 1024 * 1024;

/** Bodies this large (or of unknown length) are counted; smaller ones are left to V8. */
export const COUNTED_BODY_BYTES = 1024 * 1024;

export class BodyMemory {
  private sinceCollect = 0;

  /** `collect`: a young-generation collection (processBodyMemory: V8's). */
  constructor(
    private readonly collect: () => void,
    private readonly step: number = BODY_MEMORY_STEP,
  ) {}

  /** The listener for a body's `data` events. */
  readonly count = (chunk: { readonly length: number }): void => {
    this.sinceCollect += chunk.length;
    if (this.sinceCollect < this.step) return;
    this.sinceCollect = 0;
    this.collect();
  };

  /** Counts `body`'s chunks when its declared length is large or unknown. */
  watch(body: NodeJS.EventEmitter, contentLength: string | undefined): void {
    if (contentLength !== undefined && Number(contentLength) < COUNTED_BODY_BYTES) return;
    body.on('data', this.count);
  }
}

type Gc = (options: { type: 'minor'; execution: 'sync' }) => void;

/** V8's collection function for this process, or undefined where it cannot be had. */
export function minorCollection(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    if (typeof gc !== 'function') return undefined;
    return () => (gc as Gc)({ type: 'minor', execution: 'sync' });
  } catch {
    return undefined;
  }
}

/**
 * The size of the block `raiseMallocTrimThreshold` maps and frees: glibc then keeps up to twice
 * this free at the top of its heap before handing memory back to the kernel.
 */
export const MALLOC_THRESHOLD_BLOCK = 8 * 1024 * 1024;

/**
 * Keeps glibc from handing a streamed body's chunk memory back to the kernel after each
 * collection, only to fault it in again for the next chunks.
 *
 * A socket's 64 KiB read buffers come from glibc's heap (`malloc`). Each collection above frees
 * 4 MiB of them at once, which leaves that much free at the top of the heap; glibc returns the top
 * to the kernel once more than its trim threshold is free there (128 KiB until it adjusts), and the
 * next chunks fault the same memory in again, zeroed page by page. On this project's 2-core machine
 * a 4 MiB cycle of reads and one collection cost 0.9–1.1 ms of CPU that way (34 page faults, half
 * of it in the kernel) against 0.2–0.5 ms without the round trip (docs/PERFORMANCE.md, "the
 * export's page faults"). The bare proxy falls into the same loop, 100–190 faults per MB, whenever
 * V8 frees its 32 MiB of chunk garbage at the top of the heap.
 *
 * glibc adjusts its thresholds itself (mallopt(3), M_MMAP_THRESHOLD): when a mapped block larger
 * than the mmap threshold is freed, the threshold becomes that block's size and the trim threshold
 * twice that. So one 8 MiB block, mapped and never touched (it costs no resident memory), is
 * dropped here and freed by the next full collection (`settleHeap` runs one right after): from then
 * on up to 16 MiB stay free in the heap for the next chunks. An operator's own setting
 * (`MALLOC_TRIM_THRESHOLD_`, `GLIBC_TUNABLES`) turns glibc's adjustment off and stays in force; with
 * another allocator (musl) nothing changes.
 */
export function raiseMallocTrimThreshold(): void {
  // Dropped at once: only its being freed matters.
  Buffer.allocUnsafeSlow(MALLOC_THRESHOLD_BLOCK);
}

let shared: BodyMemory | undefined;

/** The process's one BodyMemory (V8's heap is per process); it counts only where gc cannot be had. */
export function processBodyMemory(): BodyMemory {
  if (!shared) {
    shared = new BodyMemory(minorCollection() ?? (() => {}));
  }
  return shared;
}
