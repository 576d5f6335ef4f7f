import assert from 'node:assert/strict';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { test } from 'node:test';
import { getHeapSpaceStatistics } from 'node:v8';
import { settleHeap } from '../../../src/server/settle-heap.ts';

const newSpace = (): number => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;

test('settleHeap gives the young generation grown by a start-up back', async () => {
  // A start-up's pattern: many objects that survive their first collections, which grows the young generation.
  const kept: unknown[] = [];
  for (let i = 0; i < 400_000 && newSpace() < 8 * 1024 * 1024; i++) kept.push({ i, text: `item ${i}` });
  const grown = newSpace();
  assert.ok(grown >= 8 * 1024 * 1024, `the young generation grew (${grown} bytes)`);
  await settleHeap();
  assert.ok(newSpace() < grown / 2, `young generation ${newSpace()} bytes after, ${grown} before`);
  assert.equal(kept.length > 0, true);
  await settleHeap(); // a second call is harmless
});

test('after settleHeap a streamed download does not set off incremental mark-compacts (export CPU)', async () => {
  // A sidecar's shape: some 20 MiB of live heap (above V8's activation threshold for incremental
  // marking), then a stream's worth of 64 KiB read buffers, each garbage once written on.
  const live: string[][] = [];
  for (let i = 0; i < 200; i++) live.push(Array.from({ length: 2_000 }, (_, j) => `live ${i} ${j} ${'x'.repeat(20)}`));
  await settleHeap();
  const kinds: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) kinds.push((entry as unknown as { detail: { kind: number } }).detail.kind);
  });
  observer.observe({ entryTypes: ['gc'] });
  let bytes = 0;
  for (let i = 0; i < 8_192; i++) {
    const chunk = Buffer.allocUnsafeSlow(65_536);
    chunk[0] = i & 0xff;
    bytes += chunk[0] + chunk.length;
    if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  assert.ok(bytes > 0 && live.length === 200);
  assert.ok(kinds.length > 0, 'the buffers were collected');
  const incremental = kinds.filter((kind) => kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL).length;
  assert.equal(incremental, 0, `incremental marking ran ${incremental} times (collections: ${kinds.join(',')})`);
});
