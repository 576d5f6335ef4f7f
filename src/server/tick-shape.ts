import { executionAsyncResource } from 'node:async_hooks';

/**
 * Keeps one `process.nextTick` tick object alive for the life of the process.
 *
 * Node builds each tick as `{ [async_id_symbol]: …, [trigger_async_id_symbol]: …, callback, args }`,
 * and V8 caches the maps of that literal in `nextTick`'s feedback. The maps hang off the literal's
 * root map by weak transitions: a full collection at a moment when no tick object is alive (an idle
 * spell, the start-up's `settleHeap`, a worker's start while its store calls warm `nextTick` up)
 * clears them, and the next tick builds a new chain. After four such chains the feedback is
 * megamorphic for good, and every tick is then built by V8's runtime: 230–340 ns instead of about
 * 50, some ten ticks per proxied request, about 10 µs of a request in a cluster worker
 * (docs/PERFORMANCE.md, "One kept tick object"). One live tick object keeps its maps, so the chain
 * is never rebuilt.
 */
let kept: object | undefined;

export function keepTickShape(): void {
  if (kept !== undefined) return;
  process.nextTick(() => {
    kept = executionAsyncResource();
  });
}
