/**
 * Remembered browsers on Redis (several replicas). Same contract as memory and SQLite
 * (test/helpers/remembered-browsers-contract.ts); durable records without TTL (expired ones are
 * refused by the flow and dropped on the next add), so Redis needs its append-only file like the
 * durable store (src/store/redis-durable.ts).
 *
 * Keys, under the configured prefix (`{u:…}` is the account's Cluster hash tag):
 *   remembered:{u:<user>}:browsers   hash: id → JSON record
 *   remembered:{u:<user>}:password   the keyed password fingerprint
 *
 * Adding (with its eviction) and rotating are Lua scripts; rotation compares the stored tokenHash
 * inside the script, so of two concurrent uses of one token only one succeeds.
 */
import { StoreUnavailableError } from './ephemeral.ts';
import { byText, type RecordPort } from './records.ts';
import { byCreation, type RememberedBrowser, type RememberedBrowserStore, type RememberedUserRecords } from './remembered-browsers.ts';
import { accountTag, accountsUnder, runRedis, scanKeys, type RedisClient } from './redis-connection.ts';

const NAMESPACE = 'remembered:';

/** KEYS: browsers. ARGV: id, json, max. Keeps the new one and the `max - 1` most recently used others. */
const ADD = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local max = tonumber(ARGV[3])
while redis.call('HLEN', KEYS[1]) > max do
  local all = redis.call('HGETALL', KEYS[1])
  local victim, oldest = nil, nil
  for i = 1, #all, 2 do
    if all[i] ~= ARGV[1] then
      local used = cjson.decode(all[i + 1]).lastUsedAt
      if oldest == nil or used < oldest or (used == oldest and all[i] < victim) then victim, oldest = all[i], used end
    end
  end
  if victim == nil then break end
  redis.call('HDEL', KEYS[1], victim)
end
return 1
`;

/** KEYS: browsers. ARGV: id, expected hash, json. */
const ROTATE = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
if cjson.decode(current).tokenHash ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

const SCRIPTS = { add: 'spgRememberedAdd', rotate: 'spgRememberedRotate' } as const;

type Scripted = RedisClient & {
  [SCRIPTS.add](browsers: string, id: string, json: string, max: string): Promise<number>;
  [SCRIPTS.rotate](browsers: string, id: string, expected: string, json: string): Promise<number>;
};

const toJson = (r: RememberedBrowser): string =>
  JSON.stringify({
    id: r.id,
    user: r.user,
    tokenHash: r.tokenHash,
    deviceId: r.deviceId,
    label: r.label,
    factors: r.factors,
    createdAt: r.createdAt,
    lastUsedAt: r.lastUsedAt,
    expiresAt: r.expiresAt,
    verifiedAt: r.verifiedAt,
  });

function parse(json: string): RememberedBrowser {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new Error('redis: a remembered-browser record is not JSON');
  }
  const text = ['id', 'user', 'tokenHash', 'deviceId', 'label', 'factors'] as const;
  const numbers = ['createdAt', 'lastUsedAt', 'expiresAt', 'verifiedAt'] as const;
  for (const f of text) if (typeof v[f] !== 'string') throw new Error(`redis: a remembered-browser record lacks ${f}`);
  for (const f of numbers) if (typeof v[f] !== 'number') throw new Error(`redis: a remembered-browser record lacks ${f}`);
  return v as unknown as RememberedBrowser;
}

export class RedisRememberedBrowsers implements RememberedBrowserStore, RecordPort<RememberedUserRecords> {
  private readonly client: Scripted;

  constructor(
    client: RedisClient,
    private readonly options: { readonly prefix: string },
  ) {
    if (options.prefix === '') throw new RangeError('RedisRememberedBrowsers needs a key prefix (e.g. "spg:")');
    client.defineCommand(SCRIPTS.add, { numberOfKeys: 1, lua: ADD });
    client.defineCommand(SCRIPTS.rotate, { numberOfKeys: 1, lua: ROTATE });
    this.client = client as Scripted;
  }

  private keys(user: string) {
    const base = `${this.options.prefix}${NAMESPACE}${accountTag(user)}`;
    return { browsers: `${base}:browsers`, password: `${base}:password` };
  }

  async list(user: string): Promise<RememberedBrowser[]> {
    const all = await runRedis('rememberedList', () => this.client.hvals(this.keys(user).browsers));
    return all.map(parse).sort(byCreation);
  }

  async get(user: string, id: string): Promise<RememberedBrowser | null> {
    const json = await runRedis('rememberedGet', () => this.client.hget(this.keys(user).browsers, id));
    return json === null ? null : parse(json);
  }

  async add(record: RememberedBrowser, max: number): Promise<void> {
    await runRedis('rememberedAdd', () => this.client[SCRIPTS.add](this.keys(record.user).browsers, record.id, toJson(record), String(max)));
  }

  async rotate(user: string, id: string, expectedHash: string, next: RememberedBrowser): Promise<boolean> {
    const json = toJson({ ...next, user, id });
    return (await runRedis('rememberedRotate', () => this.client[SCRIPTS.rotate](this.keys(user).browsers, id, expectedHash, json))) === 1;
  }

  async remove(user: string, id: string): Promise<boolean> {
    return (await runRedis('rememberedRemove', () => this.client.hdel(this.keys(user).browsers, id))) === 1;
  }

  async removeAll(user: string): Promise<number> {
    const key = this.keys(user).browsers;
    const replies = await runRedis('rememberedRemoveAll', () => this.client.multi().hlen(key).del(key).exec());
    const failed = replies?.find(([error]) => error !== null);
    if (replies === null || failed !== undefined) throw new StoreUnavailableError(`redis rememberedRemoveAll failed: ${failed?.[0]?.message ?? 'transaction aborted'}`);
    return Number(replies[0]?.[1] ?? 0);
  }

  async passwordFingerprint(user: string): Promise<string | null> {
    return runRedis('passwordFingerprint', () => this.client.get(this.keys(user).password));
  }

  async setPasswordFingerprint(user: string, fingerprint: string): Promise<void> {
    await runRedis('setPasswordFingerprint', () => this.client.set(this.keys(user).password, fingerprint));
  }

  // ---- migration and backup (src/cli/store-migrate.ts) ----

  async *exportRecords(): AsyncGenerator<RememberedUserRecords> {
    for (const user of await accountsUnder(this.client, this.options.prefix + NAMESPACE)) {
      const browsers = (await this.list(user)).sort((a, b) => byText(a.id, b.id));
      const passwordFingerprint = await this.passwordFingerprint(user);
      if (browsers.length === 0 && passwordFingerprint === null) continue;
      yield { user, browsers, passwordFingerprint };
    }
  }

  async importRecords(records: RememberedUserRecords): Promise<void> {
    const k = this.keys(records.user);
    const tx = this.client.multi().del(k.browsers, k.password);
    if (records.browsers.length > 0) tx.hset(k.browsers, ...records.browsers.flatMap((b) => [b.id, toJson(b)]));
    if (records.passwordFingerprint !== null) tx.set(k.password, records.passwordFingerprint);
    const replies = await runRedis('import', () => tx.exec());
    const failed = replies?.find(([error]) => error !== null);
    if (replies === null || failed !== undefined) {
      throw new StoreUnavailableError(`redis import failed: ${failed?.[0]?.message ?? 'transaction aborted'}`, { cause: failed?.[0] });
    }
  }

  async hasRecords(): Promise<boolean> {
    for await (const key of scanKeys(this.client, this.options.prefix + NAMESPACE)) {
      if (key !== '') return true;
    }
    return false;
  }
}
