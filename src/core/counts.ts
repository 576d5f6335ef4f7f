/** Keys left at zero before they are dropped together. */
const DROP_ZEROS_AT = 1024;

/**
 * Counts per key that go up and down (open connections, requests in flight per address). A count
 * that falls to zero keeps its key, and the zeros are dropped a batch at a time: a key deleted
 * from a large JavaScript Map and set again leaves a dead entry in its hash chain until the table
 * is next rebuilt, and every later look-up of that key walks them all (docs/PERFORMANCE.md,
 * 2026-12-04), so one client that reconnects fast among many others would make each look-up of
 * its own address slower than the last.
 */
export class Counts {
  private readonly counts = new Map<string, number>();
  private zeros = 0;

  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** One more for `key`; returns the new count. */
  add(key: string): number {
    const current = this.counts.get(key);
    if (current === 0) this.zeros--;
    const next = (current ?? 0) + 1;
    this.counts.set(key, next);
    return next;
  }

  /** One fewer for `key` (never below zero). */
  remove(key: string): void {
    const current = this.counts.get(key);
    if (current === undefined || current <= 0) return;
    this.counts.set(key, current - 1);
    if (current === 1 && ++this.zeros >= DROP_ZEROS_AT) this.dropZeros();
  }

  /** Keys held, zeros included (for tests). */
  get keys(): number {
    return this.counts.size;
  }

  private dropZeros(): void {
    this.zeros = 0;
    for (const [key, count] of this.counts) if (count === 0) this.counts.delete(key);
  }
}
