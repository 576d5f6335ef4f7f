import { closeSync, fchmodSync, fdatasync, mkdirSync, openSync, write, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AuditEvent } from './audit.ts';
import type { AuditSink } from './record.ts';

/**
 * The audit log as JSON lines (one record per line, `jq`-friendly), appended to a file that only
 * its owner can read.
 *
 * Durability (issue 14 item 15): a record is handed to the kernel on the next turn of the event
 * loop (never held for a second in a buffer, so a kill -9 loses nothing that was written), and
 * `settle()` resolves once every record so far is written and fdatasync'ed, so it also survives a
 * power loss. The service awaits `settle()` before answering a request that recorded an event.
 * Concurrent records are group-committed: one write and one fdatasync for everything queued, off
 * the event loop (libuv's thread pool), so a sign-in costs no CPU waiting on the disk.
 */
export function jsonLinesFileSink(file: string, options: { readonly onError?: (error: Error) => void } = {}): AuditSink {
  // The directory is created owner-only when missing; an existing one is left as it is. The file is
  // opened here, synchronously: a path that cannot be written fails the start, not the first sign-in.
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const fd = openSync(file, 'a', 0o600);
  // `mode` only applies when the file is created: an existing looser file is made owner-only.
  fchmodSync(fd, 0o600);
  let queue: string[] = [];
  let draining: Promise<void> | null = null;
  let scheduled = false;
  let closed = false;

  const writeAll = (data: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      const from = (offset: number): void => {
        write(fd, data, offset, data.length - offset, null, (error, written) => {
          if (error) reject(error);
          else if (offset + written < data.length) from(offset + written);
          else resolve();
        });
      };
      from(0);
    });
  const sync = (): Promise<void> => new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));

  /** Writes and syncs until the queue is empty; records queued meanwhile join the next round. */
  const drain = (): Promise<void> => {
    draining ??= (async () => {
      while (queue.length > 0) {
        const batch = Buffer.from(queue.join(''), 'utf8');
        queue = [];
        try {
          await writeAll(batch);
          await sync();
        } catch (error) {
          options.onError?.(error as Error);
        }
      }
    })().finally(() => {
      draining = null;
    });
    return draining;
  };

  const atExit = (): void => {
    // A clean exit with records not yet handed over (written this very turn): write them now.
    if (queue.length === 0) return;
    try {
      writeSync(fd, queue.join(''));
      queue = [];
    } catch {
      // Nothing more can be done for audit lines at exit (the service log has the events too).
    }
  };
  process.once('exit', atExit);

  let closing: Promise<void> | undefined;
  return {
    name: 'file',
    write(event: AuditEvent): void {
      if (closed) throw new Error('audit file sink is closed');
      queue.push(`${JSON.stringify(event)}\n`);
      if (scheduled) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        void drain();
      });
    },
    async settle(): Promise<void> {
      // An ongoing round may have taken its batch before the latest records: drain until empty.
      while (draining !== null || queue.length > 0) await drain();
    },
    close(): Promise<void> {
      closing ??= (async () => {
        closed = true;
        while (draining !== null || queue.length > 0) await drain();
        process.off('exit', atExit);
        closeSync(fd);
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
