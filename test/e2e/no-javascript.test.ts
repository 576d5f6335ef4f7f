import assert from 'node:assert/strict';
import { describeInBrowser, checkPage } from '../helpers/browser.ts';
import { MERCHANT, startClockedStack } from '../helpers/two-factor.ts';
import { codeError, enableTotpOnPages, enterCode, signIn, signOut, totpNow } from './merchant-steps.ts';

/**
 * Every page is a plain HTML form (src/http/security.ts, enable.ts, disable.ts): with JavaScript off, signing in, turning on
 * an authenticator app and signing in with its code still work. The pages' script only adds
 * conveniences. (axe-core runs in the page, so these pages get the console and CSP checks and a
 * screenshot; the same pages pass axe in the other journeys.)
 */
describeInBrowser('without JavaScript', (browser) => {
  browser.test('sign in, enable TOTP and sign in with a code, all with JavaScript off', async () => {
    const { stack, clock } = await startClockedStack();
    try {
      const guard = await browser.open({ javaScriptEnabled: false });
      assert.equal(guard.javaScript, false);
      const { page } = guard;
      // The context really runs no page script: an inline one leaves the title alone.
      await page.setContent('<title>before</title><script>document.title = "after"</script>');
      assert.equal(await page.title(), 'before');
      await signIn(guard, stack.url, MERCHANT, 'nojs-login');
      await page.waitForURL(/\/dashboard$/);

      const visit = (name: string): Promise<void> => checkPage(guard, `nojs-${name}`);
      const { secret } = await enableTotpOnPages(guard, stack, clock, MERCHANT, async (name) => {
        await visit(name);
        // Buttons that need the script (copy) stay hidden rather than doing nothing.
        if (name === 'enable-5-totp' || name === 'enable-done') assert.equal(await page.getByRole('button', { name: /^Copy/ }).count(), 0, `a copy button shows on ${name}`);
      });
      await page.getByRole('heading', { level: 2, name: 'Two-Factor Authentication Enabled' }).waitFor();

      await signOut(guard, stack.url, visit);
      await signIn(guard, stack.url, MERCHANT, 'nojs-login-again');
      await page.waitForURL(/\/_guard\/verify/);
      await visit('verify');
      clock.advance(30_000);
      // A wrong code without JavaScript: the form's answer is a redirect, so a reload is a GET.
      const right = totpNow(secret, clock);
      await enterCode(guard, right === '000000' ? '111111' : '000000', 'Verify');
      assert.match(await codeError(guard), /not correct/);
      const reloaded = await page.reload();
      assert.equal(reloaded?.request().method(), 'GET');
      await enterCode(guard, right, 'Verify');
      await page.waitForURL(/\/dashboard$/);
    } finally {
      await stack.close();
    }
  });
});
