import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.ts';
import {
  GENEROUS_BUDGETS,
  base32Decode,
  MASKED_MERCHANT_EMAIL,
  MASKED_MERCHANT_PHONE,
  MERCHANT,
  MERCHANT_PHONE,
  PASSWORD,
  cookieSet,
  enableEmail,
  enableSms,
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
  type Enrolled,
  type GuardClient,
} from '../helpers/two-factor.ts';

/**
 * The 2FA flows over the JSON API (DESIGN §3, §5) against a real sidecar in front of the demo app:
 * enable with each method, sign in with it, resend, recovery codes, regeneration, disable, and the
 * state machines refusing skipped, replayed, foreign and expired steps. Time moves on a ManualClock.
 */

type Method = 'totp' | 'sms' | 'email';
const METHODS: readonly Method[] = ['totp', 'sms', 'email'];
const MINUTE = 60_000;
const STEP = 30_000;

/** A stack whose send budgets never get in the way (T9 tests the budgets themselves). */
function run<T>(fn: (s: ClockedStack) => Promise<T>, extra: Record<string, unknown> = {}, clock?: ManualClock): Promise<T> {
  return withClockedStack({ config: { factors: factorsConfig({ send_budget: GENEROUS_BUDGETS, ...extra }).factors } }, fn, clock);
}

function enable(method: Method, client: GuardClient, s: ClockedStack): Promise<Enrolled> {
  switch (method) {
    case 'totp':
      return enableTotp(client, s.enroll);
    case 'sms':
      return enableSms(client, s.enroll);
    case 'email':
      return enableEmail(client, s.enroll);
  }
}

/** The code a person would type now for `method` (TOTP: the current step; sms/email: the newest message). */
function currentCode(method: Method, s: ClockedStack, enrolled: Enrolled): string {
  if (method === 'totp') return totpAt(enrolled.secret, s.clock.now());
  return lastCode(s.stack.outboxFile, method === 'sms' ? MERCHANT_PHONE : MERCHANT);
}

/** Moves past the TOTP step a previous code used (each step is good for one use). */
function nextStep(s: ClockedStack): void {
  s.clock.advance(STEP);
}

/** A wrong code that is certainly not `right`. */
function wrongCode(right: string): string {
  return right === '000000' ? '111111' : '000000';
}

const maskedFor: Record<Method, string | null> = { totp: null, sms: MASKED_MERCHANT_PHONE, email: MASKED_MERCHANT_EMAIL };

function assertNothingReleased(reply: { setCookies: string[] }, what: string): void {
  const released = reply.setCookies.filter((c) => /^(sp_session|spg_session)=[^;]/.test(c));
  assert.deepEqual(released, [], `${what}: a session cookie was released before the second factor: ${JSON.stringify(reply.setCookies)}`);
}

// ---------------------------------------------------------------------------------------------


/** The owner's messages about security events (the alert, or the legacy notice when its kind is off). */
async function told(s: { stack: { outboxFile: string; guard: Parameters<typeof settleOwnerMessages>[0] } }) {
  await settleOwnerMessages(s.stack.guard);
  return ownerMessages(s.stack.outboxFile, MERCHANT);
}

describe('enable, then sign in with each method', () => {
  for (const method of METHODS) {
    test(`${method}: enable → notification → logout → the login asks for a code (masked destination) and releases nothing until the right code`, () =>
      run(async (s) => {
        const client = await s.signedIn();
        const enrolled = await enable(method, client, s);
        assert.equal(enrolled.reply.body['enabled'], true);
        assert.equal(enrolled.reply.body['method'], method);
        assert.equal(enrolled.recoveryCodes.length, 10);
        assert.equal(new Set(enrolled.recoveryCodes).size, 10, 'recovery codes are distinct');

        const notes = await told(s);
        assert.equal(notes.length, 1, `one email to the owner: ${JSON.stringify(notes)}`);
        assert.equal(notes[0]?.channel, 'email');
        assert.equal(notes[0]?.purpose, 'alert', 'the factor_changed alert is the message (no legacy notice beside it)');
        assert.equal(notes[0]?.lang, 'en');
        assert.match(notes[0]?.subject ?? '', /two-factor authentication turned on/);

        const status = await client.status();
        assert.equal(status.status, 200);
        assert.deepEqual(
          { enabled: status.body['enabled'], method: status.body['method'], destination: status.body['destination'], left: status.body['recovery_codes_left'] },
          { enabled: true, method, destination: maskedFor[method], left: 10 },
        );

        expectStatus(await client.logout(), 200, 'logout');
        assert.equal((await client.me()).status, 401, 'signed out');
        nextStep(s);

        const login = await client.login();
        assert.equal(login.status, 200, login.text);
        assert.equal(login.body['status'], 'verification_required');
        assert.equal(login.body['reason'], '2fa');
        assert.equal(login.body['method'], method);
        assert.equal(login.body['destination'], maskedFor[method]);
        assert.ok(cookieSet(login, 'spg_pending'), 'the pending login is named by a cookie');
        assertNothingReleased(login, 'password step');

        const before = await client.me();
        assert.equal(before.status, 401, `the upstream must not be reachable before the code: ${before.text}`);
        assert.equal(before.body['error'], 'login_required');
        assert.equal((await client.status()).status, 401, 'no sidecar session before the code');

        const right = currentCode(method, s, enrolled);
        const wrong = await client.verify(wrongCode(right));
        assert.equal(wrong.status, 401, wrong.text);
        assert.equal(wrong.body['error'], 'invalid_code');
        assert.equal(typeof wrong.body['attempts_left'], 'number');
        assert.ok((wrong.body['attempts_left'] as number) > 0);
        assertNothingReleased(wrong, 'wrong code');
        assert.equal((await client.me()).status, 401);

        const ok = await client.verify(right);
        assert.equal(ok.status, 200, ok.text);
        assert.deepEqual(ok.body, { status: 'authenticated' });
        assert.ok(!cookieSet(ok, 'sp_session'), 'the upstream session cookie stays bound server-side (never released to the browser)');
        assert.ok(cookieSet(ok, 'spg_session'), 'a sidecar session is created now');
        const profile = await client.me();
        assert.equal(profile.status, 200, profile.text);
        assert.equal(profile.body['email'], MERCHANT);
        assert.equal((await client.status()).body['enabled'], true);
      }));
  }
});

// ---------------------------------------------------------------------------------------------

describe('resend', () => {
  for (const method of ['sms', 'email'] as const) {
    test(`${method}: within the cooldown → 429 with retry_after; after it a new code works and the old one no longer does`, () =>
      run(async (s) => {
        const client = await s.signedIn();
        const enrolled = await enable(method, client, s);
        await client.logout();
        expectStatus(await client.login(), 200, 'login');
        const first = currentCode(method, s, enrolled);

        const early = await client.resend();
        assert.equal(early.status, 429, early.text);
        assert.equal(early.body['error'], 'too_many_codes');
        const retry = early.body['retry_after'];
        assert.equal(typeof retry, 'number');
        assert.ok((retry as number) >= 1 && (retry as number) <= 60, `retry_after ${String(retry)}`);
        assert.equal(early.headers['retry-after'], String(retry));

        s.clock.advance(30_000);
        const stillEarly = await client.resend();
        assert.equal(stillEarly.status, 429);
        assert.ok((stillEarly.body['retry_after'] as number) <= 30, `retry_after counts down: ${stillEarly.text}`);

        s.clock.advance(31_000);
        const again = await client.resend();
        assert.equal(again.status, 200, again.text);
        assert.equal(again.body['status'], 'sent');
        assert.equal(again.body['destination'], maskedFor[method]);
        const codes = outboxMessages(s.stack.outboxFile).filter((m) => m.purpose === 'code' && m.to === (method === 'sms' ? MERCHANT_PHONE : MERCHANT));
        const second = currentCode(method, s, enrolled);
        assert.ok(codes.length >= 2);

        if (first !== second) {
          const old = await client.verify(first);
          assert.equal(old.status, 401, `the replaced code still worked: ${old.text}`);
          assertNothingReleased(old, 'old code');
        }
        const ok = await client.verify(second);
        assert.equal(ok.status, 200, ok.text);
        assert.equal((await client.me()).status, 200);
      }));
  }

  test('totp: nothing to resend → 400; without a pending login → 410', () =>
    run(async (s) => {
      const client = await s.signedIn();
      await enable('totp', client, s);
      await client.logout();
      const none = await client.resend();
      assert.equal(none.status, 410, none.text);
      expectStatus(await client.login(), 200, 'login');
      const reply = await client.resend();
      assert.equal(reply.status, 400, reply.text);
      assert.equal(reply.body['error'], 'not_applicable');
    }));

  test('the resend_after of the login answer follows the sidecar clock (the cooldown, 60 s)', () =>
    // A clock far from the real time: an answer computed from Date.now() instead of the injected clock shows.
    run(
      async (s) => {
        const client = await s.signedIn();
        await enable('sms', client, s);
        await client.logout();
        const login = await client.login();
        assert.equal(login.status, 200);
        assert.equal(login.body['resend_after'], 60, `login answer: ${login.text}`);
        s.clock.advance(61_000);
        const resend = await client.resend();
        assert.equal(resend.status, 200);
        assert.equal(resend.body['resend_after'], 60, `resend answer: ${resend.text}`);
      },
      {},
      new ManualClock(Date.UTC(2026, 0, 1)),
    ));
});

// ---------------------------------------------------------------------------------------------

describe('recovery codes', () => {
  test('at login a recovery code works once; the second use fails; recovery_codes_left drops', () =>
    run(async (s) => {
      const client = await s.signedIn();
      const { recoveryCodes } = await enable('totp', client, s);
      const [first, second] = recoveryCodes as [string, string];
      await client.logout();

      expectStatus(await client.login(), 200, 'login 1');
      const ok = await client.verify(first);
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await client.me()).status, 200);
      assert.equal((await client.status()).body['recovery_codes_left'], 9);
      await client.logout();

      expectStatus(await client.login(), 200, 'login 2');
      const reused = await client.verify(first);
      assert.equal(reused.status, 401, `a used recovery code worked again: ${reused.text}`);
      assertNothingReleased(reused, 'reused recovery code');
      // Presentation does not matter: upper case, no dashes.
      const typed = second.replace(/-/g, '').toUpperCase();
      const other = await client.verify(typed);
      assert.equal(other.status, 200, other.text);
      assert.equal((await client.status()).body['recovery_codes_left'], 8);
    }));

  for (const method of ['totp', 'sms'] as const) {
    test(`${method}: regenerating the recovery codes gives 10 new ones; the old ones stop working`, () =>
      run(async (s) => {
        const client = await s.signedIn();
        const enrolled = await enable(method, client, s);
        nextStep(s);
        const start = await client.recoveryStart();
        assert.equal(start.status, 200, start.text);
        assert.equal(start.body['status'], method === 'totp' ? 'code_required' : 'code_sent');
        const confirm = await client.recoveryConfirm(currentCode(method, s, enrolled));
        assert.equal(confirm.status, 200, confirm.text);
        const fresh = confirm.body['recovery_codes'] as string[];
        assert.equal(fresh.length, 10);
        assert.equal(fresh.filter((c) => enrolled.recoveryCodes.includes(c)).length, 0, 'all codes are new');
        assert.equal((await client.status()).body['recovery_codes_left'], 10);
        const notes = await told(s);
        assert.equal(notes.filter((n) => /recovery codes created/.test(n.subject ?? '')).length, 1, JSON.stringify(notes));
        assert.match(notes[notes.length - 1]?.subject ?? '', /new recovery codes created/);

        const replay = await client.recoveryConfirm(currentCode(method, s, enrolled));
        assert.equal(replay.status, 409, `a finished regeneration was replayed: ${replay.text}`);

        await client.logout();
        expectStatus(await client.login(), 200, 'login');
        const old = await client.verify(enrolled.recoveryCodes[0]);
        assert.equal(old.status, 401, `an old recovery code still works: ${old.text}`);
        const ok = await client.verify(fresh[0]);
        assert.equal(ok.status, 200, ok.text);
      }));
  }
});

// ---------------------------------------------------------------------------------------------

describe('disable', () => {
  for (const method of METHODS) {
    test(`${method}: password → code of the method → confirm turns 2FA off, notifies, and the next login needs only the password`, () =>
      run(async (s) => {
        const client = await s.signedIn();
        const enrolled = await enable(method, client, s);
        nextStep(s);
        const start = await client.disableStart(PASSWORD);
        assert.equal(start.status, 200, start.text);
        assert.equal(start.body['method'], method);
        if (method === 'totp') {
          assert.equal(start.body['status'], 'code_required');
        } else {
          assert.equal(start.body['status'], 'code_sent');
          assert.equal(start.body['destination'], maskedFor[method]);
        }
        const wrong = await client.disableVerify(wrongCode(currentCode(method, s, enrolled)));
        assert.equal(wrong.status, 401, wrong.text);
        const verify = await client.disableVerify(currentCode(method, s, enrolled));
        assert.equal(verify.status, 200, verify.text);
        assert.deepEqual(verify.body, { status: 'confirm' });
        assert.equal((await client.status()).body['enabled'], true, 'nothing changes before the confirmation');

        const before = client.cookies.get('spg_session');
        const confirm = await client.disableConfirm();
        assert.equal(confirm.status, 200, confirm.text);
        assert.deepEqual(confirm.body, { enabled: false });
        const after = cookieSet(confirm, 'spg_session');
        assert.ok(after && after !== before, 'the acting session gets a new cookie');

        const status = await client.status();
        assert.equal(status.status, 200, status.text);
        assert.equal(status.body['enabled'], false);
        const notes = await told(s);
        assert.equal(notes.filter((n) => /turned off/.test(n.subject ?? '')).length, 1, JSON.stringify(notes));
        assert.match(notes[notes.length - 1]?.subject ?? '', /two-factor authentication turned off/);

        await client.logout();
        const login = await client.login();
        assert.equal(login.status, 200);
        assert.deepEqual(login.body, { status: 'authenticated' });
      }));
  }

  test('a recovery code can stand in for the code at disable/verify', () =>
    run(async (s) => {
      const client = await s.signedIn();
      const enrolled = await enable('totp', client, s);
      expectStatus(await client.disableStart(PASSWORD), 200, 'disable/start');
      const verify = await client.disableVerify(enrolled.recoveryCodes[3]);
      assert.equal(verify.status, 200, verify.text);
      expectStatus(await client.disableConfirm(), 200, 'disable/confirm');
      assert.equal((await client.status()).body['enabled'], false);
    }));

  test('disable/start always asks for the password: missing → 400, wrong → 401', () =>
    run(async (s) => {
      const client = await s.signedIn();
      await enable('totp', client, s);
      const missing = await client.disableStart();
      assert.equal(missing.status, 400, missing.text);
      assert.equal(missing.body['error'], 'password_required');
      const wrong = await client.disableStart('not-the-password');
      assert.equal(wrong.status, 401, wrong.text);
      assert.equal(wrong.body['error'], 'invalid_credentials');
      const verify = await client.disableVerify('123456');
      assert.equal(verify.status, 409, 'a refused start starts nothing');
    }));
});

// ---------------------------------------------------------------------------------------------

function assertOutOfOrder(reply: { status: number; text: string; body: Record<string, unknown> }, what: string): void {
  assert.equal(reply.status, 409, `${what}: ${reply.text}`);
  assert.equal(reply.body['error'], 'step_out_of_order', `${what}: ${reply.text}`);
}

describe('the enable and disable state machines', () => {
  test('enable: no step can be skipped', () =>
    run(async (s) => {
      const client = await s.signedIn();
      // Nothing started.
      assertOutOfOrder(await client.enableIdentity('email'), 'identity without start');
      assertOutOfOrder(await client.enableIdentityVerify('123456'), 'identity/verify without start');
      assertOutOfOrder(await client.enableMethod('totp'), 'method without start');
      assertOutOfOrder(await client.enableConfirm('123456'), 'confirm without start');

      expectStatus(await client.enableStart(PASSWORD), 200, 'start');
      assertOutOfOrder(await client.enableIdentityVerify('123456'), 'identity/verify without identity');
      assertOutOfOrder(await client.enableMethod('totp'), 'method before identity');
      assertOutOfOrder(await client.enableConfirm('123456'), 'confirm before identity');

      expectStatus(await client.enableIdentity('email'), 200, 'identity');
      assertOutOfOrder(await client.enableMethod('totp'), 'method before the identity code was verified');
      assertOutOfOrder(await client.enableMethod('email'), 'method (email) before the identity code was verified');
      assertOutOfOrder(await client.enableConfirm('123456'), 'confirm before identity/verify');

      expectStatus(await client.enableIdentityVerify(lastCode(s.stack.outboxFile, MERCHANT)), 200, 'identity/verify');
      assertOutOfOrder(await client.enableConfirm('123456'), 'confirm before a method was chosen');

      const method = expectStatus(await client.enableMethod('totp'), 200, 'method');
      assert.equal((await client.status()).body['enabled'], false, 'nothing is enabled before the confirmation');
      const secret = method.body['secret'];
      assert.equal(typeof secret, 'string');
      await settleOwnerMessages(s.stack.guard);
      assert.equal(ownerMessages(s.stack.outboxFile).length, 0, 'no notification before the change');
    }));

  test('enable: a completed step cannot be replayed, and earlier steps are closed once passed', () =>
    run(async (s) => {
      const client = await s.signedIn();
      expectStatus(await client.enableStart(PASSWORD), 200, 'start');
      expectStatus(await client.enableIdentity('email'), 200, 'identity');
      const identityCode = lastCode(s.stack.outboxFile, MERCHANT);
      expectStatus(await client.enableIdentityVerify(identityCode), 200, 'identity/verify');
      assertOutOfOrder(await client.enableIdentityVerify(identityCode), 'identity/verify replayed');
      assertOutOfOrder(await client.enableIdentity('email'), 'identity after it was verified');

      const method = expectStatus(await client.enableMethod('totp'), 200, 'method');
      assertOutOfOrder(await client.enableIdentityVerify(identityCode), 'identity/verify after the method');
      const raw = base32Decode(method.body['secret'] as string);
      const code = totpAt(raw, s.clock.now());
      const confirm = expectStatus(await client.enableConfirm(code), 200, 'confirm');
      assert.equal(confirm.body['enabled'], true);

      nextStep(s);
      assertOutOfOrder(await client.enableConfirm(totpAt(raw, s.clock.now())), 'confirm replayed');
      assertOutOfOrder(await client.enableMethod('totp'), 'method after the confirmation');
      assertOutOfOrder(await client.enableIdentityVerify(identityCode), 'identity/verify after the confirmation');
      assert.equal((await told(s)).length, 1, 'one change, one message');
    }));

  test('enable: choosing the method again replaces the pending setup (the first secret no longer confirms)', () =>
    run(async (s) => {
      const client = await s.signedIn();
      await verifyIdentity(client, s.enroll);
      const first = base32Decode(expectStatus(await client.enableMethod('totp'), 200, 'method 1').body['secret'] as string);
      const second = base32Decode(expectStatus(await client.enableMethod('totp'), 200, 'method 2').body['secret'] as string);
      assert.notDeepEqual(first, second);
      const stale = await client.enableConfirm(totpAt(first, s.clock.now()));
      assert.equal(stale.status, 401, `the replaced secret confirmed: ${stale.text}`);
      const ok = await client.enableConfirm(totpAt(second, s.clock.now()));
      assert.equal(ok.status, 200, ok.text);
    }));

  test('disable: no step can be skipped or replayed', () =>
    run(async (s) => {
      const client = await s.signedIn();
      const enrolled = await enable('totp', client, s);
      nextStep(s);
      assertOutOfOrder(await client.disableVerify(totpAt(enrolled.secret, s.clock.now())), 'disable/verify without start');
      assertOutOfOrder(await client.disableConfirm(), 'disable/confirm without start');
      expectStatus(await client.disableStart(PASSWORD), 200, 'disable/start');
      assertOutOfOrder(await client.disableConfirm(), 'disable/confirm before verify');
      assert.equal((await client.status()).body['enabled'], true);
      expectStatus(await client.disableVerify(totpAt(enrolled.secret, s.clock.now())), 200, 'disable/verify');
      nextStep(s);
      assertOutOfOrder(await client.disableVerify(totpAt(enrolled.secret, s.clock.now())), 'disable/verify replayed');
      expectStatus(await client.disableConfirm(), 200, 'disable/confirm');
      const replay = await client.disableConfirm();
      assert.equal(replay.status, 409, replay.text);
      assert.equal((await client.status()).body['enabled'], false);
      assert.equal((await told(s)).filter((n) => /turned off/.test(n.subject ?? '')).length, 1);
    }));

  test('a double-submitted confirmation (enable, then disable) takes effect once', () =>
    run(async (s) => {
      const client = await s.signedIn();
      await verifyIdentity(client, s.enroll);
      expectStatus(await client.enableMethod('sms'), 200, 'method sms');
      const code = lastCode(s.stack.outboxFile, MERCHANT_PHONE);
      const twin = client.clone();
      const enables = await Promise.all([client.enableConfirm(code), twin.enableConfirm(code)]);
      const won = enables.filter((r) => r.status === 200);
      assert.equal(won.length, 1, `one enable: ${enables.map((r) => `${r.status} ${r.text}`).join(' | ')}`);
      assert.ok(enables.every((r) => r.status === 200 || (r.status >= 400 && r.status < 500)), 'the other is refused');
      assert.equal((await told(s)).length, 1, 'one change, one message');
      const winner = enables[0]?.status === 200 ? client : twin;
      const codes = (won[0] as { body: Record<string, unknown> }).body['recovery_codes'] as string[];
      assert.equal(await s.stack.guard.durable.remainingRecoveryCodes(MERCHANT), 10);

      expectStatus(await winner.disableStart(PASSWORD), 200, 'disable/start');
      expectStatus(await winner.disableVerify(codes[0]), 200, 'disable/verify with a recovery code of the winning enable');
      const other = winner.clone();
      const disables = await Promise.all([winner.disableConfirm(), other.disableConfirm()]);
      assert.deepEqual(disables.map((r) => r.status).sort(), [200, 409], disables.map((r) => r.text).join(' | '));
      assert.equal((await told(s)).filter((n) => /turned off/.test(n.subject ?? '')).length, 1);
    }));

  test('recovery-code regeneration: confirm without start → 409', () =>
    run(async (s) => {
      const client = await s.signedIn();
      const enrolled = await enable('totp', client, s);
      nextStep(s);
      assertOutOfOrder(await client.recoveryConfirm(totpAt(enrolled.secret, s.clock.now())), 'recovery-codes/confirm without start');
      assert.equal((await client.status()).body['recovery_codes_left'], 10);
    }));

  test("a flow started in one session cannot be continued from another session of the same user", () =>
    run(async (s) => {
      const a = await s.signedIn();
      const b = await s.signedIn();
      assert.notEqual(a.cookies.get('spg_session'), b.cookies.get('spg_session'));

      expectStatus(await a.enableStart(PASSWORD), 200, 'A start');
      assertOutOfOrder(await b.enableIdentity('email'), 'B continues A at identity');
      expectStatus(await a.enableIdentity('email'), 200, 'A identity');
      const code = lastCode(s.stack.outboxFile, MERCHANT);
      assertOutOfOrder(await b.enableIdentityVerify(code), 'B verifies A’s identity code');
      expectStatus(await a.enableIdentityVerify(code), 200, 'A identity/verify (the code is still good)');
      assertOutOfOrder(await b.enableMethod('totp'), 'B chooses the method in A’s flow');
      const secret = base32Decode(expectStatus(await a.enableMethod('totp'), 200, 'A method').body['secret'] as string);
      assertOutOfOrder(await b.enableConfirm(totpAt(secret, s.clock.now())), 'B confirms A’s setup');
      assert.equal((await a.status()).body['enabled'], false);
      expectStatus(await a.enableConfirm(totpAt(secret, s.clock.now())), 200, 'A confirm');

      // Disable: A (with its rotated session) starts, C (a new full login) cannot continue it.
      nextStep(s);
      const c = s.client();
      expectStatus(await c.login(), 200, 'C login');
      expectStatus(await c.verify(totpAt(secret, s.clock.now())), 200, 'C verify');
      expectStatus(await a.disableStart(PASSWORD), 200, 'A disable/start');
      nextStep(s);
      assertOutOfOrder(await c.disableVerify(totpAt(secret, s.clock.now())), 'C verifies A’s disable');
      expectStatus(await a.disableVerify(totpAt(secret, s.clock.now())), 200, 'A disable/verify');
      assertOutOfOrder(await c.disableConfirm(), 'C confirms A’s disable');
      assert.equal((await a.status()).body['enabled'], true);
    }));

  test('enable steps expire after 15 minutes (each step renews the window)', () =>
    run(async (s) => {
      const client = await s.signedIn();
      await verifyIdentity(client, s.enroll);
      s.clock.advance(14 * MINUTE);
      const method = await client.enableMethod('totp');
      assert.equal(method.status, 200, `a step within 15 minutes: ${method.text}`);
      const secret = base32Decode(method.body['secret'] as string);
      s.clock.advance(16 * MINUTE);
      const late = await client.enableConfirm(totpAt(secret, s.clock.now()));
      assertOutOfOrder(late, 'confirm 16 minutes after the previous step');
      assert.equal((await client.status()).body['enabled'], false);
    }));

  test('an identity step expires after 16 minutes without a move', () =>
    run(async (s) => {
      const client = await s.signedIn();
      expectStatus(await client.enableStart(PASSWORD), 200, 'start');
      s.clock.advance(16 * MINUTE);
      assertOutOfOrder(await client.enableIdentity('email'), 'identity 16 minutes after start');
    }));

  test('disable steps expire after 15 minutes', () =>
    run(async (s) => {
      const client = await s.signedIn();
      const enrolled = await enable('totp', client, s);
      expectStatus(await client.disableStart(PASSWORD), 200, 'disable/start');
      s.clock.advance(16 * MINUTE);
      assertOutOfOrder(await client.disableVerify(totpAt(enrolled.secret, s.clock.now())), 'disable/verify 16 minutes later');
      assert.equal((await client.status()).body['enabled'], true);
    }));
});

// ---------------------------------------------------------------------------------------------

describe('password re-check when enabling', () => {
  test('a wrong password → 401 and nothing starts', () =>
    run(async (s) => {
      const client = await s.signedIn();
      const reply = await client.enableStart('not-the-password');
      assert.equal(reply.status, 401, reply.text);
      assert.equal(reply.body['error'], 'invalid_credentials');
      assertOutOfOrder(await client.enableIdentity('email'), 'identity after a refused start');
      assert.equal(codesTo(s, MERCHANT), 0);
    }));

  test('skipped while the sign-in password is fresh (reauth_window 5 min), required after', () =>
    run(async (s) => {
      const client = await s.signedIn();
      s.clock.advance(4 * MINUTE);
      const fresh = await client.enableStart();
      assert.equal(fresh.status, 200, `fresh password: ${fresh.text}`);
      assert.equal(fresh.body['status'], 'identity_verification_required');
      assert.deepEqual(fresh.body['channels'], ['email', 'sms']);

      s.clock.advance(2 * MINUTE);
      const stale = await client.enableStart();
      assert.equal(stale.status, 400, `6 minutes after sign-in the password is needed again: ${stale.text}`);
      assert.equal(stale.body['error'], 'password_required');
      const wrong = await client.enableStart('not-the-password');
      assert.equal(wrong.status, 401);
      const right = await client.enableStart(PASSWORD);
      assert.equal(right.status, 200, right.text);
    }));
});

function codesTo(s: ClockedStack, to: string): number {
  return outboxMessages(s.stack.outboxFile).filter((m) => m.purpose === 'code' && m.to === to).length;
}

// ---------------------------------------------------------------------------------------------

describe('pending logins and codes expire', () => {
  test('a pending login lives 10 minutes: a valid TOTP code after that → 410, and nothing is released', () =>
    run(async (s) => {
      const client = await s.signedIn();
      const enrolled = await enable('totp', client, s);
      await client.logout();

      nextStep(s);
      expectStatus(await client.login(), 200, 'login 1');
      s.clock.advance(9 * MINUTE);
      const inTime = await client.verify(totpAt(enrolled.secret, s.clock.now()));
      assert.equal(inTime.status, 200, `9 minutes is within the pending window: ${inTime.text}`);
      await client.logout();

      expectStatus(await client.login(), 200, 'login 2');
      s.clock.advance(10 * MINUTE + 1000);
      const late = await client.verify(totpAt(enrolled.secret, s.clock.now()));
      assert.equal(late.status, 410, late.text);
      assert.equal(late.body['error'], 'code_expired');
      assertNothingReleased(late, 'expired pending login');
      assert.equal((await client.me()).status, 401);
    }));

  test('an SMS code lives code_lifetime (5 min): after that → 410', () =>
    run(async (s) => {
      const client = await s.signedIn();
      await enable('sms', client, s);
      await client.logout();
      expectStatus(await client.login(), 200, 'login');
      s.clock.advance(5 * MINUTE + 1000);
      const late = await client.verify(lastCode(s.stack.outboxFile, MERCHANT_PHONE));
      assert.equal(late.status, 410, late.text);
      assert.equal((await client.me()).status, 401);
    }));
});

// ---------------------------------------------------------------------------------------------

describe('enable when enabled, disable when not', () => {
  test('enable/start when 2FA is on → 409 already_enabled', () =>
    run(async (s) => {
      const client = await s.signedIn();
      await enable('email', client, s);
      const reply = await client.enableStart(PASSWORD);
      assert.equal(reply.status, 409, reply.text);
      assert.equal(reply.body['error'], 'already_enabled');
    }));

  test('disable/start and recovery-codes/start when 2FA is off → 409 not_enabled', () =>
    run(async (s) => {
      const client = await s.signedIn();
      const disable = await client.disableStart(PASSWORD);
      assert.equal(disable.status, 409, disable.text);
      assert.equal(disable.body['error'], 'not_enabled');
      const recovery = await client.recoveryStart();
      assert.equal(recovery.status, 409, recovery.text);
      assert.equal(recovery.body['error'], 'not_enabled');
    }));
});

// ---------------------------------------------------------------------------------------------

describe('sessions after a change (ASVS 5.0 7.4.3)', () => {
  test('after enable: the other session of the user gets 401; the acting session has a new cookie and the old value is dead', () =>
    run(async (s) => {
      const acting = await s.signedIn();
      const other = await s.signedIn();
      assert.equal((await other.me()).status, 200);
      const oldCookie = acting.cookies.get('spg_session') as string;
      const stale = acting.clone();

      const enrolled = await enable('totp', acting, s);
      const newCookie = cookieSet(enrolled.reply, 'spg_session');
      assert.ok(newCookie, `the confirmation sets a new session cookie: ${JSON.stringify(enrolled.reply.setCookies)}`);
      assert.notEqual(newCookie, oldCookie);

      const actingMe = await acting.me();
      assert.equal(actingMe.status, 200, `the new cookie works: ${actingMe.text}`);
      assert.equal((await acting.status()).body['enabled'], true);

      const otherMe = await other.me();
      assert.equal(otherMe.status, 401, `the other session survived the change: ${otherMe.text}`);
      assert.equal((await other.status()).status, 401);

      const staleMe = await stale.me();
      assert.equal(staleMe.status, 401, `the acting session's old cookie still works: ${staleMe.text}`);
      assert.equal((await stale.status()).status, 401);
    }));

  test('after disable: likewise', () =>
    run(async (s) => {
      const acting = await s.signedIn();
      const enrolled = await enable('totp', acting, s);
      nextStep(s);
      const other = s.client();
      expectStatus(await other.login(), 200, 'other login');
      expectStatus(await other.verify(totpAt(enrolled.secret, s.clock.now())), 200, 'other verify');
      assert.equal((await other.me()).status, 200);
      const stale = acting.clone();

      expectStatus(await acting.disableStart(PASSWORD), 200, 'disable/start');
      nextStep(s);
      expectStatus(await acting.disableVerify(totpAt(enrolled.secret, s.clock.now())), 200, 'disable/verify');
      const confirm = expectStatus(await acting.disableConfirm(), 200, 'disable/confirm');
      assert.ok(cookieSet(confirm, 'spg_session'));
      assert.equal((await acting.me()).status, 200);
      assert.equal((await other.me()).status, 401, 'the other session survived the change');
      assert.equal((await stale.me()).status, 401, "the acting session's old cookie still works");
    }));
});
