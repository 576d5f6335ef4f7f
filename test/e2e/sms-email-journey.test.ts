import assert from 'node:assert/strict';
import { checkPage, describeInBrowser, type GuardPage } from '../helpers/browser.ts';
import { codeIn, factorsConfig, GENEROUS_BUDGETS, lastCode, MERCHANT, MERCHANT_PHONE, OWNER, outboxMessages, startClockedStack } from '../helpers/two-factor.ts';
import { codeError, enterCode, expectHeading, signIn, signOut, submit } from './merchant-steps.ts';

/**
 * The text-message and email methods in a real browser, with the codes read from the outbox: the
 * owner (no phone on file) enables SMS with a number typed on the page and signs in with a texted
 * code; the merchant enables email codes, and the code page handles a wrong code (an announced
 * error with the attempts left), an expired one (injected clock) and a new code.
 */

/** The newest texted code, checked to have gone to `digits` (the number as typed, digits only). */
function lastSmsCode(outboxFile: string, digits: string): string {
  const texts = outboxMessages(outboxFile).filter((m) => m.channel === 'sms' && m.purpose === 'code');
  const last = texts[texts.length - 1];
  assert.ok(last, 'no text message with a code in the outbox');
  assert.equal(last.to.replace(/\D/g, ''), digits, `the code went to ${last.to}`);
  return codeIn(last.text);
}

/**
 * Login & Security → enable → password → identity (by email, or by text message to the phone on
 * file) → the method page. The channel that proves identity cannot then be enrolled (same-channel rule).
 */
async function enableUpToMethod(guard: GuardPage, url: string, outboxFile: string, email: string, shots: string, identity: 'email' | 'sms' = 'email'): Promise<void> {
  const { page } = guard;
  await page.goto(`${url}/_guard/security`);
  await submit(guard, page.getByRole('link', { name: 'Enable two-factor authentication' }));
  await page.getByLabel('Password', { exact: true }).fill('smartpush-demo');
  await submit(guard, page.getByRole('button', { name: 'Continue' }));
  if (identity === 'sms') {
    await page.getByRole('radio', { name: /Text message/ }).check();
    await submit(guard, page.getByRole('button', { name: /Send/ }));
    await enterCode(guard, lastSmsCode(outboxFile, MERCHANT_PHONE.replace(/\D/g, '')), 'Continue');
  } else {
    await page.getByRole('radio', { name: /Email/ }).check();
    await submit(guard, page.getByRole('button', { name: /Send/ }));
    await enterCode(guard, lastCode(outboxFile, email), 'Continue');
  }
  await expectHeading(guard, /codes/);
  await checkPage(guard, `${shots}-method`);
}

describeInBrowser('merchant journeys with text-message and email codes', (browser) => {
  browser.test('the owner enables SMS with a phone number and signs in with the texted code', async () => {
    const { stack, clock } = await startClockedStack();
    try {
      const guard = await browser.open();
      const { page } = guard;
      await signIn(guard, stack.url, OWNER, 'login-owner');
      await page.waitForURL(/\/dashboard$/);

      await enableUpToMethod(guard, stack.url, stack.outboxFile, OWNER, 'enable-sms');
      await page.getByRole('radio', { name: /Text message/ }).check();
      await page.getByLabel('Phone number for text messages').fill('+1 202 555 0142');
      await submit(guard, page.getByRole('button', { name: 'Continue' }));
      await expectHeading(guard, /code/i);
      await checkPage(guard, 'enable-sms-confirm');
      await enterCode(guard, lastSmsCode(stack.outboxFile, '12025550142'), 'Turn on two-factor authentication');
      await expectHeading(guard, 'Two-Factor Authentication Enabled');
      await checkPage(guard, 'enable-sms-done');
      await submit(guard, page.getByRole('link', { name: /I saved my codes/ }));
      // Login & Security: the method, and where codes go (masked).
      await page.locator('#two-factor-method').filter({ hasText: 'Text message (SMS)' }).waitFor();
      await page.locator('#two-factor-destination').filter({ hasText: /^\+1 •••• ••42$/ }).waitFor();

      await signOut(guard, stack.url);
      clock.advance(61_000); // past the resend cooldown of the enrollment's text
      await signIn(guard, stack.url, OWNER, 'login-owner-again');
      await page.waitForURL(/\/_guard\/verify/);
      await page.getByText(/text message/i).first().waitFor();
      await checkPage(guard, 'verify-sms');
      await enterCode(guard, lastSmsCode(stack.outboxFile, '12025550142'), 'Verify');
      await page.waitForURL(/\/dashboard$/);
    } finally {
      await stack.close();
    }
  });

  browser.test('email codes: a wrong code is announced with the attempts left, an expired one is refused, a new one works', async () => {
    // The send budgets (T9) would hold back the fourth code within ten minutes; this test is about expiry.
    const { stack, clock } = await startClockedStack({ config: { factors: factorsConfig({ send_budget: GENEROUS_BUDGETS }).factors } });
    try {
      const guard = await browser.open();
      const { page } = guard;
      await signIn(guard, stack.url, MERCHANT, 'login-merchant');
      await page.waitForURL(/\/dashboard$/);

      // Identity by text message: the address that gets the email codes must not also be what proved who this is.
      await enableUpToMethod(guard, stack.url, stack.outboxFile, MERCHANT, 'enable-email', 'sms');
      await page.getByRole('radio', { name: /^Email/ }).check();
      await submit(guard, page.getByRole('button', { name: 'Continue' }));
      await checkPage(guard, 'enable-email-confirm');
      await enterCode(guard, lastCode(stack.outboxFile, MERCHANT), 'Turn on two-factor authentication');
      await expectHeading(guard, 'Two-Factor Authentication Enabled');
      await submit(guard, page.getByRole('link', { name: /I saved my codes/ }));
      await page.locator('#two-factor-method').filter({ hasText: /^Email$/ }).waitFor();
      await page.locator('#two-factor-destination').filter({ hasText: /@example\.com$/ }).waitFor();

      await signOut(guard, stack.url);
      clock.advance(61_000);
      await signIn(guard, stack.url, MERCHANT, 'login-merchant-again');
      await page.waitForURL(/\/_guard\/verify/);
      await checkPage(guard, 'verify-email');
      const code = lastCode(stack.outboxFile, MERCHANT);

      // A wrong code: the error is an alert (read out at once), the field points to it, and it
      // says how many attempts are left.
      await enterCode(guard, code === '000000' ? '111111' : '000000', 'Verify');
      const wrong = await codeError(guard);
      assert.match(wrong, /not correct/);
      assert.match(wrong, /\d+ attempts? left/);
      await checkPage(guard, 'verify-wrong-code');

      // The right code, too late: refused as expired.
      clock.advance(6 * 60_000);
      await enterCode(guard, code, 'Verify');
      assert.match(await codeError(guard), /expired/);
      await checkPage(guard, 'verify-expired-code');

      // A new code, then in.
      await submit(guard, page.getByRole('button', { name: 'Send a new code' }));
      await page.getByRole('status').filter({ hasText: /new code/ }).waitFor();
      const fresh = lastCode(stack.outboxFile, MERCHANT);
      assert.notEqual(fresh, code);
      await enterCode(guard, fresh, 'Verify');
      await page.waitForURL(/\/dashboard$/);
    } finally {
      await stack.close();
    }
  });
});
