import { byText } from './records.ts';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { lazyModule } from '../core/lazy-module.ts';
import { ConfigError, resolveSecret } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { StoreUnavailableError } from './ephemeral.ts';
import { describeSource, hostPort, parseRedisUrl, tlsOptions } from './redis-url.ts';

/**
 * One connection to Redis built from the `store.redis` config section (standalone URL, Sentinel or
 * Cluster; ACL user, TLS), shared by the Redis-backed stores. Two halves:
 *
 * - `redisConnectionPlan` turns the settings into ioredis options (pure apart from reading secrets
 *   and PEM files), so every mapping is checked without a server;
 * - `openRedisClient` builds the client from that plan and resolves once it is ready.
 *
 * The safety options are the same in every mode: no offline queue (a call while Redis is away fails
 * at once, and the caller answers 503), no re-send of a command that was in flight when the
 * connection dropped (a timed-out INCRBY or consume must not be applied later), a timeout on every
 * command, one retry per request, and quick reconnection in the background.
 *
 * Error messages never contain the URL or a password: they name where the setting came from
 * (`store.redis.url`, `environment variable GUARD_REDIS_URL`, a secret file's path).
 */

export type RedisSettings = NonNullable<Config['store']['redis']>;
export type RedisClient = Redis | Cluster;

/** ioredis, loaded on first use: an embedded-store deployment never pays for it. */
export const ioredis = lazyModule<typeof import('ioredis')>('ioredis');

export function isCluster(client: unknown): client is Cluster {
  return client instanceof ioredis().Cluster;
}
type Env = Readonly<Record<string, string | undefined>>;

interface OpenRedisOptions {
  /** The config file; secret files and TLS PEM files are relative to its folder. */
  readonly configFile: string;
  /** Where `{env: …}` secret references are read (default: process.env). */
  readonly env?: Env;
  /**
   * Receives the client's connection errors (refused, reset, wrong password…), e.g. for the log.
   * They are reported while ioredis reconnects in the background; calls made meanwhile reject.
   */
  readonly onError?: (error: Error) => void;
}

export type RedisConnectionPlan =
  | { readonly mode: 'standalone'; readonly options: RedisOptions }
  | { readonly mode: 'sentinel'; readonly options: RedisOptions }
  | { readonly mode: 'cluster'; readonly nodes: ReadonlyArray<{ host: string; port: number }>; readonly options: ClusterOptions };

/** Reconnect quickly after an outage; the calls that fail meanwhile are the callers' 503s. */
export const quickRetry = (attempt: number): number => Math.min(attempt * 50, 1_000);

/** Settings the schema's defaults would give, for callers that build them by hand. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 1_000;

/**
 * The ioredis options for `settings`. Throws ConfigError for settings that cannot be used (an
 * invalid URL, a password both in the URL and in `password`, a PEM file that cannot be read…).
 */
export function redisConnectionPlan(settings: RedisSettings, options: Pick<OpenRedisOptions, 'configFile' | 'env'>): RedisConnectionPlan {
  const env = options.env ?? process.env;
  const secret = (ref: { env: string } | { file: string }): string => resolveSecret(ref, options.configFile, env);
  const password = settings.password === undefined ? undefined : secret(settings.password);
  const tls = tlsOptions(settings, options.configFile);
  const perConnection: RedisOptions = {
    connectTimeout: settings.connect_timeout,
    commandTimeout: settings.command_timeout,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 1,
    ...(settings.username === undefined ? {} : { username: settings.username }),
    ...(password === undefined ? {} : { password }),
    ...(tls === undefined ? {} : { tls }),
  };

  if (settings.cluster !== undefined) {
    return {
      mode: 'cluster',
      nodes: settings.cluster.nodes.map(hostPort),
      options: {
        enableOfflineQueue: false,
        clusterRetryStrategy: quickRetry,
        slotsRefreshTimeout: settings.connect_timeout,
        redisOptions: perConnection,
      },
    };
  }

  const safety: RedisOptions = {
    ...perConnection,
    lazyConnect: false,
    enableOfflineQueue: false,
    retryStrategy: quickRetry,
  };

  if (settings.sentinel !== undefined) {
    const { name, nodes, db } = settings.sentinel;
    const sentinelPassword = settings.sentinel.password === undefined ? undefined : secret(settings.sentinel.password);
    return {
      mode: 'sentinel',
      options: {
        ...safety,
        name,
        db,
        sentinels: nodes.map(hostPort),
        sentinelCommandTimeout: settings.command_timeout,
        sentinelRetryStrategy: quickRetry,
        ...(sentinelPassword === undefined ? {} : { sentinelPassword }),
        // The sentinels are reached the same way as the master: TLS for one means TLS for both.
        ...(tls === undefined ? {} : { enableTLSForSentinelMode: true, sentinelTLS: tls }),
      },
    };
  }

  if (settings.url === undefined) throw new ConfigError(['store.redis: give exactly one of url, sentinel or cluster']);
  const fromSecret = typeof settings.url !== 'string';
  const source = describeSource(settings.url, options.configFile);
  const text = typeof settings.url === 'string' ? settings.url : secret(settings.url);
  const url = parseRedisUrl(text, source, fromSecret);
  if (url.username !== undefined && settings.username !== undefined) {
    throw new ConfigError([`${source}: the URL names a user and store.redis.username is set too; give it once`]);
  }
  if (url.password !== undefined && password !== undefined) {
    throw new ConfigError([`${source}: the URL carries a password and store.redis.password is set too; give it once`]);
  }
  if (url.tls && tls === undefined) {
    safety.tls = {}; // rediss:// without a tls section: the system's CAs, the URL's host name
  } else if (!url.tls && tls !== undefined) {
    throw new ConfigError([`${source}: store.redis.tls is set but the URL is redis:// (plain); use rediss://`]);
  }
  return {
    mode: 'standalone',
    options: {
      ...safety,
      host: url.host,
      port: url.port,
      db: url.db,
      ...(url.username === undefined ? {} : { username: url.username }),
      ...(url.password === undefined ? {} : { password: url.password }),
    },
  };
}

/**
 * Connects as `settings` say and resolves once Redis is ready, or rejects with
 * StoreUnavailableError when it is not within `connect_timeout` (nothing is left running then),
 * or with ConfigError for unusable settings. Afterwards the client reconnects by itself.
 */
export async function openRedisClient(settings: RedisSettings, options: OpenRedisOptions): Promise<RedisClient> {
  const plan = redisConnectionPlan(settings, options);
  let client: RedisClient;
  try {
    client = plan.mode === 'cluster' ? new (ioredis().Cluster)([...plan.nodes], plan.options) : new (ioredis().Redis)(plan.options);
  } catch (error) {
    // ioredis validates some options synchronously; its message holds no secret.
    throw new StoreUnavailableError(`redis: invalid connection settings (${(error as Error).message})`, { cause: error });
  }
  await waitUntilReady(client, settings.connect_timeout, plan.mode, options.onError);
  return client;
}

async function waitUntilReady(client: RedisClient, timeoutMs: number, mode: string, onError: ((error: Error) => void) | undefined): Promise<void> {
  let lastError: Error | undefined;
  // Without a listener ioredis prints every reconnection error to the console.
  client.on('error', (error: Error) => {
    lastError = error;
    onError?.(error);
  });
  const why = (): string => (lastError === undefined ? '' : ` (last error: ${lastError.message})`);
  try {
    await new Promise<void>((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new StoreUnavailableError(`redis (${mode}): not ready within ${timeoutMs} ms${why()}`, { cause: lastError }));
      }, timeoutMs);
      const ready = (): void => {
        cleanup();
        resolvePromise();
      };
      const ended = (): void => {
        cleanup();
        reject(new StoreUnavailableError(`redis (${mode}): connection closed while connecting${why()}`, { cause: lastError }));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        client.off('ready', ready);
        client.off('end', ended);
      };
      client.once('ready', ready);
      client.once('end', ended);
    });
  } catch (error) {
    client.disconnect();
    throw error;
  }
}

/** The per-command timeout a client was built with (Cluster keeps it in its per-node options). */
export function commandTimeoutOf(client: RedisClient): number {
  const timeout = isCluster(client) ? client.options.redisOptions?.commandTimeout : client.options.commandTimeout;
  return timeout ?? DEFAULT_COMMAND_TIMEOUT_MS;
}

/**
 * QUIT when connected (pending replies arrive first); otherwise, or when QUIT fails, drops the
 * connection and stops reconnecting. Never throws: closing is best effort at shutdown.
 */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // fall through to disconnect
    }
  }
  client.disconnect();
}

/**
 * Runs one Redis call, turning any failure into StoreUnavailableError (the callers fail closed).
 * The message names the operation, never a key (keys hold accounts and addresses).
 */
export async function runRedis<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof StoreUnavailableError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new StoreUnavailableError(`redis ${operation} failed: ${detail}`, { cause: error });
  }
}

/** Every key matching `prefix*` (SCAN, so Redis is never blocked); on a Cluster, on every master. */
export async function* scanKeys(client: RedisClient, prefix: string): AsyncGenerator<string> {
  const match = prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`) + '*';
  const nodes = isCluster(client) ? client.nodes('master') : [client];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await runRedis('scan', () => node.scan(cursor, 'MATCH', match, 'COUNT', 500));
      cursor = next;
      yield* keys;
    } while (cursor !== '0');
  }
}

/** The accounts that have keys under `namespace` (`<namespace>{u:…}:…`), each once, sorted. */
export async function accountsUnder(client: RedisClient, namespace: string): Promise<string[]> {
  const users = new Set<string>();
  for await (const key of scanKeys(client, namespace)) {
    const user = userOfKey(key, namespace);
    if (user !== null) users.add(user);
  }
  return [...users].sort(byText);
}

/**
 * The part of a per-account key that names the account: `{u:<user, percent-encoded>}`. The braces
 * make it the key's Redis Cluster hash tag, so every key of one account lives in one slot and the
 * multi-key scripts stay valid on a Cluster; the encoding keeps braces in the user out of the tag
 * and can be reversed (for exports).
 */
export function accountTag(user: string): string {
  return `{u:${encodeURIComponent(user)}}`;
}

/** The user of a key `<namespace>{u:…}:<suffix>`, or null for a key of another shape. */
function userOfKey(key: string, namespace: string): string | null {
  if (!key.startsWith(namespace)) return null;
  const match = /^\{u:([^{}]*)\}:/.exec(key.slice(namespace.length));
  if (!match) return null;
  try {
    return decodeURIComponent(match[1] as string);
  } catch {
    return null;
  }
}
