import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GENEROUS_BUDGETS,
  MERCHANT,
  MERCHANT_PHONE,
  PASSWORD,
  codeMessages,
  cookieSet,
  enableTotp,
  expectStatus,
  factorsConfig,
  lastCode,
  ownerMessages,
  settleOwnerMessages,
  outboxMessages,
  totpAt,
  verifyIdentity,
  withClockedStack,
  type ClockedStack,
} from '../helpers/two-factor.ts';

/**
 * THREATS T14 — enrollment takeover (Authelia #135: a reused password plus the mailbox let an
 * attacker enroll their own device). Enabling needs a fresh password and an identity code sent to
 * the account's own email or phone (on file, not chosen by the requester); the SMS destination is
 * the phone on file; every 2FA change is notified by email; other sessions end after each change
 * (ASVS 5.0 7.4.3).
 */

const MINUTE = 60_000;
const STEP = 30_000;
const ATTACKER_PHONE = '+15555550142';

function run<T>(fn: (s: ClockedStack) => Promise<T>): Promise<T> {
  return withClockedStack({ config: { factors: factorsConfig({ send_budget: GENEROUS_BUDGETS }).factors } }, fn);
}

// ---------------------------------------------------------------------------------------------

describe('T14: what enabling 2FA requires', () => {
  test('the password, once the sign-in is older than the reauth window: none → 400, wrong → 401; nothing starts', () =>
    run(async (s) => {
      const attacker = await s.signedIn();
      s.clock.advance(6 * MINUTE);
      const none = await attacker.enableStart();
      assert.equal(none.status, 400, none.text);
      assert.equal(none.body['error'], 'password_required');
      const empty = await attacker.enableStart('');
      assert.equal(empty.status, 400, empty.text);
      const wrong = await attacker.enableStart('guess-1');
      assert.equal(wrong.status, 401, wrong.text);
      const identity = await attacker.enableIdentity('email');
      assert.equal(identity.status, 409, `a flow started without the password: ${identity.text}`);
      assert.equal(codeMessages(s.stack.outboxFile).length, 0, 'no code was sent');
    }));

  test('password re-checks are regulated like sign-ins: after 3 wrong passwords → 429', () =>
    run(async (s) => {
      const attacker = await s.signedIn();
      for (let i = 0; i < 3; i++) assert.equal((await attacker.enableStart(`guess-${i}`)).status, 401);
      const locked = await attacker.enableStart(PASSWORD);
      assert.equal(locked.status, 429, `the right password during the lockout: ${locked.text}`);
      assert.equal(locked.body['error'], 'too_many_attempts');
    }));

  test('a session alone cannot enable: the identity code goes to the account’s own email, and guessing it is capped', () =>
    run(async (s) => {
      // The attacker rides a fresh session (password step skipped) but does not read the mailbox.
      const attacker = await s.signedIn();
      expectStatus(await attacker.enableStart(), 200, 'start within the reauth window');
      const sent = expectStatus(await attacker.enableIdentity('email', { to: 'attacker@evil.example', email: 'attacker@evil.example' }), 200, 'identity');
      assert.equal(sent.body['destination'], 'm•••@example.com');
      const messages = codeMessages(s.stack.outboxFile);
      assert.equal(messages.length, 1);
      assert.equal(messages[0]?.to, MERCHANT, 'the identity code goes to the account’s address only');
      const code = lastCode(s.stack.outboxFile, MERCHANT);

      assert.equal((await attacker.enableMethod('totp')).status, 409, 'no method before the identity code');
      const statuses: number[] = [];
      for (const guess of ['000000', '111111', '222222', '333333', '444444', '555555', '666666'].filter((g) => g !== code)) {
        statuses.push((await attacker.enableIdentityVerify(guess)).status);
      }
      assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
      assert.ok(statuses.slice(5).every((st) => st === 429 || st === 410), `after 5 guesses the code is dead: ${JSON.stringify(statuses)}`);
      const late = await attacker.enableIdentityVerify(code);
      assert.notEqual(late.status, 200, 'the identity code worked after the attempt limit');
      assert.equal((await attacker.enableMethod('totp')).status, 409);
      assert.equal((await attacker.status()).body['enabled'], false);
    }));

  test('identity by sms goes to the phone on file, whatever phone the request names', () =>
    run(async (s) => {
      const attacker = await s.signedIn();
      expectStatus(await attacker.enableStart(PASSWORD), 200, 'start');
      const sent = await attacker.enableIdentity('sms', { phone: ATTACKER_PHONE, destination: ATTACKER_PHONE });
      assert.equal(sent.status, 200, sent.text);
      assert.equal(sent.body['destination'], '+1 •••• ••89');
      assert.equal(codeMessages(s.stack.outboxFile, ATTACKER_PHONE).length, 0, 'a code went to the attacker’s phone');
      assert.equal(codeMessages(s.stack.outboxFile, MERCHANT_PHONE).length, 1);
      const other = await attacker.enableIdentity('whatsapp');
      assert.equal(other.status, 400, other.text);
    }));

  test('an identity code issued to another session’s flow is refused', () =>
    run(async (s) => {
      const victim = await s.signedIn();
      expectStatus(await victim.enableStart(PASSWORD), 200, 'victim start');
      expectStatus(await victim.enableIdentity('email'), 200, 'victim identity');
      const victimCode = lastCode(s.stack.outboxFile, MERCHANT);

      const attacker = await s.signedIn();
      expectStatus(await attacker.enableStart(PASSWORD), 200, 'attacker start');
      expectStatus(await attacker.enableIdentity('sms'), 200, 'attacker identity by sms');
      const attackerCode = lastCode(s.stack.outboxFile, MERCHANT_PHONE);
      if (victimCode !== attackerCode) {
        const crossed = await attacker.enableIdentityVerify(victimCode);
        assert.equal(crossed.status, 401, `a code issued to another session's flow was accepted: ${crossed.text}`);
      }
      expectStatus(await victim.enableIdentityVerify(victimCode), 200, 'the victim’s own code still works');
    }));
});

// ---------------------------------------------------------------------------------------------

describe('T14: the SMS destination is the phone on file', () => {
  test('another number → 400 phone_mismatch and nothing is sent to it; the same number in another format is fine', () =>
    run(async (s) => {
      const client = await s.signedIn();
      await verifyIdentity(client, s.enroll);
      const other = await client.enableMethod('sms', ATTACKER_PHONE);
      assert.equal(other.status, 400, other.text);
      assert.equal(other.body['error'], 'phone_mismatch');
      assert.equal(codeMessages(s.stack.outboxFile, ATTACKER_PHONE).length, 0);
      const garbage = await client.enableMethod('sms', 'call me maybe');
      assert.equal(garbage.status, 400, garbage.text);
      const same = await client.enableMethod('sms', '+1 (555) 555-0189');
      assert.equal(same.status, 200, same.text);
      assert.equal(same.body['destination'], '+1 •••• ••89');
      const confirm = await client.enableConfirm(lastCode(s.stack.outboxFile, MERCHANT_PHONE));
      assert.equal(confirm.status, 200, confirm.text);
      const enrollment = await s.stack.guard.durable.getEnrollment(MERCHANT);
      assert.equal(enrollment?.destination, MERCHANT_PHONE);
    }));

  test('after choosing sms with the phone on file, a second method call cannot swap in another number', () =>
    run(async (s) => {
      const client = await s.signedIn();
      await verifyIdentity(client, s.enroll);
      expectStatus(await client.enableMethod('sms'), 200, 'sms to the phone on file');
      const swap = await client.enableMethod('sms', ATTACKER_PHONE);
      assert.equal(swap.status, 400, swap.text);
      assert.equal(codeMessages(s.stack.outboxFile, ATTACKER_PHONE).length, 0);
    }));
});

// ---------------------------------------------------------------------------------------------

describe('T14: every 2FA change is notified by email', () => {
  test('enable, regenerate recovery codes, disable: one notification each, to the account, without secrets', () =>
    run(async (s) => {
      const client = await s.signedIn();
      const { secret, recoveryCodes } = await enableTotp(client, s.enroll);
      s.clock.advance(STEP);
      expectStatus(await client.recoveryStart(), 200, 'recovery/start');
      const regenerated = expectStatus(await client.recoveryConfirm(totpAt(secret, s.clock.now())), 200, 'recovery/confirm');
      s.clock.advance(STEP);
      expectStatus(await client.disableStart(PASSWORD), 200, 'disable/start');
      expectStatus(await client.disableVerify(totpAt(secret, s.clock.now())), 200, 'disable/verify');
      expectStatus(await client.disableConfirm(), 200, 'disable/confirm');

      // One message per change (README "What the owner is told"): the factor_changed alert.
      await settleOwnerMessages(s.stack.guard);
      const notes = ownerMessages(s.stack.outboxFile);
      assert.deepEqual(
        notes.map((n) => [n.channel, n.to, n.purpose, n.alert, n.lang, n.subject]),
        [
          ['email', MERCHANT, 'alert', 'factor_changed', 'en', 'SmartPush security alert: two-factor authentication turned on'],
          ['email', MERCHANT, 'alert', 'factor_changed', 'en', 'SmartPush security alert: new recovery codes created'],
          ['email', MERCHANT, 'alert', 'factor_changed', 'en', 'SmartPush security alert: two-factor authentication turned off'],
        ],
      );
      const secrets = [...recoveryCodes, ...(regenerated.body['recovery_codes'] as string[]), secret.toString('hex'), PASSWORD];
      for (const note of notes) for (const value of secrets) assert.ok(!note.text.includes(value), `a notification carries a secret: ${note.text}`);
      assert.ok(outboxMessages(s.stack.outboxFile).length > notes.length);
    }));
});

// ---------------------------------------------------------------------------------------------

describe('T14: other sessions end after each change (ASVS 5.0 7.4.3)', () => {
  test('enable', () =>
    run(async (s) => {
      const acting = await s.signedIn();
      const other = await s.signedIn();
      const enrolled = await enableTotp(acting, s.enroll);
      assert.ok(cookieSet(enrolled.reply, 'spg_session'), 'the acting browser gets a new session');
      assert.equal((await acting.me()).status, 200);
      assert.equal((await other.me()).status, 401, 'the other session survived enabling 2FA');
    }));

  test('recovery-code regeneration', () =>
    run(async (s) => {
      const acting = await s.signedIn();
      const { secret } = await enableTotp(acting, s.enroll);
      s.clock.advance(STEP);
      const other = s.client();
      expectStatus(await other.login(), 200, 'other login');
      expectStatus(await other.verify(totpAt(secret, s.clock.now())), 200, 'other verify');
      assert.equal((await other.me()).status, 200);

      s.clock.advance(STEP);
      expectStatus(await acting.recoveryStart(), 200, 'recovery/start');
      expectStatus(await acting.recoveryConfirm(totpAt(secret, s.clock.now())), 200, 'recovery/confirm');
      assert.equal((await acting.me()).status, 200, 'the acting session goes on');
      const otherMe = await other.me();
      assert.equal(otherMe.status, 401, `the other session survived the regeneration of the recovery codes: ${otherMe.status}`);
    }));

  test('disable', () =>
    run(async (s) => {
      const acting = await s.signedIn();
      const { secret } = await enableTotp(acting, s.enroll);
      s.clock.advance(STEP);
      const other = s.client();
      expectStatus(await other.login(), 200, 'other login');
      expectStatus(await other.verify(totpAt(secret, s.clock.now())), 200, 'other verify');
      s.clock.advance(STEP);
      expectStatus(await acting.disableStart(PASSWORD), 200, 'disable/start');
      expectStatus(await acting.disableVerify(totpAt(secret, s.clock.now())), 200, 'disable/verify');
      expectStatus(await acting.disableConfirm(), 200, 'disable/confirm');
      assert.equal((await acting.me()).status, 200);
      assert.equal((await other.me()).status, 401, 'the other session survived disabling 2FA');
    }));
});
