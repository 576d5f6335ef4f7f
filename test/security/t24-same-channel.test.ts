import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GENEROUS_BUDGETS,
  MERCHANT,
  MERCHANT_PHONE,
  PASSWORD,
  csrfFrom,
  expectStatus,
  factorsConfig,
  lastCode,
  verifyIdentity,
  withClockedStack,
  type ClockedStack,
} from '../helpers/two-factor.ts';

/**
 * The same channel never counts as both the identity check and the second factor (Ory Kratos
 * #4317; NIST SP 800-63B §5.1.3). In the enable flow a code to the account's email or phone proves
 * who this is; the destination that proved it cannot then be enrolled (and confirmed) as the
 * second factor, over the API or the pages, at the method step or the confirm step. Another
 * channel or an authenticator app can. And no code of one step counts for another.
 */

function run<T>(fn: (s: ClockedStack) => Promise<T>): Promise<T> {
  return withClockedStack({ config: { factors: factorsConfig({ send_budget: GENEROUS_BUDGETS }).factors } }, fn);
}

describe('T24: one channel, one proof', () => {
  test('identity by email: email is not offered, and choosing it anyway is refused (400 same_channel); nothing is enrolled', () =>
    run(async (s) => {
      const client = await s.signedIn(MERCHANT);
      expectStatus(await client.enableStart(PASSWORD), 200, 'enable/start');
      expectStatus(await client.enableIdentity('email'), 200, 'enable/identity');
      const verified = expectStatus(await client.enableIdentityVerify(lastCode(s.stack.outboxFile, MERCHANT)), 200, 'identity/verify');
      assert.deepEqual(verified.body['methods'], ['totp', 'sms'], 'the mailbox that proved identity is not a method here');
      const sentBefore = lastCode(s.stack.outboxFile, MERCHANT);
      const chosen = await client.enableMethod('email');
      assert.equal(chosen.status, 400, chosen.text);
      assert.equal(chosen.body['error'], 'same_channel');
      assert.equal(lastCode(s.stack.outboxFile, MERCHANT), sentBefore, 'no enrolment code was sent to the mailbox');
      // The identity code itself is no confirm code either.
      const confirm = await client.enableConfirm(sentBefore);
      assert.notEqual(confirm.status, 200, confirm.text);
      assert.equal((await client.status()).body['enabled'], false);
    }));

  test('identity by text message: the same phone cannot be enrolled for SMS codes, but email can', () =>
    run(async (s) => {
      const client = await s.signedIn(MERCHANT);
      await verifyIdentity(client, { ...s.enroll, identityChannel: 'sms' });
      const sms = await client.enableMethod('sms', MERCHANT_PHONE);
      assert.equal(sms.status, 400, sms.text);
      assert.equal(sms.body['error'], 'same_channel');
      expectStatus(await client.enableMethod('email'), 200, 'email after identity by SMS');
      expectStatus(await client.enableConfirm(lastCode(s.stack.outboxFile, MERCHANT)), 200, 'enable/confirm');
      assert.equal((await client.status()).body['method'], 'email');
    }));

  test('the pages refuse it too: a hand-made method form with the identity channel shows the reason and enrols nothing', () =>
    run(async (s) => {
      const client = await s.signedIn(MERCHANT);
      expectStatus(await client.enableStart(PASSWORD), 200, 'enable/start');
      expectStatus(await client.enableIdentity('email'), 200, 'enable/identity');
      expectStatus(await client.enableIdentityVerify(lastCode(s.stack.outboxFile, MERCHANT)), 200, 'identity/verify');
      const page = await client.request('/_guard/security/enable?step=method&methods=totp,sms&sms=1', { headers: { accept: 'text/html' } });
      assert.equal(page.status, 200);
      assert.doesNotMatch(page.text, /name="method" value="email"/);
      const posted = await client.request('/_guard/security/enable', {
        method: 'POST',
        headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', origin: client.url, 'sec-fetch-site': 'same-origin' },
        body: new URLSearchParams({ _csrf: csrfFrom(page.text), step: 'method', method: 'email', methods: 'totp,sms,email', sms: '1' }).toString(),
      });
      assert.equal(posted.status, 303, posted.text.slice(0, 200));
      const shown = await client.request(String(posted.headers['location']), { headers: { accept: 'text/html' } });
      assert.equal(shown.status, 400);
      assert.match(shown.text, /cannot also be your second step/);
      assert.equal((await client.status()).body['enabled'], false);
    }));
});
