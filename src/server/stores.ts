import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { LoadedConfig } from '../config/load.ts';
import type { Logger } from '../observability/logger.ts';
import { MemoryRiskHistory, type RiskHistoryStore } from '../risk/history.ts';
import { RedisRiskHistory } from '../risk/redis-history.ts';
import { SqliteRiskHistory } from '../risk/sqlite-history.ts';
import type { DurableStore } from '../store/durable.ts';
import { MemoryPasskeyStore, type PasskeyStore } from '../factors/passkey/store.ts';
import { RedisPasskeyStore } from '../factors/passkey/redis-store.ts';
import { SqlitePasskeyStore } from '../factors/passkey/sqlite-store.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import { RedisEvents, type StoreEvents } from '../store/events.ts';
import { MemoryStore } from '../store/memory.ts';
import { RedisStore } from '../store/redis.ts';
import { closeRedisClient, openRedisClient, type RedisClient } from '../store/redis-connection.ts';
import { RedisDurableStore } from '../store/redis-durable.ts';
import { SqliteDurableStore } from '../store/sqlite.ts';
import { MemoryRememberedBrowsers, type RememberedBrowserStore } from '../store/remembered-browsers.ts';
import { SqliteRememberedBrowsers } from '../store/sqlite-remembered-browsers.ts';
import { RedisRememberedBrowsers } from '../store/redis-remembered-browsers.ts';
import { isNewStore, recordStore } from '../store/store-ledger.ts';
import { MemoryGraceStore, type GraceStore } from '../store/grace.ts';
import { RedisGraceStore } from '../store/redis-grace.ts';
import { SqliteGraceStore } from '../store/sqlite-grace.ts';
import type { Clock } from '../core/clock.ts';

/**
 * Opens the state of one deployment, as the config says (DESIGN §4): `embedded` keeps ephemeral
 * state in memory and durable records in SQLite; `redis` keeps everything in one Redis that every
 * replica shares (one connection for the stores, one more for the replicas' events). The service
 * (`startGuard`) and the break-glass admin CLI open stores the same way, so both always look at the
 * same records.
 */
export interface Stores {
  readonly kind: 'embedded' | 'redis';
  readonly ephemeral: EphemeralStore;
  readonly durable: DurableStore;
  readonly riskHistory: RiskHistoryStore;
  /** "Remember this browser" records (in the durable store's SQLite file or Redis). */
  readonly rememberedBrowsers: RememberedBrowserStore;
  /** Passkeys (WebAuthn credentials), beside the enrollments. */
  readonly passkeys: PasskeyStore;
  /** `require_2fa` grace periods (durable: beside the enrollments). */
  readonly grace: GraceStore;
  /** Messages between replicas (Redis only: one process needs none). */
  readonly events?: StoreEvents;
  /** The shared Redis connection and key prefix (for the audit's query store). */
  readonly redis?: { readonly client: RedisClient; readonly prefix: string };
  /** Closes the durable store and what this call opened (a given ephemeral store stays open). */
  close(): Promise<void>;
}

export interface OpenStoresOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Given stores win over the config (tests). */
  readonly ephemeral?: EphemeralStore;
  readonly durable?: DurableStore;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * A new deployment: a missing or empty SQLite file may be created. Without it such a file is
   * refused (SqliteStoreError), because re-creating it would silently turn every user's 2FA off.
   */
  readonly initStore?: boolean;
  /**
   * The service starting (not a CLI looking at the records): a store that fresh encryption keys
   * have never had may be created (store-ledger.ts).
   */
  readonly serving?: boolean;
}

export async function openStores(loaded: LoadedConfig, options: OpenStoresOptions): Promise<Stores> {
  const { store } = loaded.config;
  if (store.kind === 'redis' && store.redis !== undefined) return openRedisStores(loaded, store.redis, options);
  const ephemeral = options.ephemeral ?? new MemoryStore(options.clock);
  const durable = options.durable ?? openSqlite(loaded, store.sqlite, options);
  // The risk history lives in the SQLite file next to the enrollments (in memory when a test gives
  // another durable store).
  const riskHistory = durable instanceof SqliteDurableStore ? new SqliteRiskHistory(durable) : new MemoryRiskHistory();
  const rememberedBrowsers = durable instanceof SqliteDurableStore ? new SqliteRememberedBrowsers(durable) : new MemoryRememberedBrowsers();
  const passkeys = durable instanceof SqliteDurableStore ? new SqlitePasskeyStore(durable) : new MemoryPasskeyStore();
  const grace = durable instanceof SqliteDurableStore ? new SqliteGraceStore(durable) : new MemoryGraceStore();
  return {
    kind: 'embedded',
    ephemeral,
    durable,
    riskHistory,
    rememberedBrowsers,
    passkeys,
    grace,
    close: async () => {
      await Promise.allSettled([options.ephemeral ? undefined : ephemeral.close(), durable.close()]);
    },
  };
}

/**
 * The SQLite store, created when missing only for a new deployment: `--init-store`, or a store the
 * ledger of freshly made encryption keys has never seen (store-ledger.ts). Every store opened is
 * recorded in that ledger, so once it exists, losing it is refused.
 */
function openSqlite(loaded: LoadedConfig, sqlite: string, options: OpenStoresOptions): SqliteDurableStore {
  const file = resolve(dirname(loaded.file), sqlite);
  const keysRef = loaded.config.factors.encryption_keys;
  const keysFile = 'file' in keysRef ? resolve(dirname(loaded.file), keysRef.file) : null;
  const exists = existsSync(file) && statSync(file).size > 0;
  const firstStart = options.serving === true && !exists && keysFile !== null && isNewStore(keysFile, file);
  const durable = SqliteDurableStore.open(file, { clock: options.clock, create: options.initStore === true || firstStart });
  if (firstStart) options.logger.info({ store: file }, 'a new store: the first start with encryption keys made by secrets init');
  if (keysFile !== null) {
    try {
      recordStore(keysFile, file);
    } catch (error) {
      // A read-only key folder: the store is open and works; only a later first start would need --init-store.
      options.logger.warn({ store: file, err: (error as Error).message }, 'could not record the store beside its encryption keys');
    }
  }
  return durable;
}

async function openRedisStores(
  loaded: LoadedConfig,
  settings: NonNullable<LoadedConfig['config']['store']['redis']>,
  options: OpenStoresOptions,
): Promise<Stores> {
  const { logger } = options;
  const client = await openRedisClient(settings, {
    configFile: loaded.file,
    ...(options.env ? { env: options.env } : {}),
    onError: throttled((error) => logger.warn({ err: error }, 'redis connection error (reconnecting)')),
  });
  const prefix = settings.prefix;
  let durable: DurableStore;
  try {
    durable =
      options.durable ??
      (await RedisDurableStore.open(client, {
        prefix,
        clock: options.clock,
        closeClient: false,
        onPersistenceWarning: (message) => logger.warn({ store: 'redis' }, message),
      }));
  } catch (error) {
    await closeRedisClient(client);
    throw error;
  }
  const ephemeral = options.ephemeral ?? new RedisStore(client, { prefix });
  const riskHistory = new RedisRiskHistory(client, { prefix });
  const rememberedBrowsers = new RedisRememberedBrowsers(client, { prefix });
  const passkeys = new RedisPasskeyStore(client, { prefix });
  const grace = new RedisGraceStore(client, { prefix });
  const events = new RedisEvents(client, prefix);
  return {
    kind: 'redis',
    ephemeral,
    durable,
    riskHistory,
    rememberedBrowsers,
    passkeys,
    grace,
    events,
    redis: { client, prefix },
    close: async () => {
      await events.close();
      await Promise.allSettled([durable.close()]);
      // The stores share this one connection; it is closed once, here.
      await closeRedisClient(client);
    },
  };
}

/** While Redis is away ioredis reports every reconnection attempt; one line per 30 s is enough. */
function throttled(report: (error: Error) => void, everyMs = 30_000): (error: Error) => void {
  let last = -Infinity;
  return (error) => {
    // Real time on purpose: this paces log lines of the machine, not a fact of the domain.
    const now = Date.now();
    if (now - last < everyMs) return;
    last = now;
    report(error);
  };
}
