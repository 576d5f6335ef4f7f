import assert from 'node:assert/strict';
import { assertNoProblems, checkPage, describeInBrowser } from '../helpers/browser.ts';
import { RISK_AT, signedInClient, withRiskStack } from '../helpers/step-up.ts';
import { enableTotp, lastCode, MERCHANT, startClockedStack } from '../helpers/two-factor.ts';
import { checkDownload, codeError, enterCode, expectHeading, exportCsv, signIn, submit, totpNow } from './merchant-steps.ts';

/**
 * A sensitive operation without 2FA (policies/smartpush.yaml: exports need an email code): the
 * export link leads to "Confirm it's you", the emailed code leads to the result page, which says it
 * worked and starts the download by itself, and only below it invites to turn on 2FA ("Not now"
 * goes back to where the merchant was); within the freshness window the next export of that kind
 * goes straight through. Also the pages around it: the "didn't receive a code?" help and an error page.
 */
describeInBrowser('step-up before an export, help and error pages', (browser) => {
  browser.test('a campaign export asks for an email code; the result page says so and downloads, then invites to enable 2FA', async () => {
    const { stack } = await startClockedStack();
    try {
      const guard = await browser.open();
      const { page } = guard;
      await signIn(guard, stack.url, MERCHANT);
      await page.waitForURL(/\/dashboard$/);

      await submit(guard, page.getByRole('link', { name: 'Export CSV' }).first());
      await page.waitForURL(/\/_guard\/step-up\?return_to=/);
      await expectHeading(guard, /Confirm it/);
      await checkPage(guard, 'step-up');
      await submit(guard, page.getByRole('button', { name: /Send the code/ }));
      await page.getByRole('textbox', { name: /code/i }).waitFor();
      await checkPage(guard, 'step-up-code');

      const code = lastCode(stack.outboxFile, MERCHANT);
      await enterCode(guard, code === '000000' ? '111111' : '000000', /Verify/);
      assert.match(await codeError(guard), /not correct/);
      await checkPage(guard, 'step-up-wrong-code');

      // The result page: it worked, the export downloads by itself, and the page stays.
      const [download] = await Promise.all([page.waitForEvent('download'), enterCode(guard, code, /Verify/)]);
      await checkDownload(download, 'campaign-1-export.csv');
      await expectHeading(guard, /Verified/);
      assert.match(page.url(), /\/_guard\/step-up\/done$/);
      await page.getByRole('status').filter({ hasText: /exports your data \(a campaign's recipients as CSV\)\. It continues now: a download starts/ }).waitFor();
      await page.getByRole('link', { name: 'Back to where you were' }).waitFor();
      // The invitation comes after the export was delivered, below the result, and holds nothing back.
      await page.getByRole('heading', { level: 2, name: /two-factor authentication/ }).waitFor();
      await checkPage(guard, 'step-up-done');
      await submit(guard, page.getByRole('button', { name: 'Not now' }));
      await page.waitForURL(/\/dashboard$/);

      // Fresh for 10 minutes: the next campaign export needs no code.
      await page.goto(`${stack.url}/dashboard`);
      await exportCsv(guard, page.getByRole('link', { name: 'Export CSV' }).nth(1), 'campaign-2-export.csv');
    } finally {
      await stack.close();
    }
  });

  browser.test('with an authenticator app and a high risk, an export asks for a fresh code of the app, then downloads', () =>
    withRiskStack(RISK_AT.high, async (s) => {
      // Enrolled beforehand over the API (the browser journeys enrol on the pages).
      const { secret } = await enableTotp(await signedInClient(s), s.enroll);
      const guard = await browser.open();
      const { page } = guard;
      s.clock.advance(30_000);
      await signIn(guard, s.stack.url, MERCHANT, 'login-high-risk');
      await page.waitForURL(/\/_guard\/verify/);
      await enterCode(guard, totpNow(secret, s.clock), 'Verify');
      await page.waitForURL(/\/dashboard$/);

      await submit(guard, page.getByRole('link', { name: 'Export contacts (CSV)' }));
      await page.waitForURL(/\/_guard\/step-up\?return_to=/);
      await page.getByText(/authenticator app/).first().waitFor();
      await checkPage(guard, 'step-up-totp');
      s.clock.advance(30_000);
      const field = page.getByRole('textbox', { name: /code/i });
      // guard.js sends the form on the sixth digit; otherwise the button does.
      const autosubmits = (await field.getAttribute('data-autosubmit')) !== null;
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        (async () => {
          await field.fill(totpNow(secret, s.clock));
          if (!autosubmits) await page.getByRole('button', { name: /Verify/ }).click();
        })(),
      ]);
      await checkDownload(download, 'contacts-export.csv');
      await expectHeading(guard, /Verified/);
      assert.equal(await page.getByRole('heading', { level: 2, name: /two-factor/ }).count(), 0, 'no invitation with 2FA on');
      assertNoProblems(guard, 'the step-up with an authenticator app');
    }));

  browser.test('the help page for missing codes (in English and Chinese) and an error page pass the same checks', async () => {
    const { stack } = await startClockedStack();
    try {
      const guard = await browser.open();
      const { page } = guard;
      await page.goto(`${stack.url}/_guard/help/otp`);
      await expectHeading(guard, /receive a code/);
      await page.getByRole('heading', { level: 2, name: /Authenticator app/ }).waitFor();
      await checkPage(guard, 'help-otp');

      // The language switcher is a plain link; the page then speaks Chinese and still passes.
      await submit(guard, page.getByRole('link', { name: '简体中文' }));
      assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
      await checkPage(guard, 'help-otp-zh-CN');
      await submit(guard, page.getByRole('link', { name: 'English' }));
      assert.equal(await page.locator('html').getAttribute('lang'), 'en');

      const response = await page.goto(`${stack.url}/_guard/no-such-page`);
      assert.equal(response?.status(), 404);
      await expectHeading(guard, /not found/i);
      await checkPage(guard, 'error-404');
    } finally {
      await stack.close();
    }
  });
});
