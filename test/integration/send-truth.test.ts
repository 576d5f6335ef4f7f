import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.ts';
import {
  MERCHANT,
  PASSWORD,
  codeMessages,
  enableEmail,
  expectStatus,
  factorsConfig,
  withClockedStack,
  type ApiReply,
  type ClockedStack,
  type GuardClient,
} from '../helpers/two-factor.ts';
import { CONTACT_EXPORT, RISK_AT, assertExported, browserCall, pageWithCsrf, postForm, submitForm, signedInClient, stepUpUrlFor } from '../helpers/step-up.ts';

/**
 * Issue 13: every page tells the truth about sending. When a send is refused (here: by the default
 * send budget, spent by an attacker's resend loop), the sign-in code page, the step-up page and the
 * pages that turn 2FA off say that no code was sent, when a new one can be asked for (from the
 * server's clock: a reload does not restart it, a `wait=` in the URL means nothing), and offer the
 * way that still works: a recovery code where the account has them, the help page, support.
 */

const SECOND = 1000;

/** Default send budgets; every request high risk (sign-in asks a code, exports ask a fresh one). */
function run<T>(fn: (s: ClockedStack) => Promise<T>): Promise<T> {
  return withClockedStack({ config: { risk: RISK_AT.high, factors: factorsConfig({}).factors } }, fn, new ManualClock(Date.now()));
}

/** The merchant signed in with email 2FA on and recovery codes in hand (every code entered: no budget spent). */
async function merchantWith2fa(s: ClockedStack): Promise<{ client: GuardClient; recoveryCodes: string[] }> {
  const client = await signedInClient(s);
  const enrolled = await enableEmail(client, s.enroll);
  return { client, recoveryCodes: enrolled.recoveryCodes };
}

/** An attacker with the password asks for sign-in codes at every cooldown and never enters one: 3 sends. */
async function resendLoop(s: ClockedStack): Promise<void> {
  const attacker = s.client();
  const login = expectStatus(await attacker.login(), 200, 'attacker login');
  assert.equal(login.body['delivery_error'], undefined, login.text);
  for (let i = 0; i < 2; i++) {
    s.clock.advance(61 * SECOND);
    expectStatus(await attacker.resend(), 200, `attacker resend ${i + 1}`);
  }
  s.clock.advance(61 * SECOND);
  const refused = await attacker.resend();
  assert.equal(refused.status, 429, `the 4th unentered code is refused: ${refused.text}`);
}

function resendAfter(html: string): number {
  const match = /data-resend-after="(\d+)"/.exec(html);
  assert.ok(match?.[1], `a countdown on the resend button: ${html.slice(0, 400)}`);
  return Number(match[1]);
}

function assertRefusedTruth(html: string, what: string): void {
  assert.match(html, /data-send="refused"/, `${what}: the sending status says refused`);
  assert.match(html, /No code was sent\./, `${what}: says no code was sent`);
  assert.doesNotMatch(html, /We sent a 6-digit code/, `${what}: never "we sent" without a send`);
  assert.doesNotMatch(html, /A code was sent recently/, `${what}: never "a code was sent recently" without a send`);
  assert.match(html, /href="\/_guard\/help\/otp"/, `${what}: the help page`);
  assert.match(html, /contact support/i, `${what}: support`);
}

async function htmlGet(client: GuardClient, path: string): Promise<ApiReply> {
  return client.request(path, { headers: { accept: 'text/html' } });
}

describe('issue 13: a refused send is told as it is, with the way that still works', () => {
  test('sign-in: the code page says no code was sent, counts down from the server (not the URL), and takes a recovery code', () =>
    run(async (s) => {
      const { recoveryCodes } = await merchantWith2fa(s);
      await resendLoop(s);
      const sentBefore = codeMessages(s.stack.outboxFile, MERCHANT).length;

      const owner = s.client();
      const login = await pageWithCsrf(owner, '/_guard/login');
      const posted = await postForm(owner, '/_guard/login', { _csrf: login.csrf, email: MERCHANT, password: PASSWORD, return_to: '/dashboard' });
      assert.equal(posted.status, 303, posted.text.slice(0, 300));
      assert.doesNotMatch(String(posted.headers.location), /wait=/, 'no countdown in the URL');
      const page = await htmlGet(owner, String(posted.headers.location));
      assert.equal(page.status, 200);
      assertRefusedTruth(page.text, 'sign-in code page');
      assert.equal(codeMessages(s.stack.outboxFile, MERCHANT).length, sentBefore, 'indeed nothing was sent');
      assert.match(page.text, /recovery codes below/, 'a recovery code is offered (the account has some)');
      const first = resendAfter(page.text);
      assert.ok(first > 60 && first <= 600, `the rest of the 10-minute window: ${first}`);

      s.clock.advance(60 * SECOND);
      const reloaded = await htmlGet(owner, '/_guard/verify?return_to=%2Fdashboard&wait=9');
      assertRefusedTruth(reloaded.text, 'after a reload');
      assert.equal(resendAfter(reloaded.text), first - 60, 'a reload counts on from the server, ignoring wait=');

      const form = await pageWithCsrf(owner, '/_guard/verify?return_to=%2Fdashboard');
      const verified = await postForm(owner, '/_guard/verify', { _csrf: form.csrf, action: 'verify', code: recoveryCodes[0] as string, return_to: '/dashboard' });
      assert.equal(verified.status, 303, verified.text.slice(0, 300));
      assert.equal(verified.headers.location, '/dashboard', 'signed in with the recovery code');
    }));

  test('a sign-in without 2FA is never told to use recovery codes it does not have', () =>
    run(async (s) => {
      await resendLoopWithout2fa(s);
      const owner = s.client();
      const login = await pageWithCsrf(owner, '/_guard/login');
      const posted = await postForm(owner, '/_guard/login', { _csrf: login.csrf, email: MERCHANT, password: PASSWORD, return_to: '/dashboard' });
      const page = await htmlGet(owner, String(posted.headers.location));
      assertRefusedTruth(page.text, 'risk code page');
      assert.doesNotMatch(page.text, /we sent a code/i, 'the risk notice does not claim a send either');
      assert.match(page.text, /needs a code sent to your email/);
      assert.doesNotMatch(page.text, /recovery code/i, 'no recovery codes for an account without 2FA');
    }));

  test('step-up: the recovery-code field is there before any send; a refused send says so; the recovery code finishes the step-up and the export', () =>
    run(async (s) => {
      const { client, recoveryCodes } = await merchantWith2fa(s);
      const redirect = await browserCall(client, CONTACT_EXPORT);
      assert.equal(redirect.status, 303, redirect.text.slice(0, 200));
      const { page, csrf } = await pageWithCsrf(client, stepUpUrlFor(CONTACT_EXPORT));
      assert.match(page.text, /id="recovery-code"[^>]*inputmode="text"|inputmode="text"[^>]*id="recovery-code"/, 'a recovery-code field, letters allowed, before pressing "Send the code"');
      assert.match(page.text, /Send the code/);

      await resendLoop(s);
      const sent = await submitForm(client, '/_guard/step-up', { _csrf: csrf, action: 'send', return_to: CONTACT_EXPORT });
      assert.equal(sent.status, 429, sent.text.slice(0, 300));
      assertRefusedTruth(sent.text, 'step-up after a refused send');
      assert.ok(resendAfter(sent.text) > 60);
      const reload = await htmlGet(client, stepUpUrlFor(CONTACT_EXPORT));
      assertRefusedTruth(reload.text, 'step-up page reloaded');
      assert.match(reload.text, /id="recovery-code"/, 'the recovery code is still offered');

      const verified = await postForm(client, '/_guard/step-up', { _csrf: csrf, action: 'verify', code: recoveryCodes[0] as string, return_to: CONTACT_EXPORT });
      assert.equal(verified.status, 303, verified.text.slice(0, 300));
      assert.equal(verified.headers.location, '/_guard/step-up/done');
      assertExported(await browserCall(client, CONTACT_EXPORT), 'the export after the recovery code');
    }));

  test('turning 2FA off with a refused send leads to the code step, which says so and still takes a recovery code', () =>
    run(async (s) => {
      const { client, recoveryCodes } = await merchantWith2fa(s);
      await resendLoop(s);
      const start = await pageWithCsrf(client, '/_guard/security/disable');
      const password = await postForm(client, '/_guard/security/disable', { _csrf: start.csrf, step: 'password', password: PASSWORD });
      assert.equal(password.status, 303, password.text.slice(0, 300));
      assert.equal(password.headers.location, '/_guard/security/disable?step=code', 'on to the code step, not back to step 1');
      const code = await pageWithCsrf(client, '/_guard/security/disable?step=code');
      assertRefusedTruth(code.page.text, 'disable code step');
      assert.match(code.page.text, /name="code"/, 'a field for the recovery code');
      const verified = await postForm(client, '/_guard/security/disable', { _csrf: code.csrf, step: 'code', code: recoveryCodes[1] as string });
      assert.equal(verified.status, 303, verified.text.slice(0, 300));
      assert.equal(verified.headers.location, '/_guard/security/disable?step=confirm');
    }));

  test('enabling 2FA with a refused identity send: the page says no code was sent, offers the other way, help and support', () =>
    run(async (s) => {
      const client = await signedInClient(s);
      await resendLoop(s);
      const start = await pageWithCsrf(client, '/_guard/security/enable');
      const password = await postForm(client, '/_guard/security/enable', { _csrf: start.csrf, step: 'password', password: PASSWORD });
      assert.equal(password.status, 303, password.text.slice(0, 300));
      const identity = await pageWithCsrf(client, String(password.headers.location));
      const refused = await submitForm(client, '/_guard/security/enable', { _csrf: identity.csrf, step: 'identity', channel: 'email', sms: '1' });
      assert.equal(refused.status, 429, refused.text.slice(0, 300));
      assert.match(refused.text, /no new code was sent/);
      assert.doesNotMatch(refused.text, /We sent a 6-digit code|A code was sent recently/);
      assert.match(refused.text, /name="channel" value="sms"/, 'the other way (a text message) is offered');
      assert.match(refused.text, /href="\/_guard\/help\/otp"/);
      assert.match(refused.text, /contact support/i);
    }));

  test('new recovery codes with a refused send: the code step says no code was sent and when to ask again', () =>
    run(async (s) => {
      const { client } = await merchantWith2fa(s);
      await resendLoop(s);
      const start = await pageWithCsrf(client, '/_guard/security/recovery-codes');
      const asked = await postForm(client, '/_guard/security/recovery-codes', { _csrf: start.csrf, step: 'start' });
      assert.equal(asked.status, 303, asked.text.slice(0, 300));
      const code = await htmlGet(client, String(asked.headers.location));
      assertRefusedTruth(code.text, 'recovery-codes code step');
      assert.ok(resendAfter(code.text) > 60);
    }));
});

/** The resend loop against an account without 2FA: risk sign-in codes (every request is high risk). */
async function resendLoopWithout2fa(s: ClockedStack): Promise<void> {
  await resendLoop(s);
}
