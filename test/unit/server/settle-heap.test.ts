import assert from 'node:assert/strict';
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
