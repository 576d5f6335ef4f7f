import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { recordVerifiedLogin } from '../../src/risk/gather.ts';
import type { RiskHistoryStore } from '../../src/risk/history.ts';
import type { LoginRecord } from '../../src/store/records.ts';
import { networkPrefix } from '../../src/risk/network.ts';
import { ManualClock } from '../../src/core/clock.ts';

/**
 * The contract every RiskHistoryStore backend must meet (memory, SQLite, later Redis). It uses only
 * the interface, and every test uses user names unique to its run, so a shared database is not
 * disturbed. `make` is called once per test, with the bounds to use (none: the defaults, 20 devices
 * and 100 logins per account); its `cleanup` releases what it opened.
 *
 * Times only increase within a test: backends may order by `at` (SQLite) or by insertion (memory),
 * which agree then.
 */
export interface RiskHistoryBounds {
  readonly maxDevicesPerUser?: number;
  readonly maxLoginsPerUser?: number;
}

export type MakeRiskHistory = (bounds?: RiskHistoryBounds) => Promise<{ history: RiskHistoryStore; cleanup?(): Promise<void> }>;

const T0 = Date.UTC(2026, 0, 1);
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

/** A user name unique to this run. */
const userName = (label = 'user'): string => `${label}-${randomUUID()}@example.com`;

/** The i-th login of a test: distinct network, agent and time. */
export const login = (i: number): LoginRecord => ({ network: `198.51.${i % 256}.0/24`, userAgent: `agent ${i}`, at: T0 + i * 1000 });

export function runRiskHistoryContract(name: string, make: MakeRiskHistory): void {
  /** Runs `fn` with a fresh history, cleaned up afterwards. */
  async function withHistory(fn: (history: RiskHistoryStore) => Promise<void>, bounds?: RiskHistoryBounds): Promise<void> {
    const { history, cleanup } = await make(bounds);
    try {
      await fn(history);
    } finally {
      await cleanup?.();
    }
  }

  describe(`RiskHistoryStore contract: ${name}`, () => {
    test('an account never seen: no known device, no logins', () =>
      withHistory(async (history) => {
        const user = userName();
        assert.equal(await history.knownDevice(user, 'device-1'), false);
        assert.deepEqual(await history.recentLogins(user, 5), []);
      }));

    test('a remembered device is known; another device of the same account is not', () =>
      withHistory(async (history) => {
        const user = userName();
        await history.rememberDevice(user, 'device-1', T0);
        assert.equal(await history.knownDevice(user, 'device-1'), true);
        assert.equal(await history.knownDevice(user, 'device-2'), false);
        // Remembering again (a refresh) keeps it known and adds nothing else.
        await history.rememberDevice(user, 'device-1', T0 + 1000);
        assert.equal(await history.knownDevice(user, 'device-1'), true);
        assert.equal(await history.knownDevice(user, 'device-2'), false);
      }));

    test('accounts are isolated: devices and logins of one are not another’s', () =>
      withHistory(async (history) => {
        const zoe = userName('zoe');
        const sam = userName('sam');
        await history.rememberDevice(zoe, 'shared-id', T0);
        await history.recordLogin(zoe, login(1));
        assert.equal(await history.knownDevice(sam, 'shared-id'), false, 'the same device id under another account');
        assert.deepEqual(await history.recentLogins(sam, 10), []);
        await history.rememberDevice(sam, 'shared-id', T0 + 1);
        await history.recordLogin(sam, login(2));
        assert.deepEqual(await history.recentLogins(zoe, 10), [login(1)]);
        assert.deepEqual(await history.recentLogins(sam, 10), [login(2)]);
      }));

    test('user keys are opaque: no case folding or trimming', () =>
      withHistory(async (history) => {
        const user = userName();
        await history.rememberDevice(user, 'device-1', T0);
        await history.recordLogin(user, login(1));
        for (const other of [user.toUpperCase(), ` ${user}`, `${user} `]) {
          assert.equal(await history.knownDevice(other, 'device-1'), false, JSON.stringify(other));
          assert.deepEqual(await history.recentLogins(other, 10), [], JSON.stringify(other));
        }
        assert.equal(await history.knownDevice(user, 'DEVICE-1'), false, 'device ids are exact too');
      }));

    test('recent logins: newest first, exactly as recorded, at most n', () =>
      withHistory(async (history) => {
        const user = userName();
        for (let i = 0; i < 5; i++) await history.recordLogin(user, login(i));
        assert.deepEqual(await history.recentLogins(user, 3), [login(4), login(3), login(2)]);
        assert.deepEqual(await history.recentLogins(user, 1), [login(4)]);
        assert.deepEqual(await history.recentLogins(user, 10), [login(4), login(3), login(2), login(1), login(0)]);
        assert.deepEqual(await history.recentLogins(user, 0), []);
      }));

    test('recent logins: n is floored, and negative or NaN n give none', () =>
      withHistory(async (history) => {
        const user = userName();
        for (let i = 0; i < 4; i++) await history.recordLogin(user, login(i));
        assert.deepEqual(await history.recentLogins(user, 2.7), [login(3), login(2)]);
        assert.deepEqual(await history.recentLogins(user, 0.5), []);
        assert.deepEqual(await history.recentLogins(user, -1), []);
        assert.deepEqual(await history.recentLogins(user, Number.NaN), []);
        assert.equal((await history.recentLogins(user, Number.POSITIVE_INFINITY)).length, 4);
      }));

    test('recent logins keep empty and unusual strings intact', () =>
      withHistory(async (history) => {
        const user = userName();
        const odd: LoginRecord = { network: '2001:db8:1::/48', userAgent: '', at: T0 };
        const unicode: LoginRecord = { network: '203.0.113.0/24', userAgent: 'Agent “ü” 🙂 \u0000 end', at: T0 + 1 };
        await history.recordLogin(user, odd);
        await history.recordLogin(user, unicode);
        assert.deepEqual(await history.recentLogins(user, 2), [unicode, odd]);
      }));

    test('at most 20 devices per account by default: the least recently seen is forgotten', () =>
      withHistory(async (history) => {
        const user = userName();
        const other = userName('other');
        await history.rememberDevice(other, 'device-0', T0);
        for (let i = 0; i < 20; i++) await history.rememberDevice(user, `device-${i}`, T0 + i * 1000);
        for (let i = 0; i < 20; i++) assert.equal(await history.knownDevice(user, `device-${i}`), true, `device-${i}`);
        // device-0 is seen again: device-1 is now the least recently seen.
        await history.rememberDevice(user, 'device-0', T0 + 100_000);
        await history.rememberDevice(user, 'device-20', T0 + 101_000);
        assert.equal(await history.knownDevice(user, 'device-1'), false, 'the least recently seen is forgotten');
        assert.equal(await history.knownDevice(user, 'device-0'), true, 'a refreshed device is kept');
        for (let i = 2; i <= 20; i++) assert.equal(await history.knownDevice(user, `device-${i}`), true, `device-${i}`);
        await history.rememberDevice(user, 'device-21', T0 + 102_000);
        assert.equal(await history.knownDevice(user, 'device-2'), false);
        assert.equal(await history.knownDevice(user, 'device-21'), true);
        assert.equal(await history.knownDevice(other, 'device-0'), true, 'another account’s devices are untouched');
      }));

    test('at most 100 logins per account by default: the oldest are forgotten', () =>
      withHistory(async (history) => {
        const user = userName();
        const other = userName('other');
        await history.recordLogin(other, login(0));
        for (let i = 0; i < 105; i++) await history.recordLogin(user, login(i));
        const all = await history.recentLogins(user, 1000);
        assert.equal(all.length, 100);
        assert.deepEqual(all[0], login(104), 'the newest is first');
        assert.deepEqual(all.at(-1), login(5), 'the five oldest are gone');
        assert.deepEqual(
          all.map((entry) => entry.at),
          Array.from({ length: 100 }, (_, i) => login(104 - i).at),
        );
        assert.deepEqual(await history.recentLogins(other, 1000), [login(0)], 'another account’s logins are untouched');
      }));

    test('configured bounds are honoured', () =>
      withHistory(
        async (history) => {
          const user = userName();
          for (let i = 0; i < 4; i++) await history.rememberDevice(user, `device-${i}`, T0 + i);
          assert.deepEqual(
            await Promise.all([0, 1, 2, 3].map((i) => history.knownDevice(user, `device-${i}`))),
            [false, false, true, true],
          );
          for (let i = 0; i < 5; i++) await history.recordLogin(user, login(i));
          assert.deepEqual(await history.recentLogins(user, 10), [login(4), login(3), login(2)]);
        },
        { maxDevicesPerUser: 2, maxLoginsPerUser: 3 },
      ));

    test('the device just remembered is kept even when its time is older than the others’', () =>
      withHistory(
        async (history) => {
          const user = userName();
          await history.rememberDevice(user, 'device-a', T0 + 10_000);
          await history.rememberDevice(user, 'device-b', T0 + 20_000);
          await history.rememberDevice(user, 'device-c', T0); // a process whose clock is behind
          assert.equal(await history.knownDevice(user, 'device-c'), true);
          assert.equal(await history.knownDevice(user, 'device-a'), false);
          assert.equal(await history.knownDevice(user, 'device-b'), true);
        },
        { maxDevicesPerUser: 2 },
      ));

    test('recordVerifiedLogin makes the device known and stores the network prefix and agent', () =>
      withHistory(async (history) => {
        const user = userName();
        const clock = new ManualClock(T0);
        const input = { history, clock, user, deviceId: 'device-1', clientAddress: '203.0.113.77', userAgent: CHROME };
        await recordVerifiedLogin(input);
        clock.advance(60_000);
        await recordVerifiedLogin({ ...input, clientAddress: '2001:db8:1:2::5' });
        assert.equal(await history.knownDevice(user, 'device-1'), true);
        assert.deepEqual(await history.recentLogins(user, 5), [
          { network: networkPrefix('2001:db8:1:2::5'), userAgent: CHROME, at: T0 + 60_000 },
          { network: networkPrefix('203.0.113.77'), userAgent: CHROME, at: T0 },
        ]);
      }));
  });
}
