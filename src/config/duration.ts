/**
 * Durations as written in YAML: an integer followed by a unit, e.g. `500ms`, `30s`, `10m`, `12h`, `1d`.
 * Shared by the policy and the configuration so both read durations the same way.
 */

export const DURATION_PATTERN = /^(0|[1-9][0-9]*)(ms|s|m|h|d)$/;

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

/** Milliseconds for a duration such as `10m`, or null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  const m = DURATION_PATTERN.exec(text);
  if (!m) return null;
  const value = Number(m[1]) * UNIT_MS[m[2] as Unit];
  return Number.isSafeInteger(value) ? value : null;
}

/** The shortest exact form of a duration in milliseconds: 600000 → `10m`, 90000 → `90s`. */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`not a duration in milliseconds: ${ms}`);
  if (ms === 0) return '0s';
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
