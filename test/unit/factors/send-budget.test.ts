import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SEND_LIMITS, SendBudget, type SendBudgetLimits } from '../../../src/factors/send-budget.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { MemoryStore } from '../../../src/store/memory.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function setup(limits: Partial<SendBudgetLimits> = {}) {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  const budget = new SendBudget(store, limits);
  return { clock, store, budget };
}

async function reserveOk(budget: SendBudget, account: string, destination: string, address: string) {
  const result = await budget.reserve(account, destination, address);
  assert.deepEqual(result, { ok: true }, `${account} → ${destination} from ${address}`);
}

describe('SendBudget: defaults', () => {
  test('account 10/h, destination 3/10 min, address 20/h, global 1000/h', () => {
    assert.deepEqual(DEFAULT_SEND_LIMITS, {
      perAccount: { max: 10, windowMs: HOUR },
      perDestination: { max: 3, windowMs: 10 * MINUTE },
      perAddress: { max: 20, windowMs: HOUR },
      global: { max: 1000, windowMs: HOUR },
    });
    const { budget } = setup();
    assert.deepEqual(budget.limits, DEFAULT_SEND_LIMITS);
  });

  test('a destination gets 3 sends per 10 minutes, then again after the window', async () => {
    const { clock, budget } = setup();
    for (let i = 0; i < 3; i++) await reserveOk(budget, `acct${i}`, '+15550100', `198.51.100.${i}`);
    clock.advance(4 * MINUTE);
    assert.deepEqual(await budget.reserve('acct9', '+15550100', '198.51.100.9'), {
      ok: false,
      scope: 'destination',
      retryAfterMs: 6 * MINUTE,
    });
    clock.advance(6 * MINUTE);
    await reserveOk(budget, 'acct9', '+15550100', '198.51.100.9');
  });
});

describe('SendBudget: each scope refuses with its retry time', () => {
  test('account', async () => {
    const { clock, budget } = setup();
    for (let i = 0; i < 10; i++) {
      await reserveOk(budget, 'alice@example.com', `+1555010${i}`, `203.0.113.${i}`);
      clock.advance(MINUTE);
    }
    assert.deepEqual(await budget.reserve('Alice@Example.com', '+15559999', '203.0.113.99'), {
      ok: false,
      scope: 'account',
      retryAfterMs: HOUR - 10 * MINUTE,
    });
  });

  test('address', async () => {
    const { budget } = setup({ perAddress: { max: 2, windowMs: HOUR } });
    await reserveOk(budget, 'a', '+1', '192.0.2.1');
    await reserveOk(budget, 'b', '+2', '192.0.2.1');
    assert.deepEqual(await budget.reserve('c', '+3', '192.0.2.1'), { ok: false, scope: 'address', retryAfterMs: HOUR });
    await reserveOk(budget, 'c', '+3', '192.0.2.2');
  });

  test('global', async () => {
    const { budget } = setup({ global: { max: 3, windowMs: HOUR } });
    for (let i = 0; i < 3; i++) await reserveOk(budget, `u${i}`, `+${i}`, `192.0.2.${i}`);
    assert.deepEqual(await budget.reserve('u9', '+9', '192.0.2.9'), { ok: false, scope: 'global', retryAfterMs: HOUR });
  });

  test('destination is case-insensitive (email addresses)', async () => {
    const { budget } = setup();
    for (let i = 0; i < 3; i++) await reserveOk(budget, `u${i}`, i % 2 ? 'Bob@Example.com' : 'bob@example.com', `192.0.2.${i}`);
    const refused = await budget.reserve('u9', 'BOB@EXAMPLE.COM', '192.0.2.9');
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.scope, 'destination');
  });
});

describe('SendBudget: refusals give back the slots taken in other scopes', () => {
  test('refused by destination: the account, address and global slots are returned', async () => {
    const { store, budget } = setup();
    for (let i = 0; i < 3; i++) await reserveOk(budget, 'victim-filler', '+15550123', `198.51.100.${i}`);
    assert.equal(await store.get('send:account:victim-filler'), '3');
    assert.equal(await store.get('send:global'), '3');

    for (let i = 0; i < 5; i++) {
      const refused = await budget.reserve('mallory', '+15550123', '203.0.113.7');
      assert.equal(!refused.ok && refused.scope, 'destination');
    }
    assert.equal(await store.get('send:account:mallory'), '0', 'account slots given back');
    assert.equal(await store.get('send:destination:+15550123'), '3', 'the overshoot is given back too');
    assert.equal(await store.get('send:address:203.0.113.7'), null, 'never reached');
    assert.equal(await store.get('send:global'), '3', 'global unchanged by refusals');
  });

  test('refused by global: account, destination and address are returned, and can still be used', async () => {
    const { store, budget } = setup({ global: { max: 1, windowMs: HOUR }, perAccount: { max: 1, windowMs: HOUR } });
    await reserveOk(budget, 'first', '+1', '192.0.2.1');
    const refused = await budget.reserve('second', '+2', '192.0.2.2');
    assert.equal(!refused.ok && refused.scope, 'global');
    assert.deepEqual(
      await store.getMany(['send:account:second', 'send:destination:+2', 'send:address:192.0.2.2', 'send:global']),
      ['0', '0', '0', '1'],
    );
  });

  test('a refused account does not lose its budget because of another scope', async () => {
    const { clock, budget } = setup({ perAccount: { max: 2, windowMs: HOUR }, global: { max: 2, windowMs: 10 * MINUTE } });
    await reserveOk(budget, 'x', '+1', '192.0.2.1');
    await reserveOk(budget, 'y', '+2', '192.0.2.2');
    // Global is exhausted: x is refused three times, which must not use up x's remaining slot.
    for (let i = 0; i < 3; i++) assert.equal(((await budget.reserve('x', '+3', '192.0.2.3')) as { scope?: string }).scope, 'global');
    clock.advance(10 * MINUTE);
    await reserveOk(budget, 'x', '+3', '192.0.2.3');
  });

  test('parallel reservations never exceed a limit', async () => {
    const { store, budget } = setup({ perDestination: { max: 3, windowMs: 10 * MINUTE } });
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => budget.reserve(`acct${i}`, '+15550199', `198.51.100.${i % 50}`)),
    );
    assert.equal(results.filter((r) => r.ok).length, 3);
    assert.equal(results.filter((r) => !r.ok && r.scope === 'destination').length, 97);
    assert.equal(await store.get('send:global'), '3');
  });
});

describe('SendBudget: validation', () => {
  test('bad limits and keys are refused', async () => {
    const store = new MemoryStore(new ManualClock());
    assert.throws(() => new SendBudget(store, { perAccount: { max: 0, windowMs: HOUR } }), RangeError);
    assert.throws(() => new SendBudget(store, { global: { max: 5, windowMs: 0 } }), RangeError);
    const budget = new SendBudget(store);
    await assert.rejects(budget.reserve('', '+1', '192.0.2.1'), RangeError);
    await assert.rejects(budget.reserve('a', '', '192.0.2.1'), RangeError);
    await assert.rejects(budget.reserve('a', '+1', ''), RangeError);
  });
});

describe('SendBudget: a code entered correctly gives its slot back (issue 13)', () => {
  test('the account and destination slots come back; the address and global ones do not', async () => {
    const { clock, store, budget } = setup({ perAddress: { max: 3, windowMs: HOUR }, global: { max: 4, windowMs: HOUR } });
    for (let i = 0; i < 3; i++) {
      await reserveOk(budget, 'alice@example.com', '+15550100', '203.0.113.1');
      assert.equal(await budget.giveBack('alice@example.com', '+15550100', await budget.receipt('alice@example.com', '+15550100', clock.now()), clock.now()), true);
    }
    assert.equal(await store.get('send:destination:+15550100'), '0');
    assert.equal(await store.get('send:account:alice@example.com'), '0');
    const refused = await budget.reserve('alice@example.com', '+15550100', '203.0.113.1');
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.scope, 'address', 'the address still counts every send');
  });

  test('a window that ended took its slot with it: a later window is not given a slot it never spent', async () => {
    const { clock, store, budget } = setup();
    await reserveOk(budget, 'alice@example.com', '+15550100', '203.0.113.1');
    const receipt = await budget.receipt('alice@example.com', '+15550100', clock.now());
    clock.advance(10 * MINUTE);
    await reserveOk(budget, 'bob@example.com', '+15550100', '203.0.113.2');
    clock.advance(MINUTE);
    await budget.giveBack('alice@example.com', '+15550100', receipt, clock.now());
    assert.equal(await store.get('send:destination:+15550100'), '1', 'the new window keeps the send it counted');
  });

  test('give-backs are capped at perAccount.max per window', async () => {
    const { clock, budget } = setup({ perAccount: { max: 2, windowMs: HOUR } });
    const results: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      await reserveOk(budget, 'alice@example.com', `+1555010${i}`, '203.0.113.1');
      results.push(await budget.giveBack('alice@example.com', `+1555010${i}`, await budget.receipt('alice@example.com', `+1555010${i}`, clock.now()), clock.now()));
    }
    assert.deepEqual(results, [true, true, false]);
    await reserveOk(budget, 'alice@example.com', '+15550199', '203.0.113.1');
    const refused = await budget.reserve('alice@example.com', '+15550198', '203.0.113.1');
    assert.equal(!refused.ok && refused.scope, 'account');
  });
});
