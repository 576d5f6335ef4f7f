import assert from 'node:assert/strict';
import type { Page, Response } from 'playwright-core';
import { checkPage, describeInBrowser, type GuardPage } from '../helpers/browser.ts';
import { DEMO_LOGIN } from '../helpers/stack.ts';
import { MERCHANT, PASSWORD, startClockedStack } from '../helpers/two-factor.ts';
import { codeError, DEMO_PRODUCT, enableTotpOnPages, enterCode, expectHeading, signIn, signOut, submit, totpNow } from './merchant-steps.ts';

/**
 * Issue 13 (part B), as a merchant meets it in Chromium: a refused form (a wrong password, a wrong
 * code) is answered with a redirect to a GET page (Post/Redirect/Get), so Back and reload never
 * re-send it ("Confirm Form Resubmission"); every code page has its help link and the support
 * contact; Login & Security reads like the help article and is reached from the app's own
 * "Account Management › Login & Security"; the pages carry the app's logo.
 */

const SUPPORT = DEMO_PRODUCT.support;

/** What the browser does on `action`: every main-frame request's method, and any dialog it raised. */
async function navigationsDuring(guard: GuardPage, action: () => Promise<Response | null | void>): Promise<{ methods: string[]; dialogs: string[]; response: Response | null }> {
  const { page } = guard;
  const methods: string[] = [];
  const dialogs: string[] = [];
  const onRequest = (request: { isNavigationRequest(): boolean; frame(): unknown; method(): string }): void => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) methods.push(request.method());
  };
  const onDialog = (dialog: { message(): string; dismiss(): Promise<void> }): void => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  };
  page.on('request', onRequest);
  page.on('dialog', onDialog);
  try {
    const response = (await action()) ?? null;
    return { methods, dialogs, response };
  } finally {
    page.off('request', onRequest);
    page.off('dialog', onDialog);
  }
}

/** Reload and Back after a refused form: only GETs, no prompt, and the one-time error is gone. */
async function assertReloadAndBackAreGets(guard: GuardPage, where: string): Promise<void> {
  const { page } = guard;
  const reload = await navigationsDuring(guard, () => page.reload());
  assert.deepEqual(reload.methods, ['GET'], `${where}: reload sent ${reload.methods.join(', ')}`);
  assert.deepEqual(reload.dialogs, [], `${where}: reload asked ${reload.dialogs.join(' / ')}`);
  assert.equal(reload.response?.request().method(), 'GET');
  assert.equal(await page.getByRole('alert').count(), 0, `${where}: the error is shown once, not again on reload`);
  const back = await navigationsDuring(guard, () => page.goBack());
  assert.ok(!back.methods.includes('POST'), `${where}: Back re-sent a form (${back.methods.join(', ')})`);
  assert.deepEqual(back.dialogs, [], `${where}: Back asked ${back.dialogs.join(' / ')}`);
  await page.goForward();
}

async function colours(page: Page, selector: string): Promise<{ background: string; classes: string }> {
  return page.locator(selector).evaluate((el) => ({ background: getComputedStyle(el).backgroundColor, classes: el.className }));
}

describeInBrowser('Back, reload, help links and Login & Security', (browser) => {
  browser.test('a refused password and a wrong code: Back and reload meet GET pages; every code page has help and support; Login & Security from the app', async () => {
    const { stack, clock } = await startClockedStack({ config: { product: DEMO_PRODUCT, login: { ...DEMO_LOGIN, success: { ...DEMO_LOGIN.success, status: [...DEMO_LOGIN.success.status] }, forgot_password_url: '/password/reset' } } });
    try {
      const guard = await browser.open();
      const { page } = guard;
      const visit = (name: string): Promise<void> => checkPage(guard, `back-help-${name}`);

      // The sign-in page: the app's logo, "Forgot password?" to the app's own page, the support contact.
      await page.goto(`${stack.url}/_guard/login`);
      const logo = page.getByRole('img', { name: 'SmartPush logo' });
      assert.ok(await logo.evaluate((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0), 'the logo is served and shown');
      assert.equal(await page.getByRole('link', { name: 'Forgot password?' }).getAttribute('href'), '/password/reset');
      await page.getByText(`Trouble signing in? Contact support: ${SUPPORT}.`).waitFor();

      // A wrong password: the page says so (with the attempts left) at a GET URL.
      await signIn(guard, stack.url, MERCHANT, 'back-help-login', 'not-the-password');
      const refusal = (await page.getByRole('alert').innerText()).trim();
      assert.match(refusal, /not correct\. 2 attempts left before sign-in from this device or network is paused\./);
      assert.doesNotMatch(page.url(), /not|correct|attempt/i, 'the words are not in the URL');
      await visit('login-refused');
      await assertReloadAndBackAreGets(guard, 'the sign-in page');
      await page.getByRole('link', { name: 'Forgot password?' }).click();
      await expectHeading(guard, 'Reset your password');
      await page.goBack();

      await signIn(guard, stack.url, MERCHANT, 'back-help-login-2');
      await page.waitForURL(/\/dashboard$/);
      const { secret } = await enableTotpOnPages(guard, stack, clock, MERCHANT, async () => {
        // The enable wizard's code pages carry the help link and the support contact too.
        if (/\/_guard\/security\/enable\?step=code/.test(page.url())) {
          await page.getByRole('link', { name: 'Didn’t receive a code?' }).waitFor();
          await page.getByText(`Contact support: ${SUPPORT}`).waitFor();
        }
      });
      await signOut(guard, stack.url);

      // The app-code page: "Can't use your app?", support, and the recovery code folded away.
      await signIn(guard, stack.url, MERCHANT, 'back-help-login-3');
      await page.waitForURL(/\/_guard\/verify/);
      const help = page.getByRole('link', { name: 'Can’t use your app?' });
      assert.equal(await help.getAttribute('href'), '/_guard/help/otp#app');
      await page.getByText(`Still stuck? Contact support: ${SUPPORT}.`).waitFor();
      const code = page.getByRole('textbox', { name: 'Verification code' });
      assert.equal(await code.getAttribute('inputmode'), 'numeric');
      assert.equal(await code.getAttribute('autocomplete'), 'one-time-code');
      await page.getByText('Lost your device? Use a recovery code').click();
      const recovery = page.getByRole('textbox', { name: 'Recovery code' });
      assert.equal(await recovery.getAttribute('inputmode'), 'text');
      assert.notEqual(await recovery.getAttribute('autocomplete'), 'one-time-code');
      await visit('verify-totp');

      // A wrong code: the error, then Back and reload without any form sent again.
      clock.advance(30_000);
      const right = totpNow(secret, clock);
      await enterCode(guard, right === '000000' ? '111111' : '000000', 'Verify', 'Verification code');
      assert.match(await codeError(guard, 'Verification code'), /That code is not correct\./);
      await visit('verify-wrong-code');
      await assertReloadAndBackAreGets(guard, 'the code page');

      await help.click();
      await expectHeading(guard, 'Didn’t receive a code?');
      await page.getByText(SUPPORT).first().waitFor();
      await page.goBack();
      await enterCode(guard, totpNow(secret, clock), 'Verify', 'Verification code');
      await page.waitForURL(/\/dashboard$/);

      // The app's own menu leads to Login & Security, which reads like the help article.
      await page.getByRole('navigation', { name: 'Account Management' }).getByRole('link', { name: 'Login & Security' }).click();
      await expectHeading(guard, 'Login & Security');
      await page.getByRole('heading', { level: 2, name: 'Two-Factor Authentication Enabled' }).waitFor();
      await page.locator('#two-factor-method').filter({ hasText: 'Authenticator app' }).waitFor();
      assert.equal((await page.locator('#recovery-codes-left').innerText()).trim(), '10');
      await visit('security-enabled');
      const generate = page.getByRole('button', { name: 'Generate new recovery codes' });
      const turnOff = page.getByRole('link', { name: 'Turn off two-factor authentication' });
      const [generateBox, turnOffBox] = await Promise.all([generate.boundingBox(), turnOff.boundingBox()]);
      assert.ok(generateBox && turnOffBox && generateBox.y < turnOffBox.y, 'the everyday action comes first, turning off after it');
      const off = await colours(page, 'a[href="/_guard/security/disable"]');
      assert.match(off.classes, /\bsecondary\b/);
      assert.doesNotMatch(off.classes, /\bdanger\b/);
      assert.equal(off.background, 'rgb(255, 255, 255)', 'turning off is a secondary (outlined) button, not a red one');

      // Turning off, then the status says so, as a warning rather than a success.
      await submit(guard, turnOff);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await submit(guard, page.getByRole('button', { name: 'Continue' }));
      await page.getByRole('link', { name: 'Can’t use your app?' }).waitFor();
      clock.advance(30_000);
      await enterCode(guard, totpNow(secret, clock), 'Continue', 'Verification code');
      await submit(guard, page.getByRole('button', { name: 'Turn off two-factor authentication' }));
      await page.getByRole('heading', { level: 2, name: 'Two-Factor Authentication Disabled' }).waitFor();
      const warning = page.getByRole('status').filter({ hasText: 'Two-factor authentication is off.' });
      assert.match((await warning.getAttribute('class')) ?? '', /\bwarning\b/);
      await visit('security-disabled');
    } finally {
      await stack.close();
    }
  });
});
