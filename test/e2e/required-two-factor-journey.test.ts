import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkPage, describeInBrowser } from '../helpers/browser.ts';
import { lastCode, MERCHANT, startClockedStack } from '../helpers/two-factor.ts';
import { DEMO_PRODUCT, enterCode, expectHeading, recoveryCodesOnPage, signIn, signOut, submit, totpKeyOnPage, totpNow } from './merchant-steps.ts';

/**
 * Policy `require_2fa` in a real browser (issue 17): the demo policy with a grace period of two
 * "Not now". The merchant signs in and skips twice (the page says how many are left), then the
 * grace period is over: the page offers only "Set up now", which leads through the enable flow
 * (TOTP, the key read off the page) and back to the dashboard. Every page is checked with axe.
 */

const POLICY = `${readFileSync(join(process.cwd(), 'policies', 'smartpush.yaml'), 'utf8')}
require_2fa:
  for: all
  grace: { skips: 2 }
`;

describeInBrowser('required two-step verification with a grace period', (browser) => {
  browser.test('skip, skip, then set up TOTP from the required page and reach the dashboard', async () => {
    const { stack, clock } = await startClockedStack({ policy: POLICY, config: { product: DEMO_PRODUCT } });
    try {
      const guard = await browser.open();
      const { page } = guard;

      for (const [i, left] of [[1, /2 more times/], [2, /1 more time\b/]] as const) {
        await signIn(guard, stack.url, MERCHANT, `required-login-${i}`);
        await page.waitForURL(/\/_guard\/two-factor-required\?return_to=%2Fdashboard$/);
        await expectHeading(guard, 'Your organisation requires two-step verification');
        await page.getByText(left).waitFor();
        await checkPage(guard, `required-grace-${i}`);
        await submit(guard, page.getByRole('button', { name: 'Not now' }));
        await page.waitForURL(/\/dashboard$/);
        await signOut(guard, stack.url);
      }

      // The grace period is over: no "Not now", only "Set up now".
      await signIn(guard, stack.url, MERCHANT, 'required-login-3');
      await page.waitForURL(/\/_guard\/two-factor-required\?return_to=%2Fdashboard$/);
      await page.getByText(/has run out/).waitFor();
      assert.equal(await page.getByRole('button', { name: 'Not now' }).count(), 0, 'no "Not now" once the skips are used');
      await checkPage(guard, 'required-over');
      // The app itself stays out of reach.
      await page.goto(`${stack.url}/dashboard`);
      assert.match(page.url(), /\/_guard\/two-factor-required\?return_to=%2Fdashboard$/);

      await submit(guard, page.getByRole('link', { name: 'Set up now' }));
      await page.getByLabel('Password', { exact: true }).fill('smartpush-demo');
      await submit(guard, page.getByRole('button', { name: 'Continue' }));
      await page.getByRole('radio', { name: /Email/ }).check();
      await submit(guard, page.getByRole('button', { name: /Send/ }));
      await enterCode(guard, lastCode(stack.outboxFile, MERCHANT), 'Continue');
      await page.getByRole('radio', { name: /Authenticator app/ }).check();
      await submit(guard, page.getByRole('button', { name: 'Continue' }));
      await page.getByRole('img', { name: /QR code/ }).waitFor();
      const secret = await totpKeyOnPage(guard);
      await enterCode(guard, totpNow(secret, clock), 'Turn on two-factor authentication');
      await expectHeading(guard, 'Two-Factor Authentication Enabled');
      assert.equal((await recoveryCodesOnPage(guard)).length, 10);
      await checkPage(guard, 'required-enabled');

      // Back to where the merchant was going, and through.
      await submit(guard, page.getByRole('link', { name: /back to where I was/ }));
      await page.waitForURL(/\/dashboard$/);
      await page.goto(`${stack.url}/_guard/security`);
      await page.getByText(/cannot be turned off/).waitFor();
      await checkPage(guard, 'required-security');
    } finally {
      await stack.close();
    }
  });

  browser.test('without JavaScript: the page, "Not now" and "Set up now" work as plain forms and links', async () => {
    const { stack } = await startClockedStack({ policy: POLICY });
    try {
      const guard = await browser.open({ javaScriptEnabled: false });
      const { page } = guard;
      await signIn(guard, stack.url, MERCHANT, 'required-nojs-login');
      await page.waitForURL(/\/_guard\/two-factor-required\?return_to=%2Fdashboard$/);
      await checkPage(guard, 'required-nojs');
      await submit(guard, page.getByRole('button', { name: 'Not now' }));
      await page.waitForURL(/\/dashboard$/);
      await page.goto(`${stack.url}/_guard/two-factor-required?return_to=%2Fdashboard`);
      await submit(guard, page.getByRole('link', { name: 'Set up now' }));
      await expectHeading(guard, /two-factor/i);
      assert.match(page.url(), /\/_guard\/security\/enable\?return_to=%2Fdashboard$/);
    } finally {
      await stack.close();
    }
  });
});
