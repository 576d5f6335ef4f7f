import { cryptoRandom } from '../core/random.ts';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { resolveSecret, secretSource, type LoadedConfig } from '../config/load.ts';
import { verifyEncryptionKeys } from '../factors/key-check.ts';
import { parseEncryptionKeys, SecretBox, type EncryptionKeys } from '../factors/secret-box.ts';
import { SqliteRiskHistory } from '../risk/sqlite-history.ts';
import { SqliteRememberedBrowsers } from '../store/sqlite-remembered-browsers.ts';
import { SqlitePasskeyStore } from '../factors/passkey/sqlite-store.ts';
import { SqliteGraceStore } from '../store/sqlite-grace.ts';
import { migrateRecords, type MigrationCounts, type MigrationSide } from './store-migrate.ts';
import { SqliteDurableStore } from '../store/sqlite.ts';
import { systemClock } from '../core/clock.ts';

/**
 * `store backup --to DIR` and `store restore --from DIR`: one backup format for both stores.
 *
 * A backup is a folder holding `guard.db` (a SQLite file: the embedded store copied with SQLite's
 * online backup API, or Redis's durable records exported into one), `encryption-keys.json` (the
 * keys that open its sealed TOTP secrets: a store without its keys is worthless) and
 * `manifest.json` (checksums, key ids, counts). Every backup is proven before it is reported done:
 * the copy passes `quick_check` and the keys open its key-check records and sealed secrets.
 *
 * Restore puts the records back into the store the config names (SQLite file or Redis), never
 * over existing data without --force, and never overwrites a key file: the configured keys must
 * open the backup, or, when the configured key file is missing, the backup's keys are written
 * there. Sessions, pending sign-ins, counters and bans are not backed up (they are ephemeral).
 */

export const BACKUP_FORMAT = 'smartpush-guard-backup/1';
export const DB = 'guard.db';
export const KEYS = 'encryption-keys.json';
export const MANIFEST = 'manifest.json';

export interface BackupManifest {
  readonly format: typeof BACKUP_FORMAT;
  readonly created_at: string;
  readonly source: string;
  readonly key_ids: readonly string[];
  readonly counts: MigrationCounts;
  readonly sha256: Readonly<Record<string, string>>;
}

/** A refusal the operator can act on (exit 1, one line). */
export class BackupError extends Error {
  override readonly name = 'BackupError';
}

/** What the caller opens for a Redis store (store.ts owns the connection code). */
export interface RedisSide extends MigrationSide {
  readonly keyChecks: () => Promise<ReadonlyMap<string, string>>;
  readonly addKeyCheck: (keyId: string, sealed: string, now: number) => Promise<void>;
  readonly warning: string | null;
  close(): Promise<void>;
}

export interface BackupDeps {
  readonly loaded: LoadedConfig;
  readonly env?: NodeJS.ProcessEnv;
  /** Opens the config's Redis (only called when the store is Redis). */
  readonly openRedis: () => Promise<RedisSide>;
  readonly out: (line: string) => void;
}

export const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

export function sqliteFileOf(loaded: LoadedConfig): string {
  return resolve(dirname(loaded.file), loaded.config.store.sqlite);
}

export function isRedis(loaded: LoadedConfig): boolean {
  return loaded.config.store.kind === 'redis' && loaded.config.store.redis !== undefined;
}

export function configuredKeys(loaded: LoadedConfig, env: NodeJS.ProcessEnv): { text: string; keys: EncryptionKeys; source: string } {
  const ref = loaded.config.factors.encryption_keys;
  const text = resolveSecret(ref, loaded.file, env);
  return { text, keys: parseEncryptionKeys(text), source: `factors.encryption_keys (${secretSource(ref, loaded.file)})` };
}

export function sqliteSide(store: SqliteDurableStore, name: string): MigrationSide {
  return {
    name,
    durable: store,
    history: new SqliteRiskHistory(store),
    remembered: new SqliteRememberedBrowsers(store),
    passkeys: new SqlitePasskeyStore(store),
    grace: new SqliteGraceStore(store),
  };
}

export async function countRecords(side: MigrationSide, now: number): Promise<MigrationCounts> {
  const counts: MigrationCounts = { enrollments: 0, recoveryCodes: 0, usedRecoveryCodes: 0, usedTotpSteps: 0, knownDevices: 0, logins: 0, rememberedBrowsers: 0 };
  for await (const records of side.durable.exportRecords(now)) {
    if (records.enrollment !== null) counts.enrollments += 1;
    counts.recoveryCodes += records.recoveryCodes.length;
    counts.usedRecoveryCodes += records.recoveryCodes.filter((c) => c.usedAt !== null).length;
    counts.usedTotpSteps += records.usedSteps.length;
  }
  for await (const records of side.history.exportRecords(now)) {
    counts.knownDevices += records.devices.length;
    counts.logins += records.logins.length;
  }
  if (side.remembered) for await (const records of side.remembered.exportRecords(now)) counts.rememberedBrowsers += records.browsers.length;
  for await (const records of side.passkeys?.exportRecords(now) ?? []) counts.passkeys = (counts.passkeys ?? 0) + records.passkeys.length;
  if (side.grace) for await (const _ of side.grace.exportRecords(now)) counts.twoFactorGrace = (counts.twoFactorGrace ?? 0) + 1;
  return counts;
}

/**
 * Opens a scratch copy of a backup's SQLite file (opening writes WAL files and key-check records,
 * which must not touch the backup itself), runs `fn`, and removes the copy.
 */
export async function withScratchCopy<T>(file: string, near: string, fn: (store: SqliteDurableStore, path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(near, '.spg-restore-'));
  const path = join(dir, DB);
  copyFileSync(file, path);
  const store = SqliteDurableStore.open(path, { clock: systemClock, create: false });
  try {
    return await fn(store, path);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Checks that `keys` open what the SQLite file holds; KeyCheckError otherwise (names `source`). */
export async function proveKeys(store: SqliteDurableStore, keys: EncryptionKeys, source: string): Promise<void> {
  await verifyEncryptionKeys(store, keys, new SecretBox(keys, cryptoRandom), { clock: systemClock, source });
}

export async function runBackup(to: string, deps: BackupDeps): Promise<number> {
  const { loaded, out } = deps;
  const env = deps.env ?? process.env;
  const dir = resolve(to);
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
    throw new BackupError(`${dir} exists and is not an empty folder: a backup never overwrites another; name a new folder`);
  }
  const keys = configuredKeys(loaded, env);
  const now = Date.now();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const dbFile = join(dir, DB);
  let source: string;
  let exported: MigrationCounts | undefined;
  let counts: MigrationCounts;
  try {
    if (isRedis(loaded)) {
      const redis = await deps.openRedis();
      source = redis.name;
      try {
        const target = SqliteDurableStore.open(dbFile, { clock: systemClock, create: true });
        try {
          exported = (await migrateRecords(redis, sqliteSide(target, `backup ${dbFile}`), { now })).counts;
          // The key-check records travel too, so a restored Redis proves its keys like the original.
          for (const [id, sealed] of await redis.keyChecks()) await target.addKeyCheck(id, sealed, now);
        } finally {
          await target.close();
        }
      } finally {
        await redis.close();
      }
    } else {
      const file = sqliteFileOf(loaded);
      if (!existsSync(file) || statSync(file).size === 0) throw new BackupError(`no SQLite store at ${file} (store.sqlite in ${loaded.file}): nothing to back up`);
      source = `embedded (SQLite ${file})`;
      // SQLite's online backup API: a consistent copy (WAL included) while the service keeps running.
      const db = new Database(file, { fileMustExist: true });
      try {
        db.pragma('busy_timeout = 5000');
        await db.backup(dbFile);
      } finally {
        db.close();
      }
      // The copy carries WAL mode in its header; make it one self-contained file.
      const copy = new Database(dbFile);
      copy.pragma('journal_mode = DELETE');
      copy.close();
    }
    chmodSync(dbFile, 0o600);
    // Proven before reported: the copy opens, passes quick_check, and the keys open its secrets.
    counts = await withScratchCopy(dbFile, dir, async (store) => {
      await proveKeys(store, keys.keys, keys.source);
      return exported ?? (await countRecords(sqliteSide(store, 'backup'), now));
    });
    writeFileSync(join(dir, KEYS), `${keys.text.trim()}\n`, { mode: 0o600 });
  } catch (error) {
    // A half-made backup must not be mistaken for one.
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    created_at: new Date(now).toISOString(),
    source,
    key_ids: keys.keys.keyIds,
    counts,
    sha256: { [DB]: sha256(dbFile), [KEYS]: sha256(join(dir, KEYS)) },
  };
  writeFileSync(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  out(`store backup: ${source} → ${dir}\n`);
  out(`backed up (checked: quick_check ok, the keys open it):\n${formatCounts(counts)}`);
  out(`${dir} holds the encryption keys (${KEYS}): keep it as secret as the keys themselves\n`);
  return 0;
}


export function formatCounts(c: MigrationCounts): string {
  const rows: Array<[string, string]> = [
    ['enrollments', String(c.enrollments)],
    ['recovery codes', `${c.recoveryCodes} (${c.usedRecoveryCodes} used)`],
    ['used TOTP steps', String(c.usedTotpSteps)],
    ['known devices', String(c.knownDevices)],
    ['remembered browsers', String(c.rememberedBrowsers)],
    ['logins', String(c.logins)],
    ...(c.passkeys !== undefined ? [['passkeys', String(c.passkeys)] as [string, string]] : []),
    ...(c.twoFactorGrace !== undefined ? [['2FA grace periods', String(c.twoFactorGrace)] as [string, string]] : []),
  ];
  return rows.map(([label, value]) => `  ${label.padEnd(16)} ${value}\n`).join('');
}
