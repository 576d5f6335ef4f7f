import type { RedisClient } from './redis-connection.ts';

/* The durable store's multi-key changes on Redis, each one Lua script so Redis runs it atomically. */

/** KEYS: enrollment, codes, used-codes. ARGV[1] = 2 × number of fields, then field/value pairs, then hashes. */
const ENABLE = `
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
local n = tonumber(ARGV[1])
for i = 2, n, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
for i = n + 2, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
return 1
`;

/** KEYS: enrollment, codes, used-codes, steps. Returns 1 when there was an enrollment. */
const DISABLE = `
local existed = redis.call('EXISTS', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return existed
`;

/** KEYS: enrollment. ARGV: destination, now. Only sms and email enrollments have a destination. */
const SET_DESTINATION = `
local method = redis.call('HGET', KEYS[1], 'method')
if method ~= 'sms' and method ~= 'email' then return 0 end
redis.call('HSET', KEYS[1], 'destination', ARGV[1], 'updated_at', ARGV[2])
return 1
`;

/** KEYS: enrollment, codes, used-codes. ARGV: hashes. Returns 0 (and changes nothing) without an enrollment. */
const REPLACE_CODES = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
for i = 1, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
return 1
`;

/** KEYS: codes, used-codes. ARGV: hash, now. SREM decides: 1 for exactly one caller. */
const CONSUME_CODE = `
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  return 1
end
return 0
`;

/** KEYS: steps. ARGV: step, keepUntil, now. Prunes the expired steps, then ZADD NX decides. */
const USE_STEP = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
return redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
`;

export const SCRIPTS = {
  enable: 'spgDurableEnable',
  disable: 'spgDurableDisable',
  setDestination: 'spgDurableSetDestination',
  replaceCodes: 'spgDurableReplaceCodes',
  consumeCode: 'spgDurableConsumeCode',
  useStep: 'spgDurableUseStep',
} as const;

export type Scripted = RedisClient & {
  [SCRIPTS.enable](k1: string, k2: string, k3: string, ...args: string[]): Promise<number>;
  [SCRIPTS.disable](k1: string, k2: string, k3: string, k4: string): Promise<number>;
  [SCRIPTS.setDestination](k1: string, destination: string, now: string): Promise<number>;
  [SCRIPTS.replaceCodes](k1: string, k2: string, k3: string, ...hashes: string[]): Promise<number>;
  [SCRIPTS.consumeCode](k1: string, k2: string, hash: string, now: string): Promise<number>;
  [SCRIPTS.useStep](k1: string, step: string, keepUntil: string, now: string): Promise<number>;
};

/** Registers the scripts on the client (once per store). */
export function defineDurableScripts(client: RedisClient): Scripted {
  client.defineCommand(SCRIPTS.enable, { numberOfKeys: 3, lua: ENABLE });
  client.defineCommand(SCRIPTS.disable, { numberOfKeys: 4, lua: DISABLE });
  client.defineCommand(SCRIPTS.setDestination, { numberOfKeys: 1, lua: SET_DESTINATION });
  client.defineCommand(SCRIPTS.replaceCodes, { numberOfKeys: 3, lua: REPLACE_CODES });
  client.defineCommand(SCRIPTS.consumeCode, { numberOfKeys: 2, lua: CONSUME_CODE });
  client.defineCommand(SCRIPTS.useStep, { numberOfKeys: 1, lua: USE_STEP });
  return client as Scripted;
}
