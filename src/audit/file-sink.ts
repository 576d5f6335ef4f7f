import { fchmodSync, mkdirSync, openSync } from 'node:fs';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { pino } from 'pino';
import type { AuditEvent } from './audit.ts';
import type { AuditSink } from './record.ts';

/**
 * The audit log as JSON lines (one record per line, `jq`-friendly), appended to a file that only
 * its owner can read. Writes are buffered and asynchronous (pino's SonicBoom destination, the one
 * the service log uses), so a sign-in never waits on the disk; what is buffered is written at
 * least every second, on close, and synchronously when the process exits.
 */
export function jsonLinesFileSink(file: string, options: { readonly onError?: (error: Error) => void } = {}): AuditSink {
  // The directory is created owner-only when missing; an existing one is left as it is. The file is
  // opened here, synchronously: a path that cannot be written fails the start, not the first
  // sign-in, and records written before the first tick are on an open file when the process exits.
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const fd = openSync(file, 'a', 0o600);
  // `mode` only applies when the file is created: an existing looser file is made owner-only.
  fchmodSync(fd, 0o600);
  const stream = pino.destination({ fd, sync: false, minLength: 4096 });
  stream.on('error', (error: Error) => options.onError?.(error));
  const timer = setInterval(() => {
    try {
      stream.flush();
    } catch {
      // Not open yet, or a write in flight: the next tick flushes.
    }
  }, 1000);
  timer.unref();
  const atExit = (): void => {
    try {
      stream.flushSync();
    } catch {
      // Nothing more can be done for audit lines at exit (the service log has the events too).
    }
  };
  process.once('exit', atExit);
  let closing: Promise<void> | undefined;
  return {
    name: 'file',
    write(event: AuditEvent): void {
      stream.write(`${JSON.stringify(event)}\n`);
    },
    close(): Promise<void> {
      closing ??= (async () => {
        clearInterval(timer);
        process.off('exit', atExit);
        const closed = once(stream, 'close');
        stream.end();
        await closed;
      })();
      return closing;
    },
  };
}

/** The audit records on standard output too (containers ship stdout), marked `"audit": true`. */
export function stdoutSink(write: (line: string) => void = (line) => process.stdout.write(line)): AuditSink {
  return {
    name: 'stdout',
    write(event: AuditEvent): void {
      write(`${JSON.stringify({ audit: true, ...event })}\n`);
    },
  };
}
