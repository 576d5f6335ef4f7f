/**
 * Passkeys on Redis (several replicas). One hash per account, no TTL (durable records: Redis needs
 * persistence on, see src/store/redis-durable.ts):
 *   passkeys:{u:<user>}   hash: credential id → JSON record
 * `add` is HSETNX; `use` is one Lua script (read, compare the counter, write), so of two replicas
 * racing with the same counter only one is accepted. Failures reject with StoreUnavailableError
 * (fail closed).
 */
import { StoreUnavailableError } from '../../store/ephemeral.ts';
import type { RecordPort } from '../../store/records.ts';
import { accountsUnder, accountTag, runRedis, scanKeys, type RedisClient } from '../../store/redis-connection.ts';
import { byAge, type PasskeyCredential, type PasskeyStore, type PasskeyUse, type PasskeyUserRecords } from './store.ts';

const NAMESPACE = 'passkeys:';

/** KEYS: the account's hash. ARGV: id, counter, now. Returns 1 ok, 0 counter not increased, -1 missing. */
const USE = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return -1 end
local record = cjson.decode(raw)
local presented = tonumber(ARGV[2])
local stored = tonumber(record['counter'])
if not (presented > stored or (presented == 0 and stored == 0)) then return 0 end
record['counter'] = presented
record['lastUsedAt'] = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
return 1
`;

const SCRIPT = 'spgPasskeyUse';
type Scripted = RedisClient & { [SCRIPT](key: string, id: string, counter: string, now: string): Promise<number> };

export class RedisPasskeyStore implements PasskeyStore, RecordPort<PasskeyUserRecords> {
  private readonly client: Scripted;

  constructor(
    client: RedisClient,
    private readonly options: { readonly prefix: string },
  ) {
    if (options.prefix === '') throw new RangeError('RedisPasskeyStore needs a key prefix (e.g. "spg:")');
    client.defineCommand(SCRIPT, { numberOfKeys: 1, lua: USE });
    this.client = client as Scripted;
  }

  private key(user: string): string {
    return `${this.options.prefix}${NAMESPACE}${accountTag(user)}:keys`;
  }

  async list(user: string): Promise<PasskeyCredential[]> {
    const all = await runRedis('passkeys.list', () => this.client.hvals(this.key(user)));
    return all.map((json) => parse(json, user)).sort(byAge);
  }

  async get(user: string, id: string): Promise<PasskeyCredential | null> {
    const raw = await runRedis('passkeys.get', () => this.client.hget(this.key(user), id));
    return raw === null ? null : parse(raw, user);
  }

  async add(c: PasskeyCredential): Promise<boolean> {
    const json = JSON.stringify({ ...c, transports: [...c.transports] });
    return (await runRedis('passkeys.add', () => this.client.hsetnx(this.key(c.user), c.id, json))) === 1;
  }

  async remove(user: string, id: string): Promise<boolean> {
    return (await runRedis('passkeys.remove', () => this.client.hdel(this.key(user), id))) === 1;
  }

  async removeAll(user: string): Promise<number> {
    const key = this.key(user);
    const replies = await runRedis('passkeys.removeAll', () => this.client.multi().hlen(key).del(key).exec());
    const n = replies?.[0]?.[1];
    return typeof n === 'number' ? n : 0;
  }

  // ---- migration (src/cli/store-migrate.ts) ----

  async *exportRecords(): AsyncGenerator<PasskeyUserRecords> {
    for (const user of await accountsUnder(this.client, this.options.prefix + NAMESPACE)) {
      const passkeys = await this.list(user);
      if (passkeys.length > 0) yield { user, passkeys };
    }
  }

  async importRecords(records: PasskeyUserRecords): Promise<void> {
    const key = this.key(records.user);
    const tx = this.client.multi().del(key);
    if (records.passkeys.length > 0) tx.hset(key, ...records.passkeys.flatMap((c) => [c.id, JSON.stringify({ ...c, transports: [...c.transports] })]));
    const replies = await runRedis('passkeys.import', () => tx.exec());
    const failed = replies?.find(([error]) => error !== null);
    if (replies === null || failed !== undefined) throw new StoreUnavailableError(`redis import failed: ${failed?.[0]?.message ?? 'transaction aborted'}`, { cause: failed?.[0] });
  }

  async hasRecords(): Promise<boolean> {
    for await (const key of scanKeys(this.client, this.options.prefix + NAMESPACE)) {
      if (key !== '') return true;
    }
    return false;
  }

  async use(user: string, id: string, counter: number, now: number): Promise<PasskeyUse> {
    const answer = await runRedis('passkeys.use', () => this.client[SCRIPT](this.key(user), id, String(counter), String(now)));
    return answer === 1 ? 'ok' : answer === 0 ? 'counter_not_increased' : 'missing';
  }
}

function parse(json: string, user: string): PasskeyCredential {
  const v = JSON.parse(json) as Partial<PasskeyCredential>;
  if (typeof v.id !== 'string' || typeof v.publicKey !== 'string' || typeof v.counter !== 'number' || !Array.isArray(v.transports) || typeof v.name !== 'string' || typeof v.createdAt !== 'number') {
    throw new Error('redis: a passkey record lacks id, publicKey, counter, transports, name or createdAt');
  }
  return {
    user,
    id: v.id,
    publicKey: v.publicKey,
    counter: v.counter,
    transports: v.transports,
    name: v.name,
    createdAt: v.createdAt,
    lastUsedAt: typeof v.lastUsedAt === 'number' ? v.lastUsedAt : null,
  };
}
