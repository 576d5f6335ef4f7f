import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Which SQLite stores were ever created with one set of encryption keys (THREATS T24).
 *
 * A missing store must not be re-created silently: that would turn every user's 2FA off. But a
 * platform engineer following an example (`secrets init`, then `serve --config …`) starts a store
 * that never existed, and should not need `--init-store` for it. The ledger tells the two apart: it
 * is written beside the encryption key file when `secrets init` (or the demo) creates that file,
 * and every store created with those keys is added to it. A missing store that the ledger names
 * was lost (refused); one it does not name, under keys whose whole life the ledger has seen, is new
 * (created). Without a ledger (keys made elsewhere, or the ledger lost) nothing is created without
 * `--init-store`: losing the ledger fails closed.
 */

interface Ledger {
  readonly note: string;
  readonly stores: string[];
}

const NOTE = 'smartpush-guard: the SQLite stores created with the encryption keys beside this file; keep it with them';

function ledgerPathOf(keysFile: string): string {
  return `${resolve(keysFile)}.stores`;
}

/** Called when new encryption keys were just created: none of their stores exists yet. */
export function startLedger(keysFile: string): void {
  write(ledgerPathOf(keysFile), { note: NOTE, stores: [] }, 'wx');
}

function read(path: string): Ledger | null {
  if (!existsSync(path)) return null;
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<Ledger>;
    if (!Array.isArray(parsed.stores) || !parsed.stores.every((s) => typeof s === 'string')) return null;
    return { note: NOTE, stores: parsed.stores };
  } catch {
    // A damaged ledger proves nothing: treat it as absent (no silent creation).
    return null;
  }
}

function write(path: string, ledger: Ledger, flag: 'w' | 'wx'): void {
  const text = `${JSON.stringify(ledger, null, 2)}\n`;
  if (flag === 'wx') {
    try {
      writeFileSync(path, text, { flag: 'wx', mode: 0o600 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    return;
  }
  // Replace atomically: a crash leaves the old ledger or the new one, never half of one.
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, text, { mode: 0o600 });
  renameSync(temp, path);
}

/** True when `storeFile` may be created: the ledger of these keys exists and has never named it. */
export function isNewStore(keysFile: string, storeFile: string): boolean {
  const ledger = read(ledgerPathOf(keysFile));
  return ledger !== null && !ledger.stores.includes(resolve(storeFile));
}

/** Records that `storeFile` now exists under these keys (no-op without a ledger). */
export function recordStore(keysFile: string, storeFile: string): void {
  const path = ledgerPathOf(keysFile);
  const ledger = read(path);
  const store = resolve(storeFile);
  if (ledger === null || ledger.stores.includes(store)) return;
  write(path, { note: NOTE, stores: [...ledger.stores, store] }, 'w');
}
