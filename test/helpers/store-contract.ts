import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManualClock } from '../../src/core/clock.ts';
import type { EphemeralStore } from '../../src/store/ephemeral.ts';

/**
 * The contract every EphemeralStore backend must meet (DESIGN §4: "memory/SQLite and Redis
 * implement the same tests"). It uses only the interface and the clock, so a Redis backend runs the
 * very same suite.
 *
 * Expiry: the memory backend follows the injected ManualClock; a Redis backend expires keys in real
 * time. With `realTime: true` every "time passes" step also sleeps that many real milliseconds, and
 * TTLs are small multiples of `unitMs`, with at least one unit of margin on each side of an expiry,
 * so the assertions hold in both worlds. Waiting longer than planned can only make "gone" checks
 * more certain; "still there" checks keep a full unit of slack.
 */
export interface StoreContractOptions {
  /** The backend expires keys in real time (Redis): time steps sleep instead of only moving the clock. */
  readonly realTime?: boolean;
  /** Time unit of the expiry tests in real-time mode, in milliseconds (default 250). */
  readonly unitMs?: number;
}

export type MakeStore = (clock: ManualClock) => Promise<{ store: EphemeralStore; cleanup?: () => Promise<void> }>;

export function runEphemeralStoreContract(name: string, make: MakeStore, options: StoreContractOptions = {}): void {
  const realTime = options.realTime ?? false;
  /** One time unit: TTLs are 2–4 of them. With the manual clock any value works. */
  const U = realTime ? (options.unitMs ?? 250) : 1_000;
  /** Real timers may fire a millisecond early relative to the server's clock. */
  const slack = realTime ? 25 : 0;
  /** Long enough that nothing expires during a test, in either mode. */
  const LONG = 10 * 60_000;

  interface Ctx {
    readonly store: EphemeralStore;
    readonly clock: ManualClock;
    /** A key unique to this run, so a shared Redis is not polluted across tests or runs. */
    key(suffix: string): string;
    /** Lets `ms` pass: moves the clock, and in real-time mode also waits. */
    elapse(ms: number): Promise<void>;
  }

  async function withStore(fn: (ctx: Ctx) => Promise<void>): Promise<void> {
    const clock = new ManualClock();
    const { store, cleanup } = await make(clock);
    const prefix = `contract:${randomUUID()}:`;
    const ctx: Ctx = {
      store,
      clock,
      key: (suffix) => prefix + suffix,
      elapse: async (ms) => {
        clock.advance(ms);
        if (realTime) await sleep(ms);
      },
    };
    try {
      await fn(ctx);
    } finally {
      if (cleanup) await cleanup();
    }
  }

  describe(`EphemeralStore contract: ${name}`, () => {
    test('ping resolves on a healthy store', () =>
      withStore(async ({ store }) => {
        await store.ping();
      }));

    test('get / set / delete', () =>
      withStore(async ({ store, key }) => {
        const k = key('plain');
        assert.equal(await store.get(k), null, 'a missing key reads as null');
        await store.set(k, 'one', LONG);
        assert.equal(await store.get(k), 'one');
        await store.set(k, 'two', LONG);
        assert.equal(await store.get(k), 'two', 'set overwrites');
        assert.equal(await store.delete(k), true, 'delete reports that the key existed');
        assert.equal(await store.get(k), null);
        assert.equal(await store.delete(k), false, 'deleting a missing key reports false');
      }));

    test('values round-trip byte for byte (JSON, non-ASCII, empty string)', () =>
      withStore(async ({ store, key }) => {
        const json = JSON.stringify({ user: 'zoë@example.com', cookies: { a: 'b;c=d' }, n: 1 });
        await store.set(key('json'), json, LONG);
        await store.set(key('empty'), '', LONG);
        assert.equal(await store.get(key('json')), json);
        assert.equal(await store.get(key('empty')), '', 'an empty value is not a missing key');
        assert.deepEqual(await store.getMany([key('empty')]), ['']);
      }));

    test('getMany keeps the order of the keys and gives null for missing ones', () =>
      withStore(async ({ store, key }) => {
        await store.set(key('a'), 'va', LONG);
        await store.set(key('c'), 'vc', LONG);
        assert.deepEqual(await store.getMany([key('c'), key('missing'), key('a'), key('c'), key('b')]), [
          'vc',
          null,
          'va',
          'vc',
          null,
        ]);
        assert.deepEqual(await store.getMany([key('missing')]), [null]);
        assert.deepEqual(await store.getMany([]), [], 'no keys, no values (Redis MGET needs a guard here)');
      }));

    test('a key expires after its TTL, for every operation', () =>
      withStore(async ({ store, key, elapse }) => {
        const k = key('ttl');
        await store.set(k, 'v', 4 * U);
        await elapse(3 * U);
        assert.equal(await store.get(k), 'v', 'still there before its TTL');
        await elapse(2 * U);
        assert.equal(await store.get(k), null, 'gone after its TTL');
        assert.deepEqual(await store.getMany([k]), [null]);
        assert.equal(await store.ttl(k), null);
        assert.equal(await store.delete(k), false, 'an expired key does not count as deleted');
        assert.equal(await store.compareAndDelete(k, 'v'), false, 'an expired value cannot be consumed');
      }));

    test('set replaces the TTL of an existing key', () =>
      withStore(async ({ store, key, elapse }) => {
        const k = key('reset');
        await store.set(k, 'short', 2 * U);
        await store.set(k, 'long', 8 * U);
        await elapse(4 * U);
        assert.equal(await store.get(k), 'long');
        const shortened = key('shorten');
        await store.set(shortened, 'long', 8 * U);
        await store.set(shortened, 'short', 2 * U);
        await elapse(3 * U);
        assert.equal(await store.get(shortened), null, 'a shorter TTL replaces a longer one too');
      }));

    test('setIfAbsent: true once, false while the key lives, true again after it expired', () =>
      withStore(async ({ store, key, elapse }) => {
        const k = key('claim');
        assert.equal(await store.setIfAbsent(k, 'first', 2 * U), true);
        assert.equal(await store.get(k), 'first');
        assert.equal(await store.setIfAbsent(k, 'second', 100 * U), false);
        assert.equal(await store.get(k), 'first', 'a refused setIfAbsent changes nothing');
        const left = await store.ttl(k);
        assert.ok(left !== null && left <= 2 * U, `a refused setIfAbsent keeps the TTL (got ${left})`);
        await elapse(3 * U);
        assert.equal(await store.setIfAbsent(k, 'third', LONG), true, 'an expired key is absent');
        assert.equal(await store.get(k), 'third');
        await store.set(key('plain'), 'x', LONG);
        assert.equal(await store.setIfAbsent(key('plain'), 'y', LONG), false, 'a key written by set is present');
      }));

    test('compareAndDelete: a wrong value keeps the key, the right one deletes it once', () =>
      withStore(async ({ store, key }) => {
        const k = key('once');
        assert.equal(await store.compareAndDelete(k, 'token'), false, 'nothing to consume');
        await store.set(k, 'token', LONG);
        assert.equal(await store.compareAndDelete(k, 'other'), false);
        assert.equal(await store.compareAndDelete(k, ''), false);
        assert.equal(await store.compareAndDelete(k, 'token '), false);
        assert.equal(await store.get(k), 'token', 'a wrong value keeps the key');
        assert.equal(await store.compareAndDelete(k, 'token'), true);
        assert.equal(await store.get(k), null);
        assert.equal(await store.compareAndDelete(k, 'token'), false, 'a second consumption fails');
      }));

    test('setIfPresent: writes only an existing key, never resurrects a deleted or expired one', () =>
      withStore(async ({ store, key, elapse }) => {
        const k = key('present');
        assert.equal(await store.setIfPresent(k, 'v1', LONG), false, 'a missing key is not created');
        assert.equal(await store.get(k), null);
        await store.set(k, 'v1', 2 * U);
        assert.equal(await store.setIfPresent(k, 'v2', 4 * U), true);
        assert.equal(await store.get(k), 'v2');
        await elapse(3 * U);
        assert.equal(await store.get(k), 'v2', 'setIfPresent gave the key its new TTL');
        await store.delete(k);
        assert.equal(await store.setIfPresent(k, 'v3', LONG), false, 'a deleted key stays deleted');
        assert.equal(await store.get(k), null);
        await store.set(k, 'v4', 2 * U);
        await elapse(3 * U + slack);
        assert.equal(await store.setIfPresent(k, 'v5', LONG), false, 'an expired key stays expired');
        assert.equal(await store.get(k), null);
      }));

    test('decrementIfPresent: gives back a unit of a live counter, never below 0, never creates one', () =>
      withStore(async ({ store, key, elapse }) => {
        const k = key('giveback');
        assert.equal(await store.decrementIfPresent(k), 0);
        assert.equal(await store.get(k), null, 'a missing counter is not created');
        await store.increment(k, 2, 2 * U);
        assert.equal(await store.decrementIfPresent(k), 1);
        assert.equal(await store.decrementIfPresent(k), 0);
        assert.equal(await store.decrementIfPresent(k), 0, 'never below 0');
        assert.equal(await store.get(k), '0');
        await elapse(3 * U + slack);
        assert.equal(await store.decrementIfPresent(k), 0);
        assert.equal(await store.get(k), null, 'an expired counter stays expired');
      }));

    test('increment: a new counter starts at `by`, later calls add, negative `by` subtracts', () =>
      withStore(async ({ store, key }) => {
        const k = key('count');
        assert.equal(await store.increment(k, 5, LONG), 5);
        assert.equal(await store.increment(k, 2, LONG), 7);
        assert.equal(await store.get(k), '7', 'the counter reads back as a decimal string');
        assert.equal(await store.increment(k, -10, LONG), -3);
        assert.equal(await store.get(k), '-3');
        const n = key('negative-new');
        assert.equal(await store.increment(n, -1, LONG), -1, 'a new counter starts at a negative `by` too');
        const one = key('default');
        assert.equal(await store.increment(one, 1, LONG), 1);
        assert.equal(await store.increment(one, 1, LONG), 2);
        const left = await store.ttl(k);
        assert.ok(left !== null && left > 0 && left <= LONG, `a new counter gets ttlMs (got ${left})`);
      }));

    test("increment 'fixed' (the default): an existing counter keeps its expiry", () =>
      withStore(async ({ store, key, elapse }) => {
        const implicit = key('fixed-default');
        const explicit = key('fixed');
        assert.equal(await store.increment(implicit, 1, 4 * U), 1);
        assert.equal(await store.increment(explicit, 1, 4 * U, 'fixed'), 1);
        await elapse(2 * U);
        assert.equal(await store.increment(implicit, 1, 4 * U), 2);
        assert.equal(await store.increment(explicit, 1, 4 * U, 'fixed'), 2);
        for (const k of [implicit, explicit]) {
          const left = await store.ttl(k);
          assert.ok(left !== null && left > 0 && left <= 2 * U + slack, `the window was not extended (ttl ${left})`);
        }
        await elapse(3 * U); // 5U since the window opened: past its 4U
        assert.deepEqual(await store.getMany([implicit, explicit]), [null, null], 'the window closed on time');
        assert.equal(await store.increment(explicit, 1, 4 * U, 'fixed'), 1, 'a new window starts from `by`');
      }));

    test("increment 'sliding': every change gives the counter ttlMs again", () =>
      withStore(async ({ store, key, elapse }) => {
        const k = key('sliding');
        assert.equal(await store.increment(k, 1, 4 * U, 'sliding'), 1);
        await elapse(2 * U);
        assert.equal(await store.increment(k, 1, 4 * U, 'sliding'), 2);
        const left = await store.ttl(k);
        assert.ok(left !== null && left > 3 * U && left <= 4 * U, `the expiry was refreshed (ttl ${left})`);
        await elapse(3 * U); // 5U after creation, 3U after the refresh
        assert.equal(await store.get(k), '2', 'alive past the first TTL because it was refreshed');
        await elapse(2 * U); // 5U after the refresh
        assert.equal(await store.get(k), null);
        assert.equal(await store.increment(k, 1, 4 * U, 'sliding'), 1, 'an expired counter starts again');
      }));

    test('getOrSet: sets a missing key, returns an existing value unchanged, and slides the expiry', () =>
      withStore(async ({ store, key, elapse }) => {
        const k = key('generation');
        assert.equal(await store.getOrSet(k, 'first', 4 * U), 'first', 'a missing key takes the value');
        assert.equal(await store.getOrSet(k, 'second', 4 * U), 'first', 'an existing value wins');
        assert.equal(await store.get(k), 'first');
        await elapse(3 * U);
        assert.equal(await store.getOrSet(k, 'third', 4 * U), 'first', 'still there before its TTL');
        const left = await store.ttl(k);
        assert.ok(left !== null && left > 3 * U && left <= 4 * U, `the expiry was refreshed (ttl ${left})`);
        await elapse(3 * U); // 6U after creation, 3U after the refresh
        assert.equal(await store.get(k), 'first', 'alive past the first TTL because it was read again');
        await store.set(k, 'bumped', 4 * U);
        assert.equal(await store.getOrSet(k, 'other', 4 * U), 'bumped', 'a value written by set is returned as is');
        await elapse(5 * U);
        assert.equal(await store.get(k), null);
        assert.equal(await store.getOrSet(k, 'fresh', 4 * U), 'fresh', 'an expired key takes the new value');
      }));

    test('ttl: null for a missing key, positive and at most the TTL for a present one', () =>
      withStore(async ({ store, key, elapse }) => {
        assert.equal(await store.ttl(key('nothing')), null);
        const k = key('ttl');
        await store.set(k, 'v', 4 * U);
        const fresh = await store.ttl(k);
        assert.ok(fresh !== null && fresh > 0 && fresh <= 4 * U, `fresh ttl ${fresh}`);
        await elapse(U);
        const later = await store.ttl(k);
        assert.ok(later !== null && later > 0 && later <= 3 * U + slack, `ttl counts down (got ${later})`);
        await store.delete(k);
        assert.equal(await store.ttl(k), null, 'a deleted key has no ttl');
      }));

    test('takeSlot: counts up to max, then refuses with the time left; a non-number value is a ban', () =>
      withStore(async ({ store, key, elapse }) => {
        const k = key('slot');
        assert.deepEqual(await store.takeSlot(k, 2, 4 * U), { ok: true, count: 1 }, 'a new window starts at 1');
        assert.deepEqual(await store.takeSlot(k, 2, 4 * U), { ok: true, count: 2 });
        const full = await store.takeSlot(k, 2, 4 * U);
        assert.equal(full.ok, false, 'a full window refuses');
        if (!full.ok) {
          assert.equal(full.banned, false);
          assert.ok(full.retryAfterMs > 0 && full.retryAfterMs <= 4 * U, `time left in the window: ${full.retryAfterMs}`);
        }
        assert.equal(await store.get(k), '2', 'a refusal takes nothing');
        const b = key('slot-ban');
        await store.set(b, 'ban', 3 * U);
        const banned = await store.takeSlot(b, 100, 4 * U);
        assert.equal(banned.ok, false);
        if (!banned.ok) {
          assert.equal(banned.banned, true);
          assert.ok(banned.retryAfterMs > 0 && banned.retryAfterMs <= 3 * U, `the ban's time left: ${banned.retryAfterMs}`);
        }
        await elapse(4 * U + slack);
        assert.deepEqual(await store.takeSlot(k, 2, 4 * U), { ok: true, count: 1 }, 'a new window after the old one expired');
        assert.deepEqual(await store.takeSlot(b, 100, 4 * U), { ok: true, count: 1 }, 'the ban ended');
      }));

    test('members: add, read, overwrite, remove; the last removal removes the map', () =>
      withStore(async ({ store, key }) => {
        const k = key('map');
        assert.deepEqual(await store.members(k), {}, 'a missing map has no members');
        assert.equal(await store.addMember(k, 'a', JSON.stringify({ s: 'x', n: 'zoë' }), LONG), 1, 'addMember answers the members the map holds');
        assert.equal(await store.addMember(k, 'b', '', LONG), 2);
        assert.deepEqual(await store.members(k), { a: JSON.stringify({ s: 'x', n: 'zoë' }), b: '' });
        assert.equal(await store.addMember(k, 'a', 'again', LONG), 2, 'a member added again is counted once');
        assert.deepEqual(await store.members(k), { a: 'again', b: '' }, 'adding a member again overwrites its value');
        assert.equal(await store.removeMember(k, 'a'), true);
        assert.equal(await store.removeMember(k, 'a'), false, 'a member removed twice is reported once');
        assert.equal(await store.removeMember(key('no-map'), 'a'), false);
        assert.deepEqual(await store.members(k), { b: '' });
        assert.equal(await store.removeMember(k, 'b'), true);
        assert.deepEqual(await store.members(k), {});
        assert.equal(await store.ttl(k), null, 'an empty map does not linger');
      }));

    test('members: the map lives as long as its longest-lived addition, then goes as a whole', () =>
      withStore(async ({ store, key, elapse }) => {
        const k = key('map-ttl');
        await store.addMember(k, 'long', '1', 4 * U);
        await store.addMember(k, 'short', '2', 2 * U);
        const left = await store.ttl(k);
        assert.ok(left !== null && left > 3 * U - slack, `a shorter addition does not shorten the map's life (ttl ${left})`);
        await elapse(3 * U);
        assert.deepEqual(await store.members(k), { long: '1', short: '2' }, 'members do not expire one by one');
        await elapse(2 * U);
        assert.deepEqual(await store.members(k), {}, 'gone after the longest TTL');
        await store.addMember(k, 'new', '3', 2 * U);
        await elapse(U);
        await store.addMember(k, 'later', '4', 2 * U);
        await elapse(U + slack + U / 2);
        assert.deepEqual(await store.members(k), { new: '3', later: '4' }, 'a later addition extends the map');
      }));

    test('atomic: 100 concurrent addMember calls keep every member', () =>
      withStore(async ({ store, key }) => {
        const k = key('race-map');
        await Promise.all(Array.from({ length: 100 }, (_, i) => store.addMember(k, `m${i}`, String(i), LONG)));
        const members = await store.members(k);
        assert.equal(Object.keys(members).length, 100);
        assert.equal(members['m42'], '42');
      }));

    test('atomic: 200 concurrent takeSlot with max 10 take exactly 10 slots', () =>
      withStore(async ({ store, key }) => {
        const k = key('race-slot');
        const results = await Promise.all(Array.from({ length: 200 }, () => store.takeSlot(k, 10, LONG)));
        const counts = results.flatMap((r) => (r.ok ? [r.count] : [])).sort((a, b) => a - b);
        assert.deepEqual(counts, Array.from({ length: 10 }, (_, i) => i + 1));
        assert.equal(await store.get(k), '10');
      }));

    test('atomic: 500 concurrent increments count to exactly 500, each value returned once', () =>
      withStore(async ({ store, key }) => {
        const k = key('race-increment');
        const values = await Promise.all(Array.from({ length: 500 }, () => store.increment(k, 1, LONG)));
        assert.deepEqual(
          [...values].sort((a, b) => a - b),
          Array.from({ length: 500 }, (_, i) => i + 1),
        );
        assert.equal(await store.get(k), '500');
      }));

    test('atomic: 100 concurrent compareAndDelete of one value succeed exactly once', () =>
      withStore(async ({ store, key }) => {
        const k = key('race-consume');
        await store.set(k, 'code-123456', LONG);
        const results = await Promise.all(Array.from({ length: 100 }, () => store.compareAndDelete(k, 'code-123456')));
        assert.equal(results.filter((r) => r).length, 1);
        assert.equal(await store.get(k), null);
      }));

    test('atomic: 100 concurrent setIfAbsent succeed exactly once and the winner’s value stays', () =>
      withStore(async ({ store, key }) => {
        const k = key('race-claim');
        const results = await Promise.all(Array.from({ length: 100 }, (_, i) => store.setIfAbsent(k, `claimant-${i}`, LONG)));
        const winners = results.flatMap((won, i) => (won ? [i] : []));
        assert.equal(winners.length, 1);
        assert.equal(await store.get(k), `claimant-${winners[0]}`);
      }));

    test('atomic: 100 concurrent getOrSet of a missing key all return the one value that was set', () =>
      withStore(async ({ store, key }) => {
        const k = key('race-generation');
        const results = await Promise.all(Array.from({ length: 100 }, (_, i) => store.getOrSet(k, `candidate-${i}`, LONG)));
        assert.equal(new Set(results).size, 1, `every caller sees the same value (got ${new Set(results).size} different ones)`);
        assert.equal(await store.get(k), results[0]);
      }));

    test('atomic: concurrent +1 and -1 increments never lose an update', () =>
      withStore(async ({ store, key }) => {
        const k = key('race-mixed');
        await store.increment(k, 50, LONG);
        await Promise.all(
          Array.from({ length: 300 }, (_, i) => store.increment(k, i % 3 === 0 ? -1 : 1, LONG)),
        );
        // 100 decrements, 200 increments
        assert.equal(await store.get(k), '150');
      }));
  });
}
