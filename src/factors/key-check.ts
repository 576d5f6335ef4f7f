import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Clock } from '../core/clock.ts';
import { totpSecretAad, type SecretBox, type EncryptionKeys } from './secret-box.ts';
import { RESTORE_HINT } from '../store/sqlite-file.ts';

/**
 * The key check (issue 14 item 12): the durable store keeps, per encryption key id, a constant
 * sealed with that key. At start the configured keys must open every record of the ids they
 * carry, and every key id the stored TOTP secrets use must be configured and open one of them.
 * A changed or lost key then stops the start with one clear line, instead of every TOTP user
 * getting errors (and recovery codes "wrong") until someone notices.
 */

/** What a durable store offers for the check (SQLite and Redis implement it). */
export interface KeyCheckPort {
  keyChecks(): Promise<ReadonlyMap<string, string>>;
  addKeyCheck(keyId: string, sealed: string, now: number): Promise<void>;
  /** One sealed TOTP secret per key id the stored records use (may be empty where scanning is costly). */
  sealedSamples(): Promise<ReadonlyArray<{ keyId: string; user: string; data: string }>>;
}

export function isKeyCheckPort(value: unknown): value is KeyCheckPort {
  const port = value as Partial<KeyCheckPort> | null;
  return typeof port?.keyChecks === 'function' && typeof port.addKeyCheck === 'function' && typeof port.sealedSamples === 'function';
}

export class KeyCheckError extends Error {
  override readonly name = 'KeyCheckError';
}

const CHECK_PLAINTEXT = 'smartpush-guard key check v1';
const checkAad = (keyId: string): string => `key-check:${keyId}`;

export interface KeyCheckOutcome {
  /** Key ids whose record was written now (a new store, or keys added). */
  readonly added: readonly string[];
  /** Key ids the store has a record of that are no longer configured (retired after rotation). */
  readonly retired: readonly string[];
}

/**
 * Verifies that `keys` open what the store holds and records the ids it has no record of yet.
 * Throws KeyCheckError naming `source` (where the keys come from) and the key id.
 */
export async function verifyEncryptionKeys(
  port: KeyCheckPort,
  keys: EncryptionKeys,
  box: SecretBox,
  options: { readonly clock: Clock; readonly source: string },
): Promise<KeyCheckOutcome> {
  const { source } = options;
  const records = await port.keyChecks();
  const configured = new Set(keys.keyIds);
  const wrongKey = (id: string, what: string): KeyCheckError =>
    new KeyCheckError(
      `${source}: encryption key ${id} does not open ${what}: the key changed since the data was written. ` +
        `Put back the key file that was in use (${RESTORE_HINT}); never replace keys over existing data`,
    );
  for (const [id, sealed] of records) {
    if (!configured.has(id)) continue;
    let opened: Buffer;
    try {
      opened = box.open({ keyId: id, data: sealed }, checkAad(id));
    } catch {
      throw wrongKey(id, "the store's key-check record");
    }
    const ok = opened.toString('utf8') === CHECK_PLAINTEXT;
    opened.fill(0);
    if (!ok) throw wrongKey(id, "the store's key-check record");
  }
  for (const sample of await port.sealedSamples()) {
    if (!configured.has(sample.keyId)) {
      throw new KeyCheckError(
        `${source}: encryption key ${sample.keyId} is missing, but TOTP secrets in the store are sealed with it. ` +
          `Add the key back (old keys stay in the file after rotation; ${RESTORE_HINT})`,
      );
    }
    try {
      box.open({ keyId: sample.keyId, data: sample.data }, totpSecretAad(sample.user)).fill(0);
    } catch {
      throw wrongKey(sample.keyId, 'the TOTP secrets in the store');
    }
  }
  const added: string[] = [];
  for (const id of keys.keyIds) {
    if (records.has(id)) continue;
    const sealed = box.sealWith(id, Buffer.from(CHECK_PLAINTEXT, 'utf8'), checkAad(id));
    await port.addKeyCheck(id, sealed.data, options.clock.now());
    added.push(id);
  }
  const retired = [...records.keys()].filter((id) => !configured.has(id));
  return { added, retired };
}

/**
 * Whether new encryption keys may be generated for this store: never over existing data (sealed
 * secrets, recovery-code hashes and key-check records would no longer open). Used by the demo
 * before it writes `var/encryption-keys.json`, and by `secrets init`. Throws KeyCheckError when
 * the SQLite file holds any record; a file that cannot be read counts as holding data.
 */
export function assertNoDataForNewKeys(sqliteFile: string, keysPath: string): void {
  const refuse = (why: string): never => {
    throw new KeyCheckError(
      `${keysPath}: refusing to generate new encryption keys: ${sqliteFile} ${why}, sealed with the keys that were in this file. ` +
        `Put the key file back (${RESTORE_HINT}); only if that data is to be thrown away, move the store aside and start with --init-store`,
    );
  };
  const present = (path: string): boolean => existsSync(path) && statSync(path).size > 0;
  if (!present(sqliteFile) && !present(`${sqliteFile}-wal`)) return;
  let db: Database.Database | undefined;
  try {
    db = new Database(sqliteFile, { readonly: true, fileMustExist: true });
    const tables = new Set(db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all());
    const count = (table: string): number =>
      tables.has(table) ? (db?.prepare<[], number>(`SELECT count(*) FROM ${table}`).pluck().get() ?? 0) : 0;
    if (count('key_checks') + count('enrollments') > 0) refuse('already holds 2FA data');
  } catch (error) {
    if (error instanceof KeyCheckError) throw error;
    refuse(`exists but cannot be read (${(error as Error).message})`);
  } finally {
    db?.close();
  }
}
