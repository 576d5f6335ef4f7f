import type { RedisClient } from './redis-connection.ts';

/* The ephemeral store's read-modify-write operations on Redis, each one Lua script so Redis runs it atomically. */

/** KEYS[1]; ARGV[1] = expected value. Returns 1 when it deleted the key. */
const COMPARE_AND_DELETE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/**
 * KEYS[1]; ARGV[1] = by, ARGV[2] = ttl in ms, ARGV[3] = 'fixed' | 'sliding'. Returns the new value.
 * A new counter (PTTL -2) gets the TTL; so does one without an expiry (-1, never written by this
 * store), so a counting window can never become permanent.
 */
const INCREMENT = `
local ttl = redis.call('PTTL', KEYS[1])
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if ttl < 0 or ARGV[3] == 'sliding' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
`;

/**
 * KEYS[1]. Gives back one unit of a live counter above 0; DECRBY keeps the key's expiry. A missing
 * counter is not created and a counter at or below 0 is left alone. Returns the value afterwards.
 */
const DECREMENT_IF_PRESENT = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local current = tonumber(raw)
if not current then return 0 end
if current <= 0 then return current end
return redis.call('DECRBY', KEYS[1], 1)
`;

/** KEYS[1]; ARGV[1] = value when absent, ARGV[2] = ttl in ms. Returns the value the key holds afterwards. */
const GET_OR_SET = `
local current = redis.call('GET', KEYS[1])
if current then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return current
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
`;

/**
 * KEYS[1]; ARGV[1] = max, ARGV[2] = window in ms. Returns {1, count} when a slot was taken, or
 * {0, ms left, banned (1|0)} when the gate is full or closed (a non-number value is a ban). Check
 * and count happen in this one script, so replicas cannot slip an attempt between them.
 */
const TAKE_SLOT = `
local raw = redis.call('GET', KEYS[1])
if not raw then
  redis.call('SET', KEYS[1], 1, 'PX', ARGV[2])
  return {1, 1}
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
local current = tonumber(raw)
if not current then return {0, ttl, 1} end
if current >= tonumber(ARGV[1]) then return {0, ttl, 0} end
return {1, redis.call('INCR', KEYS[1])}
`;

/**
 * KEYS[1]; ARGV[1] = member, ARGV[2] = value, ARGV[3] = ttl in ms. Sets the hash field and makes the
 * hash live at least the TTL from now (never shortening it; a hash without expiry gets it).
 */
const ADD_MEMBER = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return redis.call('HLEN', KEYS[1])
`;

/** Names under which the scripts are defined on the client (EVALSHA, falling back to EVAL). */
export const SCRIPTS = {
  compareAndDelete: 'spgCompareAndDelete',
  increment: 'spgIncrement',
  decrementIfPresent: 'spgDecrementIfPresent',
  getOrSet: 'spgGetOrSet',
  takeSlot: 'spgTakeSlot',
  addMember: 'spgAddMember',
} as const;

export type ScriptedRedis = RedisClient & {
  [SCRIPTS.compareAndDelete](key: string, expected: string): Promise<number>;
  [SCRIPTS.increment](key: string, by: number, ttlMs: number, expiry: 'fixed' | 'sliding'): Promise<number>;
  [SCRIPTS.decrementIfPresent](key: string): Promise<number>;
  [SCRIPTS.getOrSet](key: string, value: string, ttlMs: number): Promise<string>;
  [SCRIPTS.takeSlot](key: string, max: number, windowMs: number): Promise<[number, number, number?]>;
  [SCRIPTS.addMember](key: string, member: string, value: string, ttlMs: number): Promise<number>;
};

/** Registers the scripts on the client (once per store). */
export function defineEphemeralScripts(client: RedisClient): ScriptedRedis {
  client.defineCommand(SCRIPTS.compareAndDelete, { numberOfKeys: 1, lua: COMPARE_AND_DELETE });
  client.defineCommand(SCRIPTS.increment, { numberOfKeys: 1, lua: INCREMENT });
  client.defineCommand(SCRIPTS.decrementIfPresent, { numberOfKeys: 1, lua: DECREMENT_IF_PRESENT });
  client.defineCommand(SCRIPTS.getOrSet, { numberOfKeys: 1, lua: GET_OR_SET });
  client.defineCommand(SCRIPTS.takeSlot, { numberOfKeys: 1, lua: TAKE_SLOT });
  client.defineCommand(SCRIPTS.addMember, { numberOfKeys: 1, lua: ADD_MEMBER });
  return client as ScriptedRedis;
}
