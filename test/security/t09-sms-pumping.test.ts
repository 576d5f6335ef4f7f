import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GENEROUS_BUDGETS,
  MERCHANT,
  MERCHANT_PHONE,
  OWNER,
  PASSWORD,
  codeMessages,
  enrollDirectly,
  expectStatus,
  factorsConfig,
  lastCode,
  verifyIdentity,
  withClockedStack,
  type ApiReply,
  type ClockedStack,
  type GuardClient,
} from '../helpers/two-factor.ts';

/**
 * THREATS T9 — SMS pumping and resend abuse. Providers cap around 3 sends per number per 10
 * minutes; the sidecar keeps per-account, per-destination, per-client-address and global budgets,
 * sends SMS only to allowed countries, and a resend replaces (kills) the previous code. A code
 * entered correctly gives its account and destination slots back (issue 13), so these limits are
 * met by codes nobody enters: resend loops and pumping (test/integration/send-budget-journeys).
 */

const MINUTE = 60_000;
const COOLDOWN = 61_000;

type Budgets = Record<string, unknown>;

function run<T>(fn: (s: ClockedStack) => Promise<T>, factors: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<T> {
  return withClockedStack({ config: { factors: factorsConfig(factors).factors, ...extra } }, fn);
}

function budgets(overrides: Budgets): Budgets {
  return { ...GENEROUS_BUDGETS, ...overrides };
}

function smsTo(s: ClockedStack, phone: string): number {
  return codeMessages(s.stack.outboxFile, phone).length;
}

function assertCodeSent(reply: ApiReply, what: string): void {
  assert.equal(reply.status, 200, `${what}: ${reply.text}`);
  assert.equal(reply.body['status'], 'verification_required', what);
  assert.equal(reply.body['delivery_error'], undefined, `${what}: ${reply.text}`);
}

function assertNotSent(reply: ApiReply, what: string): void {
  assert.equal(reply.status, 200, `${what}: ${reply.text}`);
  assert.equal(reply.body['status'], 'verification_required', what);
  assert.equal(typeof reply.body['delivery_error'], 'string', `${what}: the answer must say no code was sent: ${reply.text}`);
}

// ---------------------------------------------------------------------------------------------

describe('T9: per-destination budget (3 per 10 minutes, the defaults)', () => {
  test('the 4th SMS to one number within 10 minutes is refused, across resends and new logins; the window then reopens', () =>
    run(async (s) => {
      await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
      const a = s.client();
      assertCodeSent(await a.login(), 'login A (send 1)');
      s.clock.advance(COOLDOWN);
      expectStatus(await a.resend(), 200, 'resend A (send 2)');
      const b = s.client();
      assertCodeSent(await b.login(), 'login B (send 3)');
      const codeB = lastCode(s.stack.outboxFile, MERCHANT_PHONE);
      assert.equal(smsTo(s, MERCHANT_PHONE), 3);

      s.clock.advance(COOLDOWN);
      const fourth = await b.resend();
      assert.equal(fourth.status, 429, `4th send by resend: ${fourth.text}`);
      assert.equal(fourth.body['error'], 'too_many_codes');
      const retry = fourth.body['retry_after'] as number;
      assert.ok(retry > 60 && retry <= 600, `retry_after is the rest of the 10-minute window: ${retry}`);
      const c = s.client();
      assertNotSent(await c.login(), '4th send by a new login');
      assert.equal(smsTo(s, MERCHANT_PHONE), 3, 'no 4th SMS reached the number');

      // The refused resend left B's code alive ("use the code you already have").
      const ok = await b.verify(codeB);
      assert.equal(ok.status, 200, ok.text);

      s.clock.advance(10 * MINUTE);
      const d = s.client();
      assertCodeSent(await d.login(), 'after the window');
      assert.equal(smsTo(s, MERCHANT_PHONE), 4);
      expectStatus(await d.verify(lastCode(s.stack.outboxFile, MERCHANT_PHONE)), 200, 'the new code');
    }));

  test('resends refused by the 60 s cooldown send nothing, so they cost none of the 3 sends', () =>
    run(async (s) => {
      await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
      const client = s.client();
      assertCodeSent(await client.login(), 'login (send 1)');
      for (let i = 0; i < 3; i++) {
        const early = await client.resend();
        assert.equal(early.status, 429, `resend within the cooldown: ${early.text}`);
      }
      assert.equal(smsTo(s, MERCHANT_PHONE), 1, 'only one SMS went out');
      s.clock.advance(COOLDOWN);
      const resend = await client.resend();
      assert.equal(resend.status, 200, `the 2nd SMS in 10 minutes was refused after impatient clicks on "resend": ${resend.text}`);
      expectStatus(await client.verify(lastCode(s.stack.outboxFile, MERCHANT_PHONE)), 200, 'the resent code');
    }));

  test('the identity and enable codes of the settings flows count against the same budget; only the entered identity code gives its slot back', () =>
    run(
      async (s) => {
        const client = await s.signedIn();
        expectStatus(await client.enableStart(PASSWORD), 200, 'start');
        expectStatus(await client.enableIdentity('sms'), 200, 'identity by sms (send 1, never entered)');
        s.clock.advance(COOLDOWN);
        expectStatus(await client.enableIdentity('sms'), 200, 'identity again (send 2, entered: its slot comes back)');
        expectStatus(await client.enableIdentityVerify(lastCode(s.stack.outboxFile, MERCHANT_PHONE)), 200, 'identity/verify');
        // The phone that proved identity cannot also become the second step (T24): the enable codes
        // to that phone come from a flow whose identity was proved by email.
        expectStatus(await client.enableStart(PASSWORD), 200, 'start again');
        s.clock.advance(COOLDOWN);
        expectStatus(await client.enableIdentity('email'), 200, 'identity by email');
        expectStatus(await client.enableIdentityVerify(lastCode(s.stack.outboxFile, MERCHANT)), 200, 'identity/verify by email');
        s.clock.advance(COOLDOWN);
        expectStatus(await client.enableMethod('sms'), 200, 'method sms (send 3; 2 counted)');
        s.clock.advance(COOLDOWN);
        expectStatus(await client.enableMethod('sms'), 200, 'method sms again (send 4; 3 counted)');
        s.clock.advance(COOLDOWN);
        const fifth = await client.enableMethod('sms');
        assert.equal(fifth.status, 429, `a 4th code nobody entered in 10 minutes: ${fifth.text}`);
        assert.equal(fifth.body['error'], 'too_many_codes');
        assert.equal(smsTo(s, MERCHANT_PHONE), 4);
      },
      { send_budget: budgets({ per_destination: { max: 3, window: '10m' } }) },
    ));
});

// ---------------------------------------------------------------------------------------------

/** Behind a trusted proxy, so the test can speak from several client addresses. */
const BEHIND_PROXY = { trusted_proxies: ['127.0.0.1'] };

function from(s: ClockedStack, address: string): GuardClient {
  return s.client({ 'x-forwarded-for': address });
}

describe('T9: per-address, per-account and global budgets', () => {
  test('per client address: the 3rd send from one address is refused (max 2); another address still gets codes', () =>
    run(
      async (s) => {
        await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
        await enrollDirectly(s.stack, OWNER, 'email', OWNER, s.clock.now());
        assertCodeSent(await from(s, '203.0.113.7').login(MERCHANT), 'merchant from .7');
        assertCodeSent(await from(s, '203.0.113.7').login(OWNER), 'owner from .7');
        assertNotSent(await from(s, '203.0.113.7').login(MERCHANT), 'merchant again from .7 (3rd send of the address)');
        assertNotSent(await from(s, '203.0.113.7').login(OWNER), 'owner again from .7');
        assertCodeSent(await from(s, '198.51.100.9').login(MERCHANT), 'merchant from another address');
        assert.equal(smsTo(s, MERCHANT_PHONE), 2);
        assert.equal(codeMessages(s.stack.outboxFile, OWNER).length, 1);
      },
      { send_budget: budgets({ per_address: { max: 2, window: '1h' } }) },
      BEHIND_PROXY,
    ));

  test('per account: the 3rd send for one account is refused (max 2), whatever the address; another account is unaffected', () =>
    run(
      async (s) => {
        await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
        await enrollDirectly(s.stack, OWNER, 'email', OWNER, s.clock.now());
        assertCodeSent(await from(s, '203.0.113.1').login(MERCHANT), 'merchant 1');
        assertCodeSent(await from(s, '203.0.113.2').login(MERCHANT), 'merchant 2');
        assertNotSent(await from(s, '203.0.113.3').login(MERCHANT), 'merchant 3 (account budget)');
        assertCodeSent(await from(s, '203.0.113.3').login(OWNER), 'owner');
        assert.equal(smsTo(s, MERCHANT_PHONE), 2);
      },
      { send_budget: budgets({ per_account: { max: 2, window: '1h' } }) },
      BEHIND_PROXY,
    ));

  test('global: after 3 sends nobody gets a code (max 3), whichever account or address', () =>
    run(
      async (s) => {
        await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
        await enrollDirectly(s.stack, OWNER, 'email', OWNER, s.clock.now());
        assertCodeSent(await from(s, '203.0.113.1').login(MERCHANT), 'send 1');
        assertCodeSent(await from(s, '203.0.113.2').login(OWNER), 'send 2');
        assertCodeSent(await from(s, '203.0.113.3').login(MERCHANT), 'send 3');
        assertNotSent(await from(s, '203.0.113.4').login(OWNER), 'send 4');
        assertNotSent(await from(s, '203.0.113.5').login(MERCHANT), 'send 5');
        assert.equal(smsTo(s, MERCHANT_PHONE) + codeMessages(s.stack.outboxFile, OWNER).length, 3);
        s.clock.advance(61 * MINUTE);
        assertCodeSent(await from(s, '203.0.113.6').login(OWNER), 'after the global window');
      },
      { send_budget: budgets({ global: { max: 3, window: '1h' } }) },
      BEHIND_PROXY,
    ));

  test('without a trusted proxy, a client-sent X-Forwarded-For does not open a new address budget', () =>
    run(
      async (s) => {
        await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
        assertCodeSent(await from(s, '203.0.113.1').login(MERCHANT), 'send 1');
        assertCodeSent(await from(s, '203.0.113.2').login(MERCHANT), 'send 2');
        assertNotSent(await from(s, '203.0.113.3').login(MERCHANT), 'a spoofed address is the same client');
      },
      { send_budget: budgets({ per_address: { max: 2, window: '1h' } }) },
    ));
});

// ---------------------------------------------------------------------------------------------

describe('T9: resend replaces the previous code', () => {
  for (const method of ['sms', 'email'] as const) {
    test(`${method}: after a resend only the newest code works`, () =>
      run(
        async (s) => {
          const destination = method === 'sms' ? MERCHANT_PHONE : MERCHANT;
          await enrollDirectly(s.stack, MERCHANT, method, destination, s.clock.now());
          const client = s.client();
          assertCodeSent(await client.login(), 'login');
          const first = lastCode(s.stack.outboxFile, destination);
          s.clock.advance(COOLDOWN);
          expectStatus(await client.resend(), 200, 'resend');
          const second = lastCode(s.stack.outboxFile, destination);
          assert.equal(codeMessages(s.stack.outboxFile, destination).length, 2);
          if (first !== second) {
            const old = await client.verify(first);
            assert.equal(old.status, 401, `the replaced code still worked: ${old.text}`);
          }
          expectStatus(await client.verify(second), 200, 'the newest code');
        },
        { send_budget: GENEROUS_BUDGETS },
      ));
  }
});

// ---------------------------------------------------------------------------------------------

describe('T9: SMS country allow-list (factors.sms_countries)', () => {
  const UK = '+44 20 7946 0958';
  const UK_E164 = '+442079460958';
  const CANADA = '+1 604 253 1234';

  test('enrolling a phone outside the list → 400 sms_country_not_allowed, nothing is sent; +1 numbers of other NANP countries too', () =>
    run(
      async (s) => {
        const client = await s.signedIn(OWNER);
        const start = expectStatus(await client.enableStart(PASSWORD), 200, 'start');
        assert.deepEqual(start.body['channels'], ['email'], 'the owner has no phone on file');
        await verifyIdentity(client, { ...s.enroll, password: null });
        for (const phone of [UK, CANADA]) {
          const reply = await client.enableMethod('sms', phone);
          assert.equal(reply.status, 400, `${phone}: ${reply.text}`);
          assert.equal(reply.body['error'], 'sms_country_not_allowed', phone);
        }
        assert.equal(smsTo(s, UK_E164), 0);
        assert.equal(codeMessages(s.stack.outboxFile).filter((m) => m.channel === 'sms').length, 0, 'no SMS at all');
        const us = await client.enableMethod('sms', '+1 555 555 0100');
        assert.equal(us.status, 200, `a US number is allowed: ${us.text}`);
      },
      { send_budget: GENEROUS_BUDGETS, sms_countries: ['US'] },
    ));

  test('an existing enrollment to a country no longer allowed gets no SMS at login or resend', () =>
    run(
      async (s) => {
        await enrollDirectly(s.stack, OWNER, 'sms', UK_E164, s.clock.now());
        const client = s.client();
        const login = await client.login(OWNER);
        assertNotSent(login, 'login');
        const resend = await client.resend();
        assert.equal(resend.status, 400, resend.text);
        assert.equal(resend.body['error'], 'sms_country_not_allowed');
        assert.equal(smsTo(s, UK_E164), 0);
      },
      { send_budget: GENEROUS_BUDGETS, sms_countries: ['US'] },
    ));

  test('with only GB allowed, the US merchant is offered email for identity, and identity by sms is refused', () =>
    run(
      async (s) => {
        const client = await s.signedIn();
        const start = expectStatus(await client.enableStart(PASSWORD), 200, 'start');
        assert.deepEqual(start.body['channels'], ['email']);
        const identity = await client.enableIdentity('sms');
        assert.equal(identity.status, 400, identity.text);
        assert.equal(identity.body['error'], 'sms_country_not_allowed');
        assert.equal(smsTo(s, MERCHANT_PHONE), 0);
      },
      { send_budget: GENEROUS_BUDGETS, sms_countries: ['GB'] },
    ));
});
