import { dirname, resolve } from 'node:path';
import type { LoadedConfig } from '../config/load.ts';
import type { Logger } from '../observability/logger.ts';
import { MemoryRiskHistory, type RiskHistoryStore } from '../risk/history.ts';
import { SqliteRiskHistory } from '../risk/sqlite-history.ts';
import type { DurableStore } from '../store/durable.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import { MemoryStore } from '../store/memory.ts';
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
  /** Closes the durable store and what this call opened (a given ephemeral store stays open). */
  close(): Promise<void>;
}

export interface OpenStoresOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Given stores win over the config (tests). */
  readonly ephemeral?: EphemeralStore;
  readonly durable?: DurableStore;
}

export async function openStores(loaded: LoadedConfig, options: OpenStoresOptions): Promise<Stores> {
  const { config } = loaded;
  const ephemeral = options.ephemeral ?? new MemoryStore(options.clock);
  const durable =
    options.durable ?? SqliteDurableStore.open(resolve(dirname(loaded.file), config.store.sqlite), { clock: options.clock });
  const riskHistory = durable instanceof SqliteDurableStore ? new SqliteRiskHistory(durable) : new MemoryRiskHistory();
  return {
    ephemeral,
    durable,
    riskHistory,
    close: async () => {
      await Promise.allSettled([options.ephemeral ? undefined : ephemeral.close(), durable.close()]);
    },
  };
}
