/**
 * Run as its own process by test/unit/proxy/body-memory.test.ts: streams 64 KiB buffers as a
 * socket's reads do, with one young-generation collection per 4 MiB (as BodyMemory asks), and
 * prints the page faults per such cycle. With `raise`, raiseMallocTrimThreshold runs first, as
 * settleHeap does at start. Usage: node --import tsx malloc-trim-child.ts raise|plain
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BODY_MEMORY_STEP, raiseMallocTrimThreshold } from '../../src/proxy/body-memory.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options: { type: 'minor' | 'major'; execution: 'sync' }) => void;
if (process.argv[2] === 'raise') {
  raiseMallocTrimThreshold();
  gc({ type: 'major', execution: 'sync' });
}
const CHUNK = 64 * 1024;
const cycle = (count: number): void => {
  for (let k = 0; k < count; k++) {
    for (let read = 0; read < BODY_MEMORY_STEP; read += CHUNK) Buffer.allocUnsafeSlow(CHUNK).fill(k & 0xff);
    gc({ type: 'minor', execution: 'sync' });
  }
};
cycle(20);
const before = process.resourceUsage().minorPageFault;
const CYCLES = 200;
cycle(CYCLES);
process.stdout.write(`${JSON.stringify({ faultsPerCycle: (process.resourceUsage().minorPageFault - before) / CYCLES })}\n`);
