import { dirname, resolve } from 'node:path';
import { resolveSecret, type LoadedConfig } from '../config/load.ts';
import type { Logger } from '../observability/logger.ts';
import { MemoryRiskHistory, type RiskHistoryStore } from '../risk/history.ts';
import { SqliteRiskHistory } from '../risk/sqlite-history.ts';
import type { DurableStore } from '../store/durable.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import { MemoryStore } from '../store/memory.ts';
import { RedisStore } from '../store/redis.ts';
import { RedisEvents, type StoreEvents } from '../store/events.ts';
import { SqliteDurableStore } from '../store/sqlite.ts';
import type { Clock } from './providers.ts';

/**
 * Opens the state of one deployment, as the config says (DESIGN §4): `embedded` keeps ephemeral
 * state in memory and durable records in SQLite; `redis` keeps everything in one Redis that every
 * replica shares. The service (`startGuard`) and the break-glass admin CLI open stores the same way,
 * so both always look at the same records.
 */
export interface Stores {
  readonly ephemeral: EphemeralStore;
  readonly durable: DurableStore;
  readonly riskHistory: RiskHistoryStore;
  /** Messages between replicas (Redis only: one process needs none). */
  readonly events?: StoreEvents;
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
}

export async function openStores(loaded: LoadedConfig, options: OpenStoresOptions): Promise<Stores> {
  const { config } = loaded;
  const ephemeral = options.ephemeral ?? (await openEphemeral(loaded, options));
  const events = ephemeral instanceof RedisStore && loaded.config.store.redis ? new RedisEvents(ephemeral.connection(), loaded.config.store.redis.prefix) : undefined;
  const durable =
    options.durable ?? SqliteDurableStore.open(resolve(dirname(loaded.file), config.store.sqlite), { clock: options.clock });
  const riskHistory = durable instanceof SqliteDurableStore ? new SqliteRiskHistory(durable) : new MemoryRiskHistory();
  return {
    ephemeral,
    durable,
    riskHistory,
    ...(events ? { events } : {}),
    close: async () => {
      await events?.close();
      await Promise.allSettled([options.ephemeral ? undefined : ephemeral.close(), durable.close()]);
    },
  };
}

async function openEphemeral(loaded: LoadedConfig, options: OpenStoresOptions): Promise<EphemeralStore> {
  const { store } = loaded.config;
  if (store.kind === 'embedded' || store.redis === undefined) return new MemoryStore(options.clock);
  const redis = store.redis;
  const url = typeof redis.url === 'string' ? redis.url : resolveSecret(redis.url as { env: string } | { file: string }, loaded.file, options.env);
  return RedisStore.connect(url, {
    prefix: redis.prefix,
    connectTimeoutMs: redis.connect_timeout,
    commandTimeoutMs: redis.command_timeout,
    onError: throttled((error) => options.logger.warn({ err: error }, 'redis connection error (reconnecting)')),
  });
}

/** While Redis is away ioredis reports every reconnection attempt; one line per 30 s is enough. */
function throttled(report: (error: Error) => void, everyMs = 30_000): (error: Error) => void {
  let last = -Infinity;
  return (error) => {
    const now = Date.now();
    if (now - last < everyMs) return;
    last = now;
    report(error);
  };
}
