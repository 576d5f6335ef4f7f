import { assertNoHorizontalScroll, checkPage, describeInBrowser, PHONE_VIEWPORT } from '../helpers/browser.ts';
import { MERCHANT, startClockedStack } from '../helpers/two-factor.ts';
import { DEMO_PRODUCT, enableTotpOnPages, enterCode, signIn, signOut, totpNow } from './merchant-steps.ts';

/**
 * The main pages on a phone (375 CSS pixels, an iPhone's width): nothing is wider than the screen,
 * so no page scrolls sideways, and each passes the same axe, console and CSP checks.
 */
describeInBrowser('on a 375 px wide phone screen', (browser) => {
  browser.test('login, Login & Security, the enable wizard, recovery codes, sign-out and the code page fit the width', async () => {
    const { stack, clock } = await startClockedStack({ config: { product: DEMO_PRODUCT } });
    try {
      const guard = await browser.open({ viewport: PHONE_VIEWPORT, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
      const { page } = guard;
      const visit = async (name: string): Promise<void> => {
        await assertNoHorizontalScroll(guard, name);
        await checkPage(guard, `phone-${name}`);
      };
      await page.goto(`${stack.url}/_guard/login`);
      await assertNoHorizontalScroll(guard, 'login');
      await signIn(guard, stack.url, MERCHANT, 'phone-login');
      await page.waitForURL(/\/dashboard$/);

      const { secret } = await enableTotpOnPages(guard, stack, clock, MERCHANT, visit);
      await visit('security-enabled');
      await signOut(guard, stack.url, visit);
      await signIn(guard, stack.url, MERCHANT, 'phone-login-again');
      await page.waitForURL(/\/_guard\/verify/);
      await visit('verify');
      clock.advance(30_000);
      await enterCode(guard, totpNow(secret, clock), 'Verify');
      await page.waitForURL(/\/dashboard$/);

      await page.goto(`${stack.url}/_guard/help/otp`);
      await visit('help-otp');
    } finally {
      await stack.close();
    }
  });
});
