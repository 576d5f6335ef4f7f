/**
 * The risk history on Redis (DESIGN §4, several replicas): the devices an account signed in with
 * and its latest logins. Same contract as memory and SQLite (test/helpers/risk-history-contract.ts),
 * bounded per account like them; like SQLite, not bounded in accounts (forgetting an account would
 * make it look new) and without TTL (these are durable records: see src/store/redis-durable.ts for
 * the persistence Redis needs).
 *
 * Keys, under the configured prefix (`{u:…}` is the account's Cluster hash tag, so each script
 * touches one slot):
 *   history:{u:<user>}:devices       sorted set: device id → last seen
 *   history:{u:<user>}:device-first  hash: device id → first seen (kept for migrations)
 *   history:{u:<user>}:logins        list of JSON login records, newest first, capped
 *
 * Each write and its trimming is one Lua script, so no replica ever sees an account above its
 * bounds. Order: "least recently seen" is by last seen, ties by device id; "newest" is by insertion.
 * The device just remembered is never the one forgotten, even when its `now` is older than the
 * others' (replicas' clocks may disagree). Redis failures reject with StoreUnavailableError, which
 * `gatherFacts` turns into 'unknown' (fail safe).
 */
import { StoreUnavailableError } from '../store/ephemeral.ts';
import { byText, type DeviceRecord, type LoginRecord, type RecordPort, type RiskUserRecords } from '../store/records.ts';
import { accountTag, accountsUnder, closeRedisClient, runRedis, scanKeys, type RedisClient } from '../store/redis-connection.ts';
import type { RiskHistoryStore } from './history.ts';

interface RedisRiskHistoryOptions {
  /** Prepended to every key, e.g. the config's `store.redis.prefix`. Must not be empty. */
  readonly prefix: string;
  /** Devices kept per account; the least recently seen is forgotten first. Default 20. */
  readonly maxDevicesPerUser?: number;
  /** Logins kept per account; the oldest is forgotten first. Default 100. */
  readonly maxLoginsPerUser?: number;
}

const NAMESPACE = 'history:';

/** KEYS: devices, device-first. ARGV: device id, now, max devices. */
const REMEMBER_DEVICE = `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
if extra > 0 then
  local removed = 0
  for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, extra)) do
    if removed >= extra then break end
    if member ~= ARGV[1] then
      redis.call('ZREM', KEYS[1], member)
      redis.call('HDEL', KEYS[2], member)
      removed = removed + 1
    end
  end
end
return 1
`;

/** KEYS: logins. ARGV: JSON record, max logins. */
const RECORD_LOGIN = `
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return 1
`;

const SCRIPTS = { remember: 'spgHistoryRememberDevice', record: 'spgHistoryRecordLogin' } as const;

type Scripted = RedisClient & {
  [SCRIPTS.remember](devices: string, first: string, deviceId: string, now: string, max: string): Promise<number>;
  [SCRIPTS.record](logins: string, json: string, max: string): Promise<number>;
};

export class RedisRiskHistory implements RiskHistoryStore, RecordPort<RiskUserRecords> {
  private readonly client: Scripted;
  private readonly prefix: string;
  private readonly maxDevices: number;
  private readonly maxLogins: number;

  /** On a connected client (see `openRedisClient`), usually the one the durable store uses. */
  constructor(client: RedisClient, options: RedisRiskHistoryOptions) {
    if (options.prefix === '') throw new RangeError('RedisRiskHistory needs a key prefix (e.g. "spg:")');
    this.prefix = options.prefix;
    this.maxDevices = positive(options.maxDevicesPerUser ?? 20, 'maxDevicesPerUser');
    this.maxLogins = positive(options.maxLoginsPerUser ?? 100, 'maxLoginsPerUser');
    client.defineCommand(SCRIPTS.remember, { numberOfKeys: 2, lua: REMEMBER_DEVICE });
    client.defineCommand(SCRIPTS.record, { numberOfKeys: 1, lua: RECORD_LOGIN });
    this.client = client as Scripted;
  }

  private keys(user: string) {
    const base = `${this.prefix}${NAMESPACE}${accountTag(user)}`;
    return { devices: `${base}:devices`, first: `${base}:device-first`, logins: `${base}:logins` };
  }

  async knownDevice(user: string, deviceId: string): Promise<boolean> {
    return (await runRedis('knownDevice', () => this.client.zscore(this.keys(user).devices, deviceId))) !== null;
  }

  async rememberDevice(user: string, deviceId: string, now: number): Promise<void> {
    const k = this.keys(user);
    await runRedis('rememberDevice', () => this.client[SCRIPTS.remember](k.devices, k.first, deviceId, String(now), String(this.maxDevices)));
  }

  async recentLogins(user: string, n: number): Promise<LoginRecord[]> {
    // As `slice(0, floor(n))`: NaN and negatives are 0, Infinity is everything.
    const limit = Number.isNaN(n) ? 0 : Math.min(Math.max(0, Math.floor(n)), Number.MAX_SAFE_INTEGER);
    if (limit === 0) return [];
    const stop = limit >= this.maxLogins ? -1 : limit - 1;
    const raw = await runRedis('recentLogins', () => this.client.lrange(this.keys(user).logins, 0, stop));
    return raw.slice(0, limit).map(parseLogin);
  }

  async recordLogin(user: string, entry: LoginRecord): Promise<void> {
    const json = JSON.stringify({ network: entry.network, userAgent: entry.userAgent, at: entry.at });
    await runRedis('recordLogin', () => this.client[SCRIPTS.record](this.keys(user).logins, json, String(this.maxLogins)));
  }

  /** Closes the client; only for a history that owns its client (usually the durable store closes it). */
  async close(): Promise<void> {
    await closeRedisClient(this.client);
  }

  // ---- migration (src/cli/store-migrate.ts) ----

  async *exportRecords(): AsyncGenerator<RiskUserRecords> {
    for (const user of await accountsUnder(this.client, this.prefix + NAMESPACE)) {
      const k = this.keys(user);
      const [scores, first, logins] = await Promise.all([
        runRedis('export', () => this.client.zrange(k.devices, 0, -1, 'WITHSCORES')),
        runRedis('export', () => this.client.hgetall(k.first)),
        runRedis('export', () => this.client.lrange(k.logins, 0, -1)),
      ]);
      const devices: DeviceRecord[] = [];
      for (let i = 0; i + 1 < scores.length; i += 2) {
        const deviceId = scores[i] as string;
        const lastSeen = Number(scores[i + 1]);
        devices.push({ deviceId, firstSeen: first[deviceId] === undefined ? lastSeen : Number(first[deviceId]), lastSeen });
      }
      devices.sort((a, b) => byText(a.deviceId, b.deviceId));
      if (devices.length === 0 && logins.length === 0) continue;
      yield { user, devices, logins: logins.map(parseLogin) };
    }
  }

  async importRecords(records: RiskUserRecords): Promise<void> {
    const k = this.keys(records.user);
    const tx = this.client.multi().del(k.devices, k.first, k.logins);
    if (records.devices.length > 0) {
      tx.zadd(k.devices, ...records.devices.flatMap((d) => [String(d.lastSeen), d.deviceId]));
      tx.hset(k.first, ...records.devices.flatMap((d) => [d.deviceId, String(d.firstSeen)]));
    }
    if (records.logins.length > 0) {
      tx.rpush(k.logins, ...records.logins.map((e) => JSON.stringify({ network: e.network, userAgent: e.userAgent, at: e.at })));
    }
    const replies = await runRedis('import', () => tx.exec());
    const failed = replies?.find(([error]) => error !== null);
    if (replies === null || failed !== undefined) {
      throw new StoreUnavailableError(`redis import failed: ${failed?.[0]?.message ?? 'transaction aborted'}`, { cause: failed?.[0] });
    }
  }

  async hasRecords(): Promise<boolean> {
    for await (const key of scanKeys(this.client, this.prefix + NAMESPACE)) {
      if (key !== '') return true;
    }
    return false;
  }
}

function parseLogin(json: string): LoginRecord {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error('redis: a login record is not JSON');
  }
  const v = value as Partial<LoginRecord> | null;
  if (v === null || typeof v !== 'object' || typeof v.network !== 'string' || typeof v.userAgent !== 'string' || typeof v.at !== 'number') {
    throw new Error('redis: a login record lacks network, userAgent or at');
  }
  return { network: v.network, userAgent: v.userAgent, at: v.at };
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}
