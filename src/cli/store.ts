import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, type LoadedConfig } from '../config/load.ts';
import { systemClock } from '../core/clock.ts';
import { RedisRiskHistory } from '../risk/redis-history.ts';
import { SqliteRiskHistory } from '../risk/sqlite-history.ts';
import { SqliteRememberedBrowsers } from '../store/sqlite-remembered-browsers.ts';
import { RedisRememberedBrowsers } from '../store/redis-remembered-browsers.ts';
import { SqlitePasskeyStore } from '../factors/passkey/sqlite-store.ts';
import { RedisPasskeyStore } from '../factors/passkey/redis-store.ts';
import { SqliteGraceStore } from '../store/sqlite-grace.ts';
import { RedisGraceStore } from '../store/redis-grace.ts';
import { StoreUnavailableError } from '../store/ephemeral.ts';
import { migrateRecords, TargetNotEmptyError, type MigrationSide } from './store-migrate.ts';
import { closeRedisClient, openRedisClient } from '../store/redis-connection.ts';
import { RedisDurableStore } from '../store/redis-durable.ts';
import { SqliteDurableStore } from '../store/sqlite.ts';
import { KeyCheckError } from '../factors/key-check.ts';
import { configPathFrom, UsageError } from './policy.ts';
import { BackupError, formatCounts, runBackup, type RedisSide } from './store-backup.ts';
import { runRestore } from './store-restore.ts';

/**
 * `smartpush-guard store migrate --from embedded|redis --to redis|embedded [--config FILE]
 * [--force] [--dry-run]`: moves the durable records between the SQLite file (`store.sqlite`) and
 * Redis (`store.redis`, or GUARD_REDIS_URL) of one config, e.g. when going from one replica to
 * several. Run it while the service is stopped (or read-only): records written during the copy may
 * be missed.
 */

type Backend = 'embedded' | 'redis';
const BACKENDS: readonly Backend[] = ['embedded', 'redis'];

interface OpenSide extends MigrationSide {
  /** Shown before copying (e.g. Redis persistence that would lose the copied records). */
  readonly warning: string | null;
  close(): Promise<void>;
}

export async function runStoreCommand(args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'backup' || sub === 'restore') return runBackupCommand(sub, rest);
  if (sub !== 'migrate') throw new UsageError(sub ? `unknown store command "${sub}"` : 'store needs a command: migrate, backup or restore');
  const { values } = parseArgs({
    args: [...rest],
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      config: { type: 'string', short: 'c' },
      force: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
    },
  });
  const from = backend(values.from, '--from');
  const to = backend(values.to, '--to');
  if (from === to) throw new UsageError(`--from and --to are both ${from}: migrate copies between embedded (SQLite) and redis`);
  const loaded = loadConfig(configPathFrom(values.config));
  const dryRun = values['dry-run'] === true;

  let source: OpenSide | undefined;
  let target: OpenSide | undefined;
  try {
    source = await open(from, loaded, 'source');
    target = await open(to, loaded, 'target');
    if (target.warning !== null) process.stderr.write(`warning: ${target.warning}\n`);
    const report = await migrateRecords(source, target, { now: Date.now(), force: values.force === true, dryRun });
    const heading = dryRun ? 'dry run, nothing written; would copy' : 'copied';
    process.stdout.write(`store migrate: ${source.name} → ${target.name}\n${heading}:\n${formatCounts(report.counts)}`);
    if (dryRun && report.targetHadRecords) {
      process.stdout.write(`note: the target already holds records; copying needs --force (the copied accounts replace the target's)\n`);
    }
    return 0;
  } catch (error) {
    if (error instanceof TargetNotEmptyError || error instanceof StoreUnavailableError || error instanceof MissingSourceError) {
      process.stderr.write(`smartpush-guard: store migrate: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    await source?.close();
    await target?.close();
  }
}

/** `store backup --to DIR` / `store restore --from DIR [--force]` (store-backup.ts), on the config's store. */
async function runBackupCommand(sub: 'backup' | 'restore', rest: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...rest],
    options: {
      to: { type: 'string' },
      from: { type: 'string' },
      config: { type: 'string', short: 'c' },
      force: { type: 'boolean' },
    },
  });
  const loaded = loadConfig(configPathFrom(values.config));
  const openRedis = async (): Promise<RedisSide> => {
    const side = await open('redis', loaded, sub === 'backup' ? 'source' : 'target');
    const durable = side.durable as RedisDurableStore;
    return {
      ...side,
      keyChecks: () => durable.keyChecks(),
      addKeyCheck: (id, sealed) => durable.addKeyCheck(id, sealed),
    };
  };
  const deps = { loaded, openRedis, out: (text: string) => process.stdout.write(text) };
  try {
    if (sub === 'backup') {
      if (values.to === undefined) throw new UsageError('store backup needs --to DIR (a new or empty folder)');
      if (values.from !== undefined || values.force !== undefined) throw new UsageError('store backup takes --to DIR [--config FILE]');
      return await runBackup(values.to, deps);
    }
    if (values.from === undefined) throw new UsageError('store restore needs --from DIR (a folder made by store backup)');
    if (values.to !== undefined) throw new UsageError('store restore takes --from DIR [--config FILE] [--force]');
    return await runRestore(values.from, { force: values.force === true }, deps);
  } catch (error) {
    if (error instanceof BackupError || error instanceof TargetNotEmptyError || error instanceof StoreUnavailableError || error instanceof KeyCheckError) {
      process.stderr.write(`smartpush-guard: store ${sub}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

class MissingSourceError extends Error {}

function backend(value: string | undefined, flag: string): Backend {
  if (value === undefined) throw new UsageError(`store migrate needs ${flag} embedded|redis`);
  if (!BACKENDS.includes(value as Backend)) throw new UsageError(`${flag} must be embedded or redis (got "${value}")`);
  return value as Backend;
}

async function open(kind: Backend, loaded: LoadedConfig, role: 'source' | 'target'): Promise<OpenSide> {
  if (kind === 'embedded') {
    const file = resolve(dirname(loaded.file), loaded.config.store.sqlite);
    // Opening creates the file: a missing source is a mistyped path, not an empty store.
    if (role === 'source' && !existsSync(file)) throw new MissingSourceError(`no SQLite file at ${file} (store.sqlite in ${loaded.file})`);
    const durable = SqliteDurableStore.open(file, { clock: systemClock });
    return {
      name: `embedded (SQLite ${file})`,
      durable,
      history: new SqliteRiskHistory(durable),
      remembered: new SqliteRememberedBrowsers(durable),
      passkeys: new SqlitePasskeyStore(durable),
      grace: new SqliteGraceStore(durable),
      warning: null,
      close: () => durable.close(),
    };
  }
  const settings = loaded.config.store.redis;
  if (settings === undefined) {
    throw new UsageError(`${loaded.file} has no store.redis section and GUARD_REDIS_URL is not set: say where Redis is`);
  }
  const client = await openRedisClient(settings, { configFile: loaded.file });
  try {
    const durable = await RedisDurableStore.open(client, { clock: systemClock, prefix: settings.prefix, closeClient: false });
    const history = new RedisRiskHistory(client, { prefix: settings.prefix });
    const remembered = new RedisRememberedBrowsers(client, { prefix: settings.prefix });
    const passkeys = new RedisPasskeyStore(client, { prefix: settings.prefix });
    return {
      passkeys,
      name: `redis (${settings.sentinel ? 'sentinel' : settings.cluster ? 'cluster' : 'standalone'}, prefix ${settings.prefix})`,
      durable,
      history,
      remembered,
      grace: new RedisGraceStore(client, { prefix: settings.prefix }),
      warning: durable.persistenceWarning(),
      close: () => closeRedisClient(client),
    };
  } catch (error) {
    await closeRedisClient(client);
    throw error;
  }
}

