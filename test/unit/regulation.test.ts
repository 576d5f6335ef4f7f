import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/server/providers.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { addressKey, Regulation, type AttemptOutcome, type RegulationLimits } from '../../src/flows/regulation.ts';

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

describe('Regulation: account bans', () => {
  test('three failures ban the account for 5 minutes; the ban ends with the clock', async () => {
    const { clock, regulation } = setup();
    await failTimes(regulation, 2, 'alice');
    assert.equal(await regulation.banned('alice', IP), null, 'two failures are not a ban');
    await failTimes(regulation, 1, 'alice');
    const r = await refused(regulation, 'alice', IP);
    assert.equal(r.subject, 'account');
    assert.equal(r.retryAfterMs, 300_000);
    assert.deepEqual(await regulation.banned('alice', '203.0.113.9'), { subject: 'account', retryAfterMs: 300_000 }, 'from any address');

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
