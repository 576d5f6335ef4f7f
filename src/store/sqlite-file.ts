import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/* The SQLite file itself: created owner-only, refused when missing or damaged, opened through busy locks. */

/**
 * The store cannot be used as it is: missing when it must exist, damaged, or not a file. The
 * message names the file and what to do; it is meant to be printed as it is (one line).
 */
export class SqliteStoreError extends Error {
  override readonly name = 'SqliteStoreError';
  constructor(
    readonly file: string,
    readonly problem: 'missing' | 'damaged' | 'not_a_file',
    message: string,
  ) {
    super(message);
  }
}

/** Where the README explains backups and restores; every refusal points there. */
export const RESTORE_HINT = 'see the README, "Operations: what survives a crash, backup and restore"';

/** Creates the parent directory (0700) and the file (0600) before SQLite opens it. */
export function prepareFile(file: string, create: boolean): void {
  let exists = true;
  try {
    const info = statSync(file);
    if (!info.isFile()) {
      throw new SqliteStoreError(file, 'not_a_file', `${file}: store.sqlite must be a SQLite file, but this is ${info.isDirectory() ? 'a directory' : 'not a regular file'}`);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    exists = false;
  }
  if (!exists && !create) throw missingStore(file, 'missing');
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // 'a' creates the file when missing and never truncates an existing one.
  closeSync(openSync(file, 'a', 0o600));
  // The mode passed to open() is filtered by the umask, and an existing file may be looser: make
  // sure it is owner-only. SQLite gives the -wal and -shm files the main file's permissions.
  chmodSync(file, 0o600);
}

export function missingStore(file: string, how: 'missing' | 'empty'): SqliteStoreError {
  return new SqliteStoreError(
    file,
    'missing',
    `${file}: the durable store is ${how === 'missing' ? 'missing' : 'empty (no schema, no records)'}; it holds every 2FA enrollment, ` +
      `so it is never re-created silently: restore it from a backup (${RESTORE_HINT}), ` +
      'or, only for a new deployment, start once with --init-store',
  );
}

export function damagedStore(file: string, detail: string): SqliteStoreError {
  return new SqliteStoreError(
    file,
    'damaged',
    `${file}: the durable store is damaged (${detail.replace(/\s+/g, ' ').slice(0, 200)}); stop every process using it, ` +
      `keep the damaged file aside, restore the last backup with its encryption keys (${RESTORE_HINT}), then start again`,
  );
}

/** SQLite result codes that mean the file (or the disk under it) cannot be trusted any more. */
export function isStoreDamage(error: unknown): boolean {
  if (!(error instanceof Database.SqliteError)) return false;
  return /^SQLITE_(CORRUPT|NOTADB|IOERR|CANTOPEN|FULL|READONLY_DBMOVED)/.test(error.code);
}

export const BUSY_TIMEOUT_MS = 5000;

/**
 * Runs `fn` again while SQLite reports SQLITE_BUSY, for up to the busy timeout. Only for opening:
 * it blocks the thread (the store is opened once, at start-up, before serving).
 */
export function retryWhileBusy<T>(fn: () => T): T {
  // Real time on purpose, like the thread it blocks: a timeout of the machine, not a fact of the
  // domain (an injected test clock would never reach the deadline).
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let delayMs = 5; ; delayMs = Math.min(delayMs * 2, 100)) {
    try {
      return fn();
    } catch (error) {
      const busy = error instanceof Database.SqliteError && (error.code === 'SQLITE_BUSY' || error.code.startsWith('SQLITE_BUSY_'));
      // The same real-time deadline, on purpose (see above).
      if (!busy || Date.now() >= deadline) throw error;
      Atomics.wait(pause, 0, 0, delayMs);
    }
  }
}
