import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { type LoadedConfig } from '../config/load.ts';
import { KeyCheckError } from '../factors/key-check.ts';
import { parseEncryptionKeys } from '../factors/secret-box.ts';
import { migrateRecords, type MigrationCounts } from './store-migrate.ts';
import { SqliteDurableStore } from '../store/sqlite.ts';
import { BACKUP_FORMAT, BackupError, configuredKeys, countRecords, DB, formatCounts, isRedis, KEYS, MANIFEST, proveKeys, sha256, sqliteFileOf, sqliteSide, withScratchCopy, type BackupDeps, type BackupManifest } from './store-backup.ts';

/* `store restore`: a backup made by `store backup` put back in place, checked before anything is replaced. */

function readManifest(dir: string): BackupManifest {
  const path = join(dir, MANIFEST);
  let manifest: Partial<BackupManifest>;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as Partial<BackupManifest>;
  } catch (error) {
    throw new BackupError(`${path}: not a readable backup manifest (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (manifest.format !== BACKUP_FORMAT) throw new BackupError(`${path}: unknown backup format ${JSON.stringify(manifest.format)} (expected ${BACKUP_FORMAT})`);
  for (const name of [DB, KEYS]) {
    const file = join(dir, name);
    if (!existsSync(file)) throw new BackupError(`${file} is missing: the backup is incomplete`);
    if (manifest.sha256?.[name] !== sha256(file)) throw new BackupError(`${file} does not match its checksum in ${MANIFEST}: the backup was altered or damaged`);
  }
  return manifest as BackupManifest;
}

/**
 * The keys restore will run with: the configured ones when they can be read (they must open the
 * backup), else the backup's, written where a missing key file belongs. Never overwrites a key.
 */
async function keysForRestore(dir: string, loaded: LoadedConfig, env: NodeJS.ProcessEnv, store: SqliteDurableStore): Promise<{ note: string; write?: { path: string; text: string } }> {
  const ref = loaded.config.factors.encryption_keys;
  const backupText = readFileSync(join(dir, KEYS), 'utf8');
  if ('file' in ref) {
    const path = resolve(dirname(loaded.file), ref.file);
    if (!existsSync(path)) {
      await proveKeys(store, parseEncryptionKeys(backupText), `${join(dir, KEYS)}`);
      return { note: `encryption keys: ${path} was missing; the backup's keys are written there`, write: { path, text: backupText } };
    }
  }
  let configured: ReturnType<typeof configuredKeys>;
  try {
    configured = configuredKeys(loaded, env);
  } catch (error) {
    const where = 'env' in ref ? `set ${ref.env} to the content of ${join(dir, KEYS)}` : `put ${join(dir, KEYS)} in its place`;
    throw new BackupError(`the configured encryption keys cannot be read (${(error as Error).message}): ${where}, then run restore again`);
  }
  try {
    await proveKeys(store, configured.keys, configured.source);
  } catch (error) {
    if (!(error instanceof KeyCheckError)) throw error;
    const where = 'env' in ref ? `set ${ref.env} to the content of ${join(dir, KEYS)}` : `put ${join(dir, KEYS)} at ${resolve(dirname(loaded.file), ref.file)}`;
    throw new BackupError(`the configured encryption keys do not open this backup (${error.message}); nothing was restored. Restore the keys of the backup (${where}), then run restore again`);
  }
  return { note: `encryption keys: the configured keys (${configured.source}) open the backup` };
}

export async function runRestore(from: string, options: { readonly force: boolean }, deps: BackupDeps): Promise<number> {
  const { loaded, out } = deps;
  const env = deps.env ?? process.env;
  const dir = resolve(from);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new BackupError(`${dir} is not a backup folder`);
  const manifest = readManifest(dir);
  const now = Date.now();
  const redis = isRedis(loaded);
  const targetFile = sqliteFileOf(loaded);
  const scratchNear = redis ? tmpdir() : dirname(targetFile);
  if (!redis) mkdirSync(scratchNear, { recursive: true });

  return withScratchCopy(join(dir, DB), scratchNear, async (store) => {
    const keys = await keysForRestore(dir, loaded, env, store);
    let target: string;
    let counts: MigrationCounts;
    if (redis) {
      const side = await deps.openRedis();
      try {
        if (side.warning !== null) out(`warning: ${side.warning}\n`);
        counts = (await migrateRecords(sqliteSide(store, `backup ${dir}`), side, { now, force: options.force })).counts;
        for (const [id, sealed] of await store.keyChecks()) await side.addKeyCheck(id, sealed, now);
        target = side.name;
      } finally {
        await side.close();
      }
    } else {
      const present = existsSync(targetFile) && statSync(targetFile).size > 0;
      if (present && !options.force) {
        throw new BackupError(`${targetFile} exists: nothing was restored. Stop every process using it, then run again with --force (the current file is kept aside as ${targetFile}.before-restore-…)`);
      }
      counts = await countRecords(sqliteSide(store, 'backup'), now);
      const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
      for (const suffix of ['', '-wal', '-shm']) {
        if (existsSync(targetFile + suffix)) renameSync(targetFile + suffix, `${targetFile}.before-restore-${stamp}${suffix}`);
      }
      // Same folder, so the rename is atomic: the store is the old file or the restored one.
      // The backup's own file (checked above on a scratch copy), not the scratch copy: that one has been opened and written.
      copyFileSync(join(dir, DB), `${targetFile}.restoring`);
      chmodSync(`${targetFile}.restoring`, 0o600);
      renameSync(`${targetFile}.restoring`, targetFile);
      target = `embedded (SQLite ${targetFile})`;
    }
    if (keys.write) {
      mkdirSync(dirname(keys.write.path), { recursive: true, mode: 0o700 });
      writeFileSync(keys.write.path, keys.write.text, { mode: 0o600, flag: 'wx' });
    }
    out(`store restore: backup of ${manifest.created_at} (${manifest.source}) → ${target}\n`);
    out(`restored:\n${formatCounts(counts)}`);
    out(`${keys.note}\n`);
    return 0;
  });
}
