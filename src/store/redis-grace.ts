/**
 * The `require_2fa` grace state on Redis (src/store/grace.ts), for several replicas. One hash per
 * account, without TTL (durable: see src/store/redis-durable.ts for the persistence Redis needs):
 *
 *   grace:{u:<user>}:state   hash: first (epoch ms), skips, ended (epoch ms, absent while it runs)
 *
 * Each change is one Lua script, so two "Not now" clicks on two replicas never count past the
 * limit. Redis failures reject with StoreUnavailableError (the gate then fails closed: 503).
 */
import { accountsUnder, accountTag, runRedis, scanKeys, type RedisClient } from './redis-connection.ts';
import { checkGraceRecord, type GraceStore, type GraceUserRecord, type SkipResult } from './grace.ts';

const NAMESPACE = 'grace:';

/** KEYS: state. ARGV: now. Returns {first, skips, ended or ''}. */
const PROMPTED = `
redis.call('HSETNX', KEYS[1], 'first', ARGV[1])
redis.call('HSETNX', KEYS[1], 'skips', '0')
return redis.call('HMGET', KEYS[1], 'first', 'skips', 'ended')
`;

/** KEYS: state. ARGV: now, max ('' = no limit). Returns {counted, first, skips, ended}. */
const SKIP = `
redis.call('HSETNX', KEYS[1], 'first', ARGV[1])
redis.call('HSETNX', KEYS[1], 'skips', '0')
local skips = tonumber(redis.call('HGET', KEYS[1], 'skips'))
local ended = redis.call('HGET', KEYS[1], 'ended')
local counted = 0
if (not ended) and (ARGV[2] == '' or skips < tonumber(ARGV[2])) then
  skips = redis.call('HINCRBY', KEYS[1], 'skips', 1)
  counted = 1
end
local state = redis.call('HMGET', KEYS[1], 'first', 'skips', 'ended')
return {counted, state[1], state[2], state[3]}
`;

/** KEYS: state. ARGV: now. */
const END = `
redis.call('HSETNX', KEYS[1], 'first', ARGV[1])
redis.call('HSETNX', KEYS[1], 'skips', '0')
redis.call('HSETNX', KEYS[1], 'ended', ARGV[1])
return 1
`;

const SCRIPTS = { prompted: 'spgGracePrompted', skip: 'spgGraceSkip', end: 'spgGraceEnd' } as const;

type Scripted = RedisClient & {
  [SCRIPTS.prompted](key: string, now: string): Promise<Array<string | null>>;
  [SCRIPTS.skip](key: string, now: string, max: string): Promise<Array<number | string | null>>;
  [SCRIPTS.end](key: string, now: string): Promise<number>;
};

export class RedisGraceStore implements GraceStore {
  private readonly client: Scripted;

  constructor(
    client: RedisClient,
    private readonly options: { readonly prefix: string },
  ) {
    if (options.prefix === '') throw new RangeError('RedisGraceStore needs a key prefix (e.g. "spg:")');
    client.defineCommand(SCRIPTS.prompted, { numberOfKeys: 1, lua: PROMPTED });
    client.defineCommand(SCRIPTS.skip, { numberOfKeys: 1, lua: SKIP });
    client.defineCommand(SCRIPTS.end, { numberOfKeys: 1, lua: END });
    this.client = client as Scripted;
  }

  private key(user: string): string {
    return `${this.options.prefix}${NAMESPACE}${accountTag(user)}:state`;
  }

  private record(user: string, first: unknown, skips: unknown, ended: unknown): GraceUserRecord {
    return checkGraceRecord(
      { user, firstPromptAt: Number(first), skips: Number(skips), endedAt: ended === null || ended === undefined || ended === '' ? null : Number(ended) },
      'redis',
    );
  }

  async get(user: string): Promise<GraceUserRecord | null> {
    const [first, skips, ended] = await runRedis('grace get', () => this.client.hmget(this.key(user), 'first', 'skips', 'ended'));
    if (first === null || first === undefined) return null;
    return this.record(user, first, skips, ended);
  }

  async prompted(user: string, now: number): Promise<GraceUserRecord> {
    const [first, skips, ended] = await runRedis('grace prompted', () => this.client[SCRIPTS.prompted](this.key(user), String(now)));
    return this.record(user, first, skips, ended);
  }

  async skip(user: string, now: number, maxSkips: number | null): Promise<SkipResult> {
    const [counted, first, skips, ended] = await runRedis('grace skip', () =>
      this.client[SCRIPTS.skip](this.key(user), String(now), maxSkips === null ? '' : String(maxSkips)),
    );
    return { ok: Number(counted) === 1, record: this.record(user, first, skips, ended) };
  }

  async end(user: string, now: number): Promise<void> {
    await runRedis('grace end', () => this.client[SCRIPTS.end](this.key(user), String(now)));
  }

  // ---- migration (src/cli/store-migrate.ts) ----

  async *exportRecords(): AsyncGenerator<GraceUserRecord> {
    for (const user of await accountsUnder(this.client, this.options.prefix + NAMESPACE)) {
      const record = await this.get(user);
      if (record) yield record;
    }
  }

  async importRecords(record: GraceUserRecord): Promise<void> {
    const checked = checkGraceRecord(record, 'import');
    const key = this.key(checked.user);
    const tx = this.client.multi().del(key).hset(key, 'first', String(checked.firstPromptAt), 'skips', String(checked.skips));
    if (checked.endedAt !== null) tx.hset(key, 'ended', String(checked.endedAt));
    const replies = await runRedis('grace import', () => tx.exec());
    const failed = replies?.find(([error]) => error !== null);
    if (replies === null || failed !== undefined) throw new Error(`redis grace import failed: ${failed?.[0]?.message ?? 'transaction aborted'}`);
  }

  async hasRecords(): Promise<boolean> {
    for await (const key of scanKeys(this.client, this.options.prefix + NAMESPACE)) {
      if (key !== '') return true;
    }
    return false;
  }
}
