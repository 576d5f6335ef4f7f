/** Small helpers for the signals' English details (audit log, `policy explain`). */

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A window in the largest whole unit: `10 minutes`, `1 hour`, `2 days`. */
export function minutes(ms: number): string {
  if (ms % 86_400_000 === 0) return plural(ms / 86_400_000, 'day');
  if (ms % 3_600_000 === 0) return plural(ms / 3_600_000, 'hour');
  if (ms % 60_000 === 0) return plural(ms / 60_000, 'minute');
  return plural(Math.ceil(ms / 1000), 'second');
}
