/**
 * Run by test/unit/server/tick-shape.test.ts in its own process (node --allow-natives-syntax
 * --expose-gc --import tsx): warms `process.nextTick` up, then runs full collections at moments
 * when no tick object is alive, as an idle spell or a start-up does, and prints V8's feedback for
 * `nextTick` (`%DebugPrint`). With `keep` as its argument it calls keepTickShape() first.
 */
import { keepTickShape } from '../../src/server/tick-shape.ts';

if (process.argv[2] === 'keep') keepTickShape();
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const ticks = (n: number): Promise<void> =>
  new Promise((resolve) => {
    let left = n;
    for (let i = 0; i < n; i++) {
      process.nextTick(() => {
        if (--left === 0) resolve();
      });
    }
  });

for (let round = 0; round < 8; round++) {
  await ticks(20);
  await new Promise((resolve) => setTimeout(resolve, 1));
  gc();
}
// Natives syntax is only parsed at run time (eval), so the file stays TypeScript.
(0, eval)('%DebugPrint(process.nextTick)');
