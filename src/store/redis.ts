import { StoreUnavailableError, type EphemeralStore, type SlotResult } from './ephemeral.ts';
import {
  closeRedisClient,
  commandTimeoutOf,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  openRedisClient,
  isCluster,
  runRedis,
  type RedisClient,
} from './redis-connection.ts';
import { defineEphemeralScripts, SCRIPTS, type ScriptedRedis } from './redis-scripts.ts';

/**
 * The ephemeral store on Redis, for several replicas sharing sessions, counters and bans
 * (DESIGN §4). Same contract as MemoryStore (test/helpers/store-contract.ts), with these choices:
 *
 * - Every key is written as `prefix + key`, so deployments sharing one Redis do not see each other.
 * - TTLs are milliseconds (`PX` / `PEXPIRE`). Every write sets an expiry, so this store never leaves
 *   a key that lives forever.
 * - Read-modify-write operations (compareAndDelete, increment, decrementIfPresent, getOrSet, takeSlot) are Lua scripts,
 *   which Redis runs atomically; the conditional writes are single `SET … NX|XX PX` commands.
 * - Any failure of Redis (refused connection, timeout, error reply) is thrown as
 *   StoreUnavailableError with the original error as `cause`, so the enforcement point fails closed
 *   (503). Error messages name the operation, never the key (keys hold accounts and addresses).
 *   Invalid arguments (a non-integer increment, a TTL that is not a positive number) are
 *   programming errors and throw RangeError instead.
 * - The client may be a standalone/Sentinel `Redis` or a `Cluster` (see redis-connection.ts). Every
 *   command here names one key, so it is valid on a Cluster; only `getMany` changes there.
 * - A client made by `connect` (or `openRedisClient`) never queues commands while Redis is unreachable
 *   (`enableOfflineQueue: false`), never re-sends a command that was in flight when the connection
 *   dropped (`autoResendUnfulfilledCommands: false`: a timed-out INCRBY must not be applied later),
 *   and times out every command (`commandTimeout`), so no call hangs. A client passed to the
 *   constructor should be configured the same way; only `ping` adds its own timeout.
 */

interface RedisStoreOptions {
  /** Prepended to every key, e.g. `spg:<deployment>:`. Must not be empty. */
  readonly prefix: string;
}

interface RedisConnectOptions extends RedisStoreOptions {
  /** Time allowed to establish the connection, and for `connect` to wait until Redis is ready (default 5000). */
  readonly connectTimeoutMs?: number;
  /** Time allowed for each command before it fails (default 1000). */
  readonly commandTimeoutMs?: number;
  /**
   * Receives the client's connection errors (refused, reset, …), e.g. for the log. These are
   * reported while ioredis reconnects in the background; the calls made meanwhile reject on their own.
   */
  readonly onError?: (error: Error) => void;
}

export class RedisStore implements EphemeralStore {
  private readonly client: ScriptedRedis;
  private readonly prefix: string;

  constructor(client: RedisClient, options: RedisStoreOptions) {
    if (options.prefix === '') throw new RangeError('RedisStore needs a key prefix (e.g. "spg:<deployment>:")');
    this.prefix = options.prefix;
    this.client = defineEphemeralScripts(client);
  }

  /**
   * Connects to `url` (redis:// or rediss://, without a password: use `openRedisClient` with the
   * config's `store.redis` section for credentials, TLS, Sentinel or Cluster) and resolves once
   * Redis answers, or rejects with StoreUnavailableError when it does not within `connectTimeoutMs`
   * (nothing is left running then). After that the client reconnects by itself.
   */
  static async connect(url: string, options: RedisConnectOptions): Promise<RedisStore> {
    const client = await openRedisClient(
      {
        url,
        prefix: options.prefix,
        connect_timeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        command_timeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      },
      // A plain URL refers to no secret or PEM file, so the config file's place does not matter.
      { configFile: process.cwd(), ...(options.onError === undefined ? {} : { onError: options.onError }) },
    );
    return new RedisStore(client, options);
  }

  /** The connection, for what shares it (the replicas' event channel). */
  connection(): RedisClient {
    return this.client;
  }

  private k(key: string): string {
    return this.prefix + key;
  }

  /** Runs one Redis call, turning any failure into StoreUnavailableError. */
  private run<T>(operation: string, call: () => Promise<T>): Promise<T> {
    return runRedis(operation, call);
  }

  async get(key: string): Promise<string | null> {
    return this.run('get', () => this.client.get(this.k(key)));
  }

  async getMany(keys: readonly string[]): Promise<Array<string | null>> {
    if (keys.length === 0) return []; // MGET with no keys is an error reply
    const full = keys.map((key) => this.k(key));
    // On a Cluster the keys may live in different slots, where MGET is refused (CROSSSLOT): one GET
    // each instead, which ioredis sends to every node concurrently.
    if (isCluster(this.client)) return this.run('getMany', () => Promise.all(full.map((key) => this.client.get(key))));
    return this.run('getMany', () => this.client.mget(full));
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    const px = milliseconds(ttlMs);
    await this.run('set', () => this.client.set(this.k(key), value, 'PX', px));
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const px = milliseconds(ttlMs);
    const reply = await this.run('setIfAbsent', () => this.client.set(this.k(key), value, 'PX', px, 'NX'));
    return reply === 'OK';
  }

  async setIfPresent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const px = milliseconds(ttlMs);
    const reply = await this.run('setIfPresent', () => this.client.set(this.k(key), value, 'PX', px, 'XX'));
    return reply === 'OK';
  }

  async getOrSet(key: string, value: string, ttlMs: number): Promise<string> {
    const px = milliseconds(ttlMs);
    return this.run('getOrSet', () => this.client[SCRIPTS.getOrSet](this.k(key), value, px));
  }

  async delete(key: string): Promise<boolean> {
    return (await this.run('delete', () => this.client.del(this.k(key)))) > 0;
  }

  async compareAndDelete(key: string, expected: string): Promise<boolean> {
    const deleted = await this.run('compareAndDelete', () => this.client[SCRIPTS.compareAndDelete](this.k(key), expected));
    return deleted === 1;
  }

  async increment(key: string, by: number, ttlMs: number, expiry: 'fixed' | 'sliding' = 'fixed'): Promise<number> {
    if (!Number.isSafeInteger(by)) throw new RangeError(`increment needs an integer step, got ${by}`);
    const px = milliseconds(ttlMs);
    return this.run('increment', () => this.client[SCRIPTS.increment](this.k(key), by, px, expiry));
  }

  async decrementIfPresent(key: string): Promise<number> {
    return this.run('decrementIfPresent', () => this.client[SCRIPTS.decrementIfPresent](this.k(key)));
  }

  async takeSlot(key: string, max: number, windowMs: number): Promise<SlotResult> {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`takeSlot needs a positive integer maximum, got ${max}`);
    const px = milliseconds(windowMs);
    const [taken, value, banned] = await this.run('takeSlot', () => this.client[SCRIPTS.takeSlot](this.k(key), max, px));
    return taken === 1 ? { ok: true, count: value } : { ok: false, retryAfterMs: value, banned: banned === 1 };
  }

  /** A hash (HSET/HGETALL/HDEL); Redis removes a hash whose last field is deleted. */
  async addMember(key: string, member: string, value: string, ttlMs: number): Promise<number> {
    const px = milliseconds(ttlMs);
    return this.run('addMember', () => this.client[SCRIPTS.addMember](this.k(key), member, value, px));
  }

  async members(key: string): Promise<Record<string, string>> {
    return this.run('members', () => this.client.hgetall(this.k(key)));
  }

  async removeMember(key: string, member: string): Promise<boolean> {
    return (await this.run('removeMember', () => this.client.hdel(this.k(key), member))) > 0;
  }

  /**
   * PTTL: -2 (no such key) is null. -1 (a key without expiry) cannot come from this store, which
   * gives every key a TTL; it means something else wrote the key. It is NOT reported as null:
   * callers read "null" as "no ban / no cooldown", which would fail open. It throws
   * StoreUnavailableError instead (fail closed, and visible in the log).
   */
  async ttl(key: string): Promise<number | null> {
    const left = await this.run('ttl', () => this.client.pttl(this.k(key)));
    if (left === -2) return null;
    if (left < 0) throw new StoreUnavailableError(`redis ttl: key has no expiry (PTTL ${left}); it was not written by RedisStore`);
    return left;
  }

  /** PING, bounded by the client's command timeout even if the client was built without one. */
  async ping(): Promise<void> {
    const limitMs = commandTimeoutOf(this.client);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`PING not answered within ${limitMs} ms`)), limitMs);
    });
    try {
      await this.run('ping', () => Promise.race([this.client.ping(), timeout]));
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * QUIT when connected (pending replies arrive first); otherwise, or when QUIT fails, drops the
   * connection and stops reconnecting. Never throws: closing is best effort at shutdown.
   */
  async close(): Promise<void> {
    await closeRedisClient(this.client);
  }
}

/** A TTL as whole milliseconds for PX / PEXPIRE (which reject 0, negatives and fractions). */
function milliseconds(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`TTL must be a positive number of milliseconds, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}
