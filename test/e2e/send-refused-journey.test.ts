import assert from 'node:assert/strict';
import { checkPage, describeInBrowser } from '../helpers/browser.ts';
import { RISK_AT, signedInClient } from '../helpers/step-up.ts';
import { codeMessages, enableEmail, expectStatus, factorsConfig, MERCHANT, withClockedStack, type ClockedStack } from '../helpers/two-factor.ts';
import { checkDownload, enterCode, expectHeading, signIn, submit } from './merchant-steps.ts';

/**
 * Issue 13: a refused send, forced by an attacker's resend loop (default send budgets: the 4th code
 * to one address in 10 minutes that nobody entered is refused). The merchant's pages say that no
 * code was sent, count down to the next one from the server's time, and offer the way that still
 * works: the recovery code signs in, and it confirms an export on the step-up page, where its field
 * is there before any "Send the code".
 */
describeInBrowser('a refused send tells the truth and leaves a way in', (browser) => {
  browser.test('sign-in and step-up after a resend loop: "No code was sent", a countdown, and recovery codes that work', () =>
    withClockedStack({ config: { risk: RISK_AT.high, factors: factorsConfig({}).factors } }, async (s: ClockedStack) => {
      // The merchant turned on email 2FA earlier (over the API) and kept the recovery codes.
      const { recoveryCodes } = await enableEmail(await signedInClient(s), s.enroll);
      // The attacker has the password and asks for sign-in codes at every cooldown, never entering one.
      const attacker = s.client();
      expectStatus(await attacker.login(), 200, 'attacker login');
      for (let i = 0; i < 3; i++) {
        s.clock.advance(61_000);
        await attacker.resend();
      }
      const sent = codeMessages(s.stack.outboxFile, MERCHANT).length;

      const guard = await browser.open();
      const { page } = guard;
      await signIn(guard, s.stack.url, MERCHANT, 'login-refused');
      await page.waitForURL(/\/_guard\/verify/);
      const status = page.getByRole('status').filter({ hasText: 'No code was sent.' });
      await status.waitFor();
      assert.match(await status.innerText(), /Too many codes were sent to m•••@example\.com recently/);
      assert.match(await status.innerText(), /You can ask for a new code in \d+ minutes/);
      assert.match(await status.innerText(), /recovery codes/);
      assert.equal(await page.getByText(/We sent a/).count(), 0, 'never "we sent" without a send');
      const resend = page.getByRole('button', { name: /Send a new code/ });
      assert.ok(Number(await resend.getAttribute('data-resend-after')) > 60, 'the resend button counts down from the server');
      await checkPage(guard, 'verify-refused');
      assert.equal(codeMessages(s.stack.outboxFile, MERCHANT).length, sent, 'no code went out');

      // The recovery code signs in.
      await enterCode(guard, recoveryCodes[0] as string, 'Verify');
      await page.waitForURL(/\/dashboard$/);

      // Step-up for an export: the recovery-code field is there before any send.
      await submit(guard, page.getByRole('link', { name: 'Export contacts (CSV)' }));
      await page.waitForURL(/\/_guard\/step-up\?return_to=/);
      await expectHeading(guard, /Confirm it/);
      await page.getByRole('textbox', { name: 'Recovery code' }).waitFor();
      assert.equal(await page.getByRole('textbox', { name: 'Recovery code' }).getAttribute('inputmode'), 'text');
      await checkPage(guard, 'step-up-recovery-before-send');
      await submit(guard, page.getByRole('button', { name: 'Send the code' }));
      await page.getByRole('status').filter({ hasText: 'No code was sent.' }).waitFor();
      await checkPage(guard, 'step-up-refused');
      assert.equal(codeMessages(s.stack.outboxFile, MERCHANT).length, sent, 'still no code went out');

      await page.getByRole('textbox', { name: 'Recovery code' }).fill(recoveryCodes[1] as string);
      const [download] = await Promise.all([page.waitForEvent('download'), submit(guard, page.getByRole('button', { name: 'Use the recovery code' }))]);
      await checkDownload(download, 'contacts-export.csv');
      await expectHeading(guard, /Verified/);
    }),
  );
});
