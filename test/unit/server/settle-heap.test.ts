import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MARKING_GUARD, MarkingGuard, markingGuard, settleHeap } from '../../../src/server/settle-heap.ts';

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

test('the marking guard turns incremental marking off only for a run of full collections, and back on after a calm spell', () => {
  const switched: boolean[] = [];
  const guard = new MarkingGuard({ gapMs: 1_000, runLength: 3, calmMs: 60_000 }, (on) => switched.push(on));
  // Sign-in load: a full collection every few seconds is no thrash.
  for (let at = 0; at < 60_000; at += 2_500) guard.fullCollection(at);
  assert.deepEqual(switched, []);
  assert.equal(guard.marking, true);
  // A download: collections 50 ms apart. The third in a row turns marking off, once.
  guard.fullCollection(70_000);
  guard.fullCollection(70_050);
  assert.deepEqual(switched, []);
  guard.fullCollection(70_100);
  assert.deepEqual(switched, [false]);
  guard.fullCollection(70_150);
  assert.deepEqual(switched, [false]);
  // Still thrashing at 100 s: the calm spell counts from the last run, not from when marking went off.
  guard.fullCollection(100_000);
  guard.fullCollection(100_200);
  guard.fullCollection(100_400);
  guard.tick(150_000);
  assert.equal(guard.marking, false);
  guard.tick(160_399);
  assert.equal(guard.marking, false);
  guard.tick(160_400);
  assert.deepEqual(switched, [false, true]);
  assert.equal(guard.marking, true);
  // A new run after that starts counting afresh.
  guard.fullCollection(161_000);
  guard.fullCollection(161_100);
  assert.deepEqual(switched, [false, true]);
  guard.fullCollection(161_200);
  assert.deepEqual(switched, [false, true, false]);
  // Collections the process asked for itself (settleHeap's) are not counted.
  const quiet = new MarkingGuard({ gapMs: 1_000, runLength: 3, calmMs: 60_000 }, () => undefined);
  quiet.ignoreBefore(1_020);
  for (const at of [1_000, 1_010, 1_015, 1_030, 1_040]) quiet.fullCollection(at);
  assert.equal(quiet.marking, true, 'three ignored, two counted: no run of three');
  quiet.fullCollection(1_050);
  assert.equal(quiet.marking, false);
});

test('with the shipped settings, a growing sign-in heap and the memory reducer are no thrash; a download is', () => {
  const switched: boolean[] = [];
  const guard = new MarkingGuard(MARKING_GUARD, (on) => switched.push(on));
  // Seen in a sidecar warming up under sequential sign-ins (start times, ms): collections ~1 s apart.
  for (const at of [25_888, 26_866, 27_789, 28_650, 29_500, 30_420]) guard.fullCollection(at);
  // V8's memory reducer when the process goes idle: up to three, ~0.6 s apart.
  for (const at of [48_775, 49_403, 50_010]) guard.fullCollection(at);
  assert.deepEqual(switched, [], 'neither pattern turns incremental marking off');
  // A download after an idle spell, as traced: 376 ms, then ~50–90 ms apart.
  for (const at of [63_342, 63_718, 63_811, 63_860, 63_930]) guard.fullCollection(at);
  assert.deepEqual(switched, [false]);
});

test('settleHeap starts the marking guard, fed by V8\'s own full collections', async () => {
  await settleHeap();
  const guard = markingGuard();
  assert.ok(guard, 'settleHeap started the marking guard');
  assert.equal(guard.marking, true, 'settleHeap\'s own collections are no thrash');
  // Full collections back to back, as a download after an idle spell runs them (docs/PERFORMANCE.md).
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let i = 0; i < MARKING_GUARD.runLength; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  // The entries reach observers a moment after the collections.
  for (let i = 0; i < 50 && guard.marking; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(guard.marking, false, 'a run of full collections turned incremental marking off');
  // And the calm spell brings it back (V8's flag set again).
  guard.tick(performance.now() + MARKING_GUARD.calmMs);
  assert.equal(guard.marking, true);
});
