import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { BodyMemory, COUNTED_BODY_BYTES, minorCollection } from '../../../src/proxy/body-memory.ts';

test('one collection per step of counted bytes, whatever the chunk sizes', () => {
  let collections = 0;
  const memory = new BodyMemory(() => collections++, 100);
  for (let i = 0; i < 9; i++) memory.count({ length: 30 });
  assert.equal(collections, 2, '270 bytes: two steps of 100 passed');
  memory.count({ length: 29 });
  assert.equal(collections, 2, 'the count restarts after each collection: 30 + 29 is not a step yet');
  memory.count({ length: 41 });
  assert.equal(collections, 3);
  memory.count({ length: 1_000 });
  assert.equal(collections, 4, 'one large chunk is one collection, not ten');
});

test('only bodies of at least 1 MiB, or of unknown length, are counted', () => {
  let collections = 0;
  const memory = new BodyMemory(() => collections++, 10);
  const watched = (contentLength: string | undefined): boolean => {
    const body = new EventEmitter();
    memory.watch(body, contentLength);
    return body.listenerCount('data') === 1;
  };
  assert.equal(watched(String(COUNTED_BODY_BYTES - 1)), false);
  assert.equal(watched('0'), false);
  assert.equal(watched(String(COUNTED_BODY_BYTES)), true);
  assert.equal(watched(String(10 * COUNTED_BODY_BYTES)), true);
  assert.equal(watched(undefined), true, 'chunked or read to the close');
  assert.equal(watched('not a number'), true, 'a length that is not one is not trusted to be small');
  const body = new EventEmitter();
  memory.watch(body, undefined);
  body.emit('data', Buffer.alloc(25));
  assert.equal(collections, 1, 'only the watched body counted: 25 bytes, one collection');
});

test("minorCollection is V8's young-generation collection, in this Node", async () => {
  const collect = minorCollection();
  assert.ok(collect, 'gc can be had in this process');
  const seen = new Promise<PerformanceEntry[]>((resolve) => {
    const observer = new PerformanceObserver((list) => {
      const minor = list.getEntries().filter((entry) => {
        const detail = (entry as PerformanceEntry & { detail?: unknown }).detail as { kind?: number; flags?: number } | undefined;
        return detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR && ((detail.flags ?? 0) & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0;
      });
      if (minor.length === 0) return;
      observer.disconnect();
      resolve(minor);
    });
    observer.observe({ entryTypes: ['gc'] });
  });
  // GC entries arrive on a later turn of the event loop, which nothing else keeps alive here.
  const hold = setInterval(() => undefined, 60_000);
  try {
    await new Promise((resolve) => setImmediate(resolve));
    collect();
    assert.ok((await seen).length >= 1, 'a forced young-generation collection was seen');
  } finally {
    clearInterval(hold);
  }
  assert.equal('gc' in globalThis, false, 'the main context gets no global gc');
});

const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime;

test('after raiseMallocTrimThreshold, streamed chunks reuse glibc heap memory instead of faulting it in after every collection', { skip: glibc === undefined ? 'glibc only (this allocator is not glibc)' : false }, () => {
  const child = fileURLToPath(new URL('../../helpers/malloc-trim-child.ts', import.meta.url));
  // The process decides glibc's thresholds itself: no malloc setting of this environment reaches it.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'GLIBC_TUNABLES' && !name.startsWith('MALLOC_')));
  const faults = (mode: 'raise' | 'plain'): number => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', child, mode], { encoding: 'utf8', env, timeout: 120_000 });
    assert.equal(run.status, 0, run.stderr);
    return (JSON.parse(run.stdout) as { faultsPerCycle: number }).faultsPerCycle;
  };
  // A 4 MiB cycle writes 1,024 pages. Handed back to the kernel at each collection, they were
  // faulted in again at 27–80 faults per cycle here (the kernel maps several pages per fault);
  // kept in the heap, 0.3–9.6 (the young generation's own pages).
  const raised = [faults('raise'), faults('raise')];
  assert.ok(Math.max(...raised) < 16, `page faults per 4 MiB cycle after the raise: ${raised.join(', ')}`);
});
