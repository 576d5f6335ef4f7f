/**
 * Memory of a server process from /proc/<pid>/status (Linux): VmRSS sampled on an interval while
 * something runs, and VmHWM (the kernel's own peak RSS since the process started) at the end.
 */
import { readFileSync } from 'node:fs';

/** A field of /proc/<pid>/status in KiB, or undefined when it cannot be read (not Linux, process gone). */
export function procStatusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

export interface RssSamples {
  readonly samples: number;
  readonly beforeKiB: number | undefined;
  readonly peakSampledKiB: number | undefined;
  readonly hwmKiB: number | undefined;
}

export function sampleRss(pid: number, intervalMs = 50): { stop(): RssSamples } {
  const beforeKiB = procStatusKiB(pid, 'VmRSS');
  let peak = beforeKiB;
  let samples = 0;
  const timer = setInterval(() => {
    const rss = procStatusKiB(pid, 'VmRSS');
    if (rss === undefined) return;
    samples++;
    if (peak === undefined || rss > peak) peak = rss;
  }, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      return { samples, beforeKiB, peakSampledKiB: peak, hwmKiB: procStatusKiB(pid, 'VmHWM') };
    },
  };
}
