import assert from 'node:assert/strict';
import { checkPage, describeInBrowser } from '../helpers/browser.ts';
import { enrollDirectly, lastCode, MERCHANT, startClockedStack } from '../helpers/two-factor.ts';
import { DEMO_PRODUCT, enterCode, expectHeading, signIn, signOut, submit } from './merchant-steps.ts';

/**
 * "Remember this browser" in a real browser (issue 17): tick "Don't ask again on this browser" on
 * the code page, sign out, sign back in with the password only, find the browser under
 * "Remembered browsers" on Login & Security, forget it there, and be asked for a code again.
 * Every page is checked with axe-core and must log no console error or CSP violation.
 */
describeInBrowser('remember this browser', (browser) => {
  browser.test('remember, sign in without a code, forget it on Login & Security, then asked again', async () => {
    const { stack, clock } = await startClockedStack({ config: { product: DEMO_PRODUCT } });
    try {
      await enrollDirectly(stack, MERCHANT, 'email', MERCHANT, clock.now());
      const guard = await browser.open();
      const { page } = guard;

      await signIn(guard, stack.url, MERCHANT);
      await page.waitForURL(/\/_guard\/verify/);
      const remember = page.getByRole('checkbox', { name: /Don't ask again on this browser for 30 days/ });
      assert.equal(await remember.isChecked(), false, 'not ticked unless the user ticks it');
      await remember.check();
      await checkPage(guard, 'verify-remember');
      // Ticked first: the code field sends the form (with the tick) once the code is in.
      await enterCode(guard, lastCode(stack.outboxFile, MERCHANT), 'Verify');
      await page.waitForURL(/\/dashboard$/);

      await signOut(guard, stack.url);
      clock.advance(61_000);
      await signIn(guard, stack.url, MERCHANT, 'login-remembered');
      await page.waitForURL(/\/dashboard$/);

      await page.goto(`${stack.url}/_guard/security`);
      await expectHeading(guard, 'Login & Security');
      await page.getByRole('heading', { level: 2, name: 'Remembered browsers' }).waitFor();
      const item = page.locator('#remembered-browsers li');
      assert.equal(await item.count(), 1);
      assert.match(await item.first().innerText(), /Chrome on Linux \(this browser\)/);
      await checkPage(guard, 'security-remembered-browsers');
      await submit(guard, page.getByRole('button', { name: 'Forget Chrome on Linux' }));
      await expectHeading(guard, 'Login & Security');
      await page.getByRole('status').filter({ hasText: 'The browser is forgotten' }).waitFor();
      await page.getByText('No browser is remembered.').waitFor();
      await checkPage(guard, 'security-remembered-forgotten');

      await signOut(guard, stack.url);
      clock.advance(61_000);
      await signIn(guard, stack.url, MERCHANT, 'login-forgotten');
      await page.waitForURL(/\/_guard\/verify/);
      await enterCode(guard, lastCode(stack.outboxFile, MERCHANT), 'Verify');
      await page.waitForURL(/\/dashboard$/);
    } finally {
      await stack.close();
    }
  });
});
