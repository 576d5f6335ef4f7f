import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.ts';
import { MemoryStore } from '../../../src/store/memory.ts';
import { addressKey, Regulation, type AttemptOutcome, type RegulationLimits } from '../../../src/flows/regulation.ts';

const MINUTE = 60_000;
const ACCOUNT: RegulationLimits = { maxFailures: 3, windowMs: 120_000, banMs: 300_000, maxBanMs: 86_400_000 };
const ADDRESS: RegulationLimits = { maxFailures: 20, windowMs: 600_000, banMs: 300_000, maxBanMs: 86_400_000 };
const IP = '198.51.100.7';

function setup() {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  const regulation = new Regulation(store, { account: ACCOUNT, address: ADDRESS });
  return { clock, store, regulation };
}

/** One attempt that gets through the gate and ends with `outcome`. */
async function attempt(regulation: Regulation, account: string, address: string, outcome: AttemptOutcome): Promise<void> {
  const reservation = await regulation.reserve(account, address);
  assert.ok(reservation.ok, `expected ${account} from ${address} to get a slot, got ${JSON.stringify(reservation)}`);
  await reservation.settle(outcome);
}

async function refused(regulation: Regulation, account: string, address: string) {
  const reservation = await regulation.reserve(account, address);
  assert.equal(reservation.ok, false, `expected ${account} from ${address} to be refused`);
  return reservation as Extract<typeof reservation, { ok: false }>;
}

async function failTimes(regulation: Regulation, n: number, account: string, address = IP): Promise<void> {
  for (let i = 0; i < n; i++) await attempt(regulation, account, address, 'failure');
}

describe('Regulation: bans of an account from one address', () => {
  test('three failures ban the account for 5 minutes; the ban ends with the clock', async () => {
    const { clock, regulation } = setup();
    await failTimes(regulation, 2, 'alice');
    assert.equal(await regulation.banned('alice', IP), null, 'two failures are not a ban');
    await failTimes(regulation, 1, 'alice');
    const r = await refused(regulation, 'alice', IP);
    assert.equal(r.subject, 'account');
    assert.equal(r.retryAfterMs, 300_000);
    // Issue 14 item 5 (T21): the ban closes this account from this address only, not for everyone.
    assert.equal(await regulation.banned('alice', '203.0.113.9'), null, 'another address is not banned');
    await attempt(regulation, 'alice', '203.0.113.9', 'success');

    clock.advance(300_000 - 1);
    assert.equal((await refused(regulation, 'alice', IP)).retryAfterMs, 1);
    clock.advance(1);
    assert.equal(await regulation.banned('alice', IP), null);
    await attempt(regulation, 'alice', IP, 'success');
  });

  test('a ban does not touch other accounts', async () => {
    const { regulation } = setup();
    await failTimes(regulation, 3, 'alice');
    await attempt(regulation, 'bob', '203.0.113.9', 'success');
  });

  test('failures outside the window do not add up', async () => {
    const { clock, regulation } = setup();
    await failTimes(regulation, 2, 'alice');
    clock.advance(ACCOUNT.windowMs);
    await failTimes(regulation, 2, 'alice');
    assert.equal(await regulation.banned('alice', IP), null);
    await failTimes(regulation, 1, 'alice');
    assert.equal((await regulation.banned('alice', IP))?.subject, 'account');
  });

  test('a repeat ban doubles (10 min), then keeps doubling up to maxBanMs', async () => {
    const { clock, regulation } = setup();
    const expected = [5, 10, 20, 40, 80, 160, 320, 640, 1280, 1440].map((m) => m * MINUTE);
    for (const ms of expected) {
      await failTimes(regulation, 3, 'alice');
      assert.equal((await refused(regulation, 'alice', IP)).retryAfterMs, ms, `ban of ${ms / MINUTE} min`);
      clock.advance(ms);
    }
  });

  test('a ban right after a ban at the cap is at the cap again (the lockout does not reset)', async () => {
    const { clock, regulation } = setup();
    for (let level = 0; level < 10; level++) {
      await failTimes(regulation, 3, 'alice');
      const r = await refused(regulation, 'alice', IP);
      clock.advance(r.retryAfterMs);
    }
    // The 10th ban lasted maxBanMs (24 h); three more failures right after it ends:
    await failTimes(regulation, 3, 'alice');
    assert.equal((await refused(regulation, 'alice', IP)).retryAfterMs, ACCOUNT.maxBanMs);
  });

  test('a success clears the account counter', async () => {
    const { regulation } = setup();
    await failTimes(regulation, 2, 'alice');
    await attempt(regulation, 'alice', IP, 'success');
    await failTimes(regulation, 2, 'alice');
    assert.equal(await regulation.banned('alice', IP), null, 'the earlier two failures were forgiven');
    await failTimes(regulation, 1, 'alice');
    assert.equal((await regulation.banned('alice', IP))?.subject, 'account');
  });

  test("a 'neutral' outcome (upstream down) gives the slot back", async () => {
    const { regulation } = setup();
    await failTimes(regulation, 2, 'alice');
    for (let i = 0; i < 10; i++) await attempt(regulation, 'alice', IP, 'neutral');
    assert.equal(await regulation.banned('alice', IP), null);
    // The third slot was given back each time, so the next failure is the third and bans.
    await failTimes(regulation, 1, 'alice');
    assert.equal((await refused(regulation, 'alice', IP)).retryAfterMs, 300_000);
  });

  test('a slot given back after its window closed does not turn into credit for later guesses', async () => {
    const { clock, regulation } = setup();
    const slow = await regulation.reserve('alice', IP); // opens the window
    assert.ok(slow.ok);
    clock.advance(ACCOUNT.windowMs); // the window closes while the upstream is still answering
    await slow.settle('neutral');
    await failTimes(regulation, 3, 'alice');
    assert.equal((await regulation.banned('alice', IP))?.subject, 'account', 'a 4th guess in the window would be allowed');
  });

  test('settling twice counts once', async () => {
    const { regulation } = setup();
    await failTimes(regulation, 2, 'alice');
    const r = await regulation.reserve('alice', IP);
    assert.ok(r.ok);
    await r.settle('neutral');
    await r.settle('neutral');
    await r.settle('failure');
    // The two earlier failures are still counted (a double give-back would have hidden one).
    await failTimes(regulation, 1, 'alice');
    assert.equal((await regulation.banned('alice', IP))?.subject, 'account');
  });
});

describe('Regulation: address bans', () => {
  test('failures spread over many accounts from one address ban the address at 20', async () => {
    const { regulation } = setup();
    for (let i = 1; i <= 19; i++) await failTimes(regulation, 1, `user${i}`);
    assert.equal(await regulation.banned('user20', IP), null);
    await failTimes(regulation, 1, 'user20');
    const r = await refused(regulation, 'someone-new', IP);
    assert.equal(r.subject, 'address');
    assert.equal(r.retryAfterMs, ADDRESS.banMs);
    await attempt(regulation, 'someone-new', '203.0.113.9', 'success'); // other addresses are fine
  });

  test('a success does not launder the address counter', async () => {
    const { regulation } = setup();
    for (let i = 1; i <= 19; i++) await failTimes(regulation, 1, `user${i}`);
    await attempt(regulation, 'attacker-own-account', IP, 'success');
    await attempt(regulation, 'attacker-own-account', IP, 'success');
    await failTimes(regulation, 1, 'user20');
    assert.equal((await regulation.banned('anyone', IP))?.subject, 'address', 'the 20th failure still bans');
  });
});

describe('Regulation: races (THREATS T8)', () => {
  test('200 concurrent reserves for one account let exactly 3 through; once they fail the account is banned', async () => {
    const { regulation } = setup();
    const results = await Promise.all(Array.from({ length: 200 }, () => regulation.reserve('alice', IP)));
    const passed = results.filter((r) => r.ok);
    const stopped = results.filter((r) => !r.ok);
    assert.equal(passed.length, 3);
    assert.equal(stopped.length, 197);
    for (const r of stopped) assert.equal(r.subject, 'account');
    await Promise.all(passed.map((r) => r.settle('failure')));
    const r = await refused(regulation, 'alice', IP);
    assert.equal(r.subject, 'account');
    assert.equal(r.retryAfterMs, 300_000);
    // The 197 refused attempts took nothing from the address budget: 3 used, 17 left.
    for (let i = 1; i <= 16; i++) await failTimes(regulation, 1, `other${i}`);
    assert.equal(await regulation.banned('other17', IP), null);
    await failTimes(regulation, 1, 'other17');
    assert.equal((await regulation.banned('other18', IP))?.subject, 'address');
  });

  test('200 concurrent reserves for 200 accounts from one address let exactly 20 through and give the rest back', async () => {
    const { regulation } = setup();
    const accounts = Array.from({ length: 200 }, (_, i) => `victim${i}`);
    const results = await Promise.all(accounts.map((a) => regulation.reserve(a, IP)));
    assert.equal(results.filter((r) => r.ok).length, 20);
    for (const r of results) if (!r.ok) assert.equal(r.subject, 'address');
    await Promise.all(results.map((r) => (r.ok ? r.settle('neutral') : undefined)));
    // Refused accounts had their account slot returned: each can still fail twice unbanned from elsewhere.
    const refusedAccount = accounts[results.findIndex((r) => !r.ok)] as string;
    await failTimes(regulation, 2, refusedAccount, '203.0.113.9');
    assert.equal(await regulation.banned(refusedAccount, '203.0.113.9'), null);
  });
});

describe('Regulation: IPv6 and unlock', () => {
  test('IPv6 addresses in one /64 share a key; different /64s do not', () => {
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), addressKey('2001:db8:1:2:bbbb::9'));
    assert.equal(addressKey('2001:DB8:1:2::1'), addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'));
    assert.equal(addressKey('2001:db8::1'), addressKey('2001:db8:0:0:1::'));
    assert.notEqual(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'));
    assert.notEqual(addressKey('2001:db8::1'), addressKey('2001:db9::1'));
    assert.notEqual(addressKey('198.51.100.7'), addressKey('198.51.100.8'), 'IPv4 addresses are counted one by one');
  });

  test('failures from one /64 add up across its addresses', async () => {
    const { regulation } = setup();
    for (let i = 1; i <= 20; i++) await failTimes(regulation, 1, `user${i}`, `2001:db8:1:2:${i.toString(16)}::1`);
    assert.equal((await regulation.banned('new', '2001:db8:1:2:ffff::7'))?.subject, 'address');
    assert.equal(await regulation.banned('new', '2001:db8:1:3::1'), null, 'the neighbouring /64 is not banned');
  });

  test('unlock clears the ban, the counters and the ban level', async () => {
    const { clock, regulation } = setup();
    await failTimes(regulation, 3, 'alice');
    clock.advance(300_000);
    await failTimes(regulation, 3, 'alice'); // now at a 10-minute ban
    await failTimes(regulation, 2, 'bob');
    await regulation.unlock('alice');
    await regulation.unlock('bob');
    assert.equal(await regulation.banned('alice', IP), null);
    await failTimes(regulation, 2, 'alice');
    await failTimes(regulation, 2, 'bob'); // bob's earlier two were cleared
    assert.equal(await regulation.banned('bob', IP), null);
    await failTimes(regulation, 1, 'alice');
    assert.equal((await refused(regulation, 'alice', IP)).retryAfterMs, 300_000, 'back to the first ban length');
  });

  test('unlock with an address clears the address ban too', async () => {
    const { regulation } = setup();
    for (let i = 1; i <= 20; i++) await failTimes(regulation, 1, `user${i}`);
    assert.equal((await regulation.banned('alice', IP))?.subject, 'address');
    await regulation.unlock('alice');
    assert.equal((await regulation.banned('alice', IP))?.subject, 'address', 'an account unlock leaves the address');
    await regulation.unlock('alice', IP);
    assert.equal(await regulation.banned('alice', IP), null);
    await attempt(regulation, 'alice', IP, 'success');
  });
});

describe('Regulation: known devices and account-wide slowing (THREATS T21)', () => {
  const THROTTLE = { after: 6, windowMs: 15 * MINUTE, delayMs: 1_000, maxDelayMs: 8_000 };
  const DEVICE = 'owner-device-id-0001';

  function withThrottle() {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    const attacks: string[] = [];
    const regulation = new Regulation(store, { account: ACCOUNT, address: ADDRESS }, '', undefined, {
      throttle: THROTTLE,
      onAttack: async (account, event) => {
        attacks.push(`${account}:${event}`);
      },
    });
    return { clock, store, regulation, attacks };
  }

  test("a known device is counted by itself: the attacker's ban elsewhere does not close it, and its own failures do not close the address", async () => {
    const { regulation, attacks } = withThrottle();
    await failTimes(regulation, 3, 'alice', '203.0.113.66');
    assert.equal((await refused(regulation, 'alice', '203.0.113.66')).subject, 'account');
    assert.deepEqual(attacks, ['alice:origin_locked'], 'the owner is told');
    const owner = await regulation.reserve('alice', '203.0.113.66', undefined, { knownDevice: DEVICE });
    assert.ok(owner.ok, 'the owner on a known device at the very same address still gets through');
    await owner.settle('success');

    for (let i = 0; i < 3; i++) {
      const r = await regulation.reserve('alice', IP, undefined, { knownDevice: DEVICE });
      assert.ok(r.ok);
      await r.settle('failure');
    }
    const closed = await regulation.reserve('alice', IP, undefined, { knownDevice: DEVICE });
    assert.equal(closed.ok, false);
    if (!closed.ok) assert.equal(closed.subject, 'device', 'three failures close that device');
    await attempt(regulation, 'alice', IP, 'success'); // the address itself is open
  });

  test('account-wide failures from unknown places slow sign-in (bounded, doubling delays) but never ban it', async () => {
    const { clock, regulation, attacks } = withThrottle();
    // Six failures from six addresses: each address is far from its own ban.
    for (let i = 1; i <= 6; i++) await failTimes(regulation, 1, 'alice', `198.51.100.${i}`);
    assert.ok(attacks.includes('alice:throttled'), `the owner is told: ${JSON.stringify(attacks)}`);
    // From now on one attempt per delay, for any unknown origin: 1 s, then 2, 4, 8, 8 (the cap).
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      await failTimes(regulation, 1, 'alice', `192.0.2.${i + 1}`); // takes the free slot, fails
      const r = await refused(regulation, 'alice', `192.0.2.${100 + i}`);
      assert.equal(r.subject, 'throttle');
      waits.push(r.retryAfterMs);
      clock.advance(r.retryAfterMs);
    }
    assert.deepEqual(waits, [1_000, 2_000, 4_000, 8_000, 8_000], 'the delay doubles up to max_delay and no further');
    // A known device is never slowed; the owner's success ends the slowing for everyone.
    await failTimes(regulation, 1, 'alice', '192.0.2.200');
    const owner = await regulation.reserve('alice', '192.0.2.201', undefined, { knownDevice: DEVICE });
    assert.ok(owner.ok, 'a known device is not slowed');
    await owner.settle('success');
    await attempt(regulation, 'alice', '192.0.2.202', 'failure');
    await attempt(regulation, 'alice', '192.0.2.203', 'failure');
  });

  test('200 concurrent reserves from one address at the slowed account: at most one gets through', async () => {
    const { regulation } = withThrottle();
    for (let i = 1; i <= 6; i++) await failTimes(regulation, 1, 'alice', `198.51.100.${i}`);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => regulation.reserve('alice', `203.0.113.${i % 200}`)));
    assert.equal(results.filter((r) => r.ok).length, 1);
  });

  test('200 parallel guesses from 200 addresses (a botnet): attempts in flight count, so only after + 1 are judged', async () => {
    const { regulation } = withThrottle();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => regulation.reserve('alice', `10.0.${i >> 8}.${i & 255}`)));
    const passed = results.filter((r) => r.ok);
    assert.equal(passed.length, THROTTLE.after + 1, 'the first `after` pass freely, then one per delay');
    for (const r of results) if (!r.ok) assert.equal(r.subject, 'throttle');
  });

  test('unlock starts every origin of the account afresh (epoch), including bans at other addresses and devices', async () => {
    const { regulation } = withThrottle();
    await failTimes(regulation, 3, 'alice', '203.0.113.66');
    for (let i = 0; i < 3; i++) {
      const r = await regulation.reserve('alice', IP, undefined, { knownDevice: DEVICE });
      assert.ok(r.ok);
      await r.settle('failure');
    }
    await regulation.unlock('alice');
    await attempt(regulation, 'alice', '203.0.113.66', 'success');
    const r = await regulation.reserve('alice', IP, undefined, { knownDevice: DEVICE });
    assert.ok(r.ok, 'the device is open again');
  });

  test("the failure that closes an origin says for how long; the one before says it is the last", async () => {
    const { regulation } = withThrottle();
    const first = await regulation.reserve('alice', IP);
    assert.ok(first.ok);
    assert.equal(first.remaining, 2);
    assert.deepEqual(await first.settle('failure'), { lockedForMs: null });
    await failTimes(regulation, 1, 'alice');
    const last = await regulation.reserve('alice', IP);
    assert.ok(last.ok);
    assert.equal(last.remaining, 0);
    assert.deepEqual(await last.settle('failure'), { lockedForMs: 300_000 });
  });
});
