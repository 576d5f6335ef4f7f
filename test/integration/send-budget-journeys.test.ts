import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.ts';
import {
  MERCHANT,
  MERCHANT_PHONE,
  PASSWORD,
  codeMessages,
  enrollDirectly,
  expectStatus,
  factorsConfig,
  lastCode,
  withClockedStack,
  type ApiReply,
  type ClockedStack,
  type GuardClient,
} from '../helpers/two-factor.ts';
import { CAMPAIGN_EXPORT, CONTACT_EXPORT, RISK_AT, apiCall, assertExported, assertStepUpRequired, stepUpStart, stepUpVerify } from '../helpers/step-up.ts';

/**
 * Issue 13: the send budgets stop pumping, not people. With the default budgets (3 codes per
 * destination per 10 minutes, 10 per account per hour), a merchant's ordinary journeys back to
 * back within ten minutes never meet a limit, because a code entered correctly gives its slot back;
 * a resend loop (codes nobody enters) still meets it at the 4th send.
 */

const SECONDS = 1000;
/** Every step of the journey advances the sidecar's clock by this much (far less than 10 minutes in all). */
const STEP = 20 * SECONDS;

/** Default send budgets (no `send_budget` given), every request assessed high risk (step-up on every export). */
function run<T>(fn: (s: ClockedStack) => Promise<T>): Promise<T> {
  return withClockedStack({ config: { risk: RISK_AT.high, factors: factorsConfig({}).factors } }, fn, new ManualClock(Date.now()));
}

function refusedForBudget(reply: ApiReply): boolean {
  return reply.status === 429 || typeof reply.body['delivery_error'] === 'string';
}

async function stepUpExport(s: ClockedStack, client: GuardClient, target: string, what: string): Promise<void> {
  const first = await apiCall(client, target);
  assert.equal(first.status, 401, `${what}: the export asks for a step-up: ${first.text.slice(0, 200)}`);
  assertStepUpRequired(first, target, 'email', what);
  const start = expectStatus(await stepUpStart(client), 200, `${what}: step-up/start`);
  assert.equal(start.body['status'], 'code_sent', `${what}: ${start.text}`);
  expectStatus(await stepUpVerify(client, lastCode(s.stack.outboxFile, MERCHANT)), 200, `${what}: step-up/verify`);
  assertExported(await apiCall(client, target), `${what}: after the step-up`);
}

describe('issue 13: the ordinary journeys within ten minutes never meet a send limit (default budgets)', () => {
  test('sign-in with an email code, enable 2FA by email, sign in again, three exports with step-up, regenerate recovery codes, disable', () =>
    run(async (s) => {
      const started = s.clock.now();
      const tick = (): void => s.clock.advance(STEP);

      // A new browser at high risk: the sign-in asks for an email code (send 1).
      const client = s.client();
      const login = expectStatus(await client.login(), 200, 'login');
      assert.equal(login.body['status'], 'verification_required', login.text);
      assert.equal(login.body['delivery_error'], undefined, `sign-in code: ${login.text}`);
      tick();
      expectStatus(await client.verify(lastCode(s.stack.outboxFile, MERCHANT)), 200, 'login/verify');
      tick();

      // Export 1 without 2FA: an email code (send 2).
      await stepUpExport(s, client, CONTACT_EXPORT, 'export 1');
      tick();

      // Enable 2FA with the email method: identity code (send 3) and confirm code (send 4).
      expectStatus(await client.enableStart(PASSWORD), 200, 'enable/start');
      // Identity by text message: the address that gets the email codes cannot also prove who this is.
      const identity = expectStatus(await client.enableIdentity('sms'), 200, 'enable/identity (send 3)');
      assert.equal(identity.body['delivery_error'], undefined, identity.text);
      tick();
      expectStatus(await client.enableIdentityVerify(lastCode(s.stack.outboxFile, MERCHANT_PHONE)), 200, 'enable/identity/verify');
      expectStatus(await client.enableMethod('email'), 200, 'enable/method email (send 4)');
      tick();
      const enabled = expectStatus(await client.enableConfirm(lastCode(s.stack.outboxFile, MERCHANT)), 200, 'enable/confirm');
      const recoveryCodes = enabled.body['recovery_codes'] as string[];
      assert.ok(recoveryCodes.length > 0);
      tick();

      // Sign out and in again: the 2FA email code (send 5).
      expectStatus(await client.logout(), 200, 'logout');
      const again = expectStatus(await client.login(), 200, 'login again');
      assert.equal(again.body['status'], 'verification_required', again.text);
      assert.equal(again.body['delivery_error'], undefined, `sign-in again (send 5): ${again.text}`);
      tick();
      expectStatus(await client.verify(lastCode(s.stack.outboxFile, MERCHANT)), 200, 'login/verify with 2FA');
      tick();

      // Exports 2 and 3 with 2FA at high risk: a fresh code each (sends 6 and 7).
      await stepUpExport(s, client, CONTACT_EXPORT, 'export 2');
      tick();
      await stepUpExport(s, client, CAMPAIGN_EXPORT, 'export 3');
      tick();

      // New recovery codes (send 8).
      const regen = expectStatus(await client.recoveryStart(), 200, 'recovery-codes/start (send 8)');
      assert.equal(regen.body['delivery_error'], undefined, regen.text);
      tick();
      expectStatus(await client.recoveryConfirm(lastCode(s.stack.outboxFile, MERCHANT)), 200, 'recovery-codes/confirm');
      tick();

      // Turn 2FA off (send 9).
      const off = expectStatus(await client.disableStart(PASSWORD), 200, 'disable/start (send 9)');
      assert.equal(off.body['delivery_error'], undefined, off.text);
      tick();
      expectStatus(await client.disableVerify(lastCode(s.stack.outboxFile, MERCHANT)), 200, 'disable/verify');
      expectStatus(await client.disableConfirm(), 200, 'disable/confirm');

      // Send 3 (the identity code) went by text message: the address that gets the 2FA codes cannot also prove who this is.
      assert.equal(codeMessages(s.stack.outboxFile, MERCHANT).length + codeMessages(s.stack.outboxFile, MERCHANT_PHONE).length, 9, 'nine codes went out, each was entered');
      assert.ok(s.clock.now() - started < 10 * 60 * SECONDS, 'all within ten minutes');

      // Every send was verified, so the destination's budget is whole again: three more in a row go out.
      for (let i = 0; i < 3; i++) {
        const more = s.client();
        const reply = expectStatus(await more.login(), 200, `one more sign-in ${i + 1}`);
        assert.ok(!refusedForBudget(reply), `sign-in ${i + 1} after the journey met a limit: ${reply.text}`);
      }
    }));
});

describe('issue 13: an attacker\'s resend loop still meets the limit', () => {
  test('sign-in codes resent at every cooldown and never entered: the 4th send is refused, also after an ordinary verified sign-in', () =>
    run(async (s) => {
      await enrollDirectly(s.stack, MERCHANT, 'email', MERCHANT, s.clock.now());
      // The owner signs in once, correctly: that send gives its slot back.
      const owner = s.client();
      expectStatus(await owner.login(), 200, 'owner login');
      expectStatus(await owner.verify(lastCode(s.stack.outboxFile, MERCHANT)), 200, 'owner verify');

      const attacker = s.client();
      const first = expectStatus(await attacker.login(), 200, 'attacker login (send 1)');
      assert.equal(first.body['delivery_error'], undefined, first.text);
      const sent = codeMessages(s.stack.outboxFile, MERCHANT).length;
      let refused: ApiReply | null = null;
      let loops = 0;
      for (; loops < 10 && !refused; loops++) {
        s.clock.advance(61 * SECONDS);
        const reply = await attacker.resend();
        if (reply.status === 429) refused = reply;
        else expectStatus(reply, 200, `resend ${loops + 1}`);
      }
      assert.ok(refused, 'the resend loop never met a limit');
      assert.equal(refused.body['error'], 'too_many_codes', refused.text);
      assert.equal(loops, 3, 'refused at the 4th unverified send (2 resends after the first code)');
      assert.equal(codeMessages(s.stack.outboxFile, MERCHANT).length - sent, 2, 'two resends went out, no more');
      // A fresh sign-in from elsewhere is refused too: the destination's budget is spent by codes nobody entered.
      const other = expectStatus(await s.client().login(), 200, 'another sign-in');
      assert.equal(typeof other.body['delivery_error'], 'string', `the page must say no code was sent: ${other.text}`);
    }));

  test('give-backs are capped per account: an account that enters every code still sends at most twice its per-account budget an hour', () =>
    withClockedStack(
      {
        config: {
          factors: factorsConfig({
            send_budget: {
              per_account: { max: 2, window: '1h' },
              per_destination: { max: 100, window: '10m' },
              per_address: { max: 100, window: '1h' },
              global: { max: 1000, window: '1h' },
            },
          }).factors,
        },
      },
      async (s) => {
        await enrollDirectly(s.stack, MERCHANT, 'email', MERCHANT, s.clock.now());
        let delivered = 0;
        for (let i = 0; i < 8; i++) {
          const client = s.client();
          const login = expectStatus(await client.login(), 200, `login ${i + 1}`);
          if (typeof login.body['delivery_error'] === 'string') break;
          delivered++;
          expectStatus(await client.verify(lastCode(s.stack.outboxFile, MERCHANT)), 200, `verify ${i + 1}`);
        }
        assert.equal(delivered, 4, '2 sends of budget + 2 given back, then refused');
      },
    ));
});
