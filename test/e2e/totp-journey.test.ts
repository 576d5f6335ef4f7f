import assert from 'node:assert/strict';
import { checkPage, describeInBrowser } from '../helpers/browser.ts';
import { base32Decode, lastCode, MERCHANT, ownerMessages, settleOwnerMessages, startClockedStack } from '../helpers/two-factor.ts';
import { codeError, DEMO_PRODUCT, enterCode, expectHeading, exportCsv, recoveryCodesOnPage, signIn, submit, totpKeyOnPage, totpNow } from './merchant-steps.ts';

/**
 * The whole merchant journey in a real browser with an authenticator app: sign in, turn on TOTP from
 * Login & Security (the key read off the page, the code computed here), keep the recovery codes,
 * sign out and in again with a code, export without a further check (2FA on, low risk), make new
 * recovery codes, and turn 2FA off with a recovery code. Every page is checked with axe-core and
 * must log no console error or CSP violation.
 */
describeInBrowser('merchant journey with an authenticator app', (browser) => {
  browser.test('enable TOTP, sign in with it, export, new recovery codes, disable', async () => {
    // The demo's product settings (config/demo.yaml), so the screenshots look like `npm start`.
    const { stack, clock } = await startClockedStack({ config: { product: DEMO_PRODUCT } });
    try {
      const guard = await browser.open();
      const { page } = guard;

      // An unauthenticated visit lands on the sidecar's login page and comes back afterwards.
      await page.goto(`${stack.url}/`);
      await page.waitForURL(/\/_guard\/login\?return_to=%2F$/);
      await signIn(guard, stack.url, MERCHANT);
      await page.waitForURL(/\/dashboard$/);

      await page.goto(`${stack.url}/_guard/security`);
      await expectHeading(guard, 'Login & Security');
      await checkPage(guard, 'security');
      await page.getByRole('heading', { level: 2, name: 'Two-Factor Authentication Disabled' }).waitFor();
      await page.getByText(/contact support: support@smartpush\.example/).waitFor();

      // Step 1: password (the sign-in was a moment ago, but the password is given anyway).
      await submit(guard, page.getByRole('link', { name: 'Enable two-factor authentication' }));
      await checkPage(guard, 'enable-1-password');
      await page.getByLabel('Password', { exact: true }).fill('smartpush-demo');
      await submit(guard, page.getByRole('button', { name: 'Continue' }));

      // Step 2-3: identity by email.
      await expectHeading(guard, /send a code/i);
      await checkPage(guard, 'enable-2-identity');
      await page.getByRole('radio', { name: /Email/ }).check();
      await submit(guard, page.getByRole('button', { name: /Send/ }));
      await expectHeading(guard, /code/i);
      await checkPage(guard, 'enable-3-identity-code');
      await enterCode(guard, lastCode(stack.outboxFile, MERCHANT), 'Continue');

      // Step 4: the method.
      await checkPage(guard, 'enable-4-method');
      await page.getByRole('radio', { name: /Authenticator app/ }).check();
      await submit(guard, page.getByRole('button', { name: 'Continue' }));

      // Step 5: the QR code and the key; a wrong code first, then the app's code.
      await expectHeading(guard, /QR code/);
      await page.getByRole('img', { name: /QR code/ }).waitFor();
      await checkPage(guard, 'enable-5-totp');
      const secret = await totpKeyOnPage(guard);
      // guard.js shows the copy button, which puts the key (as shown) on the clipboard.
      await guard.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.url });
      await page.getByRole('button', { name: 'Copy the key' }).click();
      const copied = await page.evaluate(() => navigator.clipboard.readText());
      assert.deepEqual(base32Decode(copied), secret, `the clipboard holds ${JSON.stringify(copied)}`);
      const wrong = totpNow(secret, clock) === '000000' ? '111111' : '000000';
      await enterCode(guard, wrong, 'Turn on two-factor authentication');
      assert.match(await codeError(guard), /not correct/);
      await checkPage(guard, 'enable-5-totp-wrong-code');
      await enterCode(guard, totpNow(secret, clock), 'Turn on two-factor authentication');

      await expectHeading(guard, 'Two-Factor Authentication Enabled');
      await checkPage(guard, 'enable-done-recovery-codes');
      const recoveryCodes = await recoveryCodesOnPage(guard);
      await settleOwnerMessages(stack.guard);
      const told = ownerMessages(stack.outboxFile, MERCHANT);
      assert.equal(told.length, 1, `one email tells the merchant that 2FA was turned on: ${JSON.stringify(told)}`);
      assert.equal(told[0]?.alert, 'factor_changed', 'the security alert, in the language of the pages');
      assert.equal(told[0]?.lang, 'en');
      await submit(guard, page.getByRole('link', { name: /I saved my codes/ }));
      await expectHeading(guard, 'Login & Security');
      await page.getByRole('heading', { level: 2, name: 'Two-Factor Authentication Enabled' }).waitFor();
      await page.getByText('Authenticator app', { exact: true }).waitFor();
      await checkPage(guard, 'security-enabled');

      // Sign out, then in again: now a code is asked for.
      await page.goto(`${stack.url}/_guard/logout`);
      await checkPage(guard, 'logout');
      await submit(guard, page.getByRole('button', { name: 'Sign out' }));
      await page.getByRole('status').filter({ hasText: 'You have signed out.' }).waitFor();
      await checkPage(guard, 'login-signed-out');

      await signIn(guard, stack.url, MERCHANT, 'login-again');
      await page.waitForURL(/\/_guard\/verify/);
      await checkPage(guard, 'verify-totp');
      clock.advance(30_000); // the enrollment used this time step's code; a code is good once
      await enterCode(guard, totpNow(secret, clock), 'Verify');
      await page.waitForURL(/\/dashboard$/);

      // 2FA on and low risk: the export goes through without a further check.
      await exportCsv(guard, page.getByRole('link', { name: 'Export contacts (CSV)' }), 'contacts-export.csv');
      await exportCsv(guard, page.getByRole('link', { name: 'Export CSV' }).first(), 'campaign-1-export.csv');

      // New recovery codes, confirmed with the app.
      await page.goto(`${stack.url}/_guard/security`);
      await submit(guard, page.getByRole('button', { name: 'Generate new recovery codes' }));
      await checkPage(guard, 'recovery-codes-confirm');
      clock.advance(30_000);
      await enterCode(guard, totpNow(secret, clock), 'Generate new codes');
      await expectHeading(guard, /new recovery codes/i);
      await checkPage(guard, 'recovery-codes-new');
      const fresh = await recoveryCodesOnPage(guard);
      assert.equal(fresh.filter((c) => recoveryCodes.includes(c)).length, 0, 'the new codes are all new');
      await submit(guard, page.getByRole('link', { name: /I saved my codes/ }));

      // Turn it off: password, then an old recovery code (refused), a new one, then confirm.
      await submit(guard, page.getByRole('link', { name: 'Turn off two-factor authentication' }));
      await checkPage(guard, 'disable-1-password');
      await page.getByLabel('Password', { exact: true }).fill('smartpush-demo');
      await submit(guard, page.getByRole('button', { name: 'Continue' }));
      await checkPage(guard, 'disable-2-code');
      await enterCode(guard, recoveryCodes[0] as string, 'Continue');
      assert.match(await codeError(guard), /not correct/);
      // A recovery code has letters: its own field (folded away, a keyboard with letters) takes it.
      await page.getByText('Lost your device? Use a recovery code').click();
      const recoveryField = page.getByRole('textbox', { name: 'Recovery code' });
      assert.equal(await recoveryField.getAttribute('inputmode'), 'text');
      await recoveryField.fill(fresh[0] as string);
      await submit(guard, page.getByRole('button', { name: 'Use this recovery code' }));
      await checkPage(guard, 'disable-3-confirm');
      await submit(guard, page.getByRole('button', { name: 'Turn off two-factor authentication' }));
      await expectHeading(guard, 'Login & Security');
      await page.getByRole('heading', { level: 2, name: 'Two-Factor Authentication Disabled' }).waitFor();
      await page.getByRole('status').waitFor();
      await checkPage(guard, 'security-disabled');
    } finally {
      await stack.close();
    }
  });
});
