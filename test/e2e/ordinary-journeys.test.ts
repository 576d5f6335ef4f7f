import assert from 'node:assert/strict';
import type { Locator } from 'playwright-core';
import { describeInBrowser, type GuardPage } from '../helpers/browser.ts';
import { RISK_AT } from '../helpers/step-up.ts';
import { codeMessages, factorsConfig, lastCode, MERCHANT, MERCHANT_PHONE, PASSWORD, withClockedStack, type ClockedStack } from '../helpers/two-factor.ts';
import { checkDownload, enterCode, expectHeading, signIn, signOut, submit } from './merchant-steps.ts';

/**
 * Issue 13: the send budgets stop pumping, not people. With the default budgets (3 codes to one
 * address per 10 minutes) and every request at high risk (a code at sign-in, a step-up on every
 * export), a merchant signs in, exports, enables email 2FA, signs out and in, exports twice more,
 * renews the recovery codes and turns 2FA off — nine codes to one address within ten minutes — and
 * never meets a limit: each code entered gives its slot back.
 */

const STEP = 20_000;

async function noLimitHere(guard: GuardPage, where: string): Promise<void> {
  const text = await guard.page.locator('main').innerText();
  assert.doesNotMatch(text, /Too many codes|No code was sent|A code was sent recently/, `${where} met a limit:\n${text}`);
}

async function exportWithStepUp(guard: GuardPage, s: ClockedStack, link: Locator, filename: string, what: string): Promise<void> {
  const { page } = guard;
  await submit(guard, link);
  await page.waitForURL(/\/_guard\/step-up\?return_to=/);
  await submit(guard, page.getByRole('button', { name: 'Send the code' }));
  await noLimitHere(guard, `${what}: step-up`);
  const [download] = await Promise.all([page.waitForEvent('download'), enterCode(guard, lastCode(s.stack.outboxFile, MERCHANT), /Verify/)]);
  await checkDownload(download, filename);
  await expectHeading(guard, /Verified/);
  s.clock.advance(STEP);
  await page.goto(`${s.stack.url}/dashboard`);
}

describeInBrowser('the ordinary journeys back to back', (browser) => {
  browser.test('nine codes to one address in ten minutes, each entered: sign-in, exports, enable, sign-in again, new recovery codes, turn off', () =>
    withClockedStack({ config: { risk: RISK_AT.high, factors: factorsConfig({}).factors } }, async (s) => {
      const started = s.clock.now();
      const guard = await browser.open();
      const { page } = guard;
      const url = s.stack.url;
      const code = (): string => lastCode(s.stack.outboxFile, MERCHANT);

      // 1. Sign-in from a new browser: the email code.
      await signIn(guard, url, MERCHANT, 'journey-login');
      await page.waitForURL(/\/_guard\/verify/);
      await noLimitHere(guard, 'sign-in');
      await enterCode(guard, code(), 'Verify');
      await page.waitForURL(/\/dashboard$/);
      s.clock.advance(STEP);

      // 2. An export without 2FA: an email code.
      await exportWithStepUp(guard, s, page.getByRole('link', { name: 'Export contacts (CSV)' }), 'contacts-export.csv', 'export 1');

      // 3–4. Enable email 2FA: the identity code (by text message: the address that gets the 2FA
      // codes cannot also prove who this is) and the confirm code.
      await page.goto(`${url}/_guard/security/enable`);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await submit(guard, page.getByRole('button', { name: 'Continue' }));
      await page.getByRole('radio', { name: /Text message/ }).check();
      await submit(guard, page.getByRole('button', { name: /Send/ }));
      await noLimitHere(guard, 'identity code');
      await enterCode(guard, lastCode(s.stack.outboxFile, MERCHANT_PHONE), 'Continue');
      s.clock.advance(STEP);
      await page.getByRole('radio', { name: /^Email/ }).check();
      await submit(guard, page.getByRole('button', { name: 'Continue' }));
      await noLimitHere(guard, 'confirm code');
      await enterCode(guard, code(), 'Turn on two-factor authentication');
      await expectHeading(guard, 'Two-Factor Authentication Enabled');
      s.clock.advance(STEP);

      // 5. Sign out and in again: the 2FA code.
      await signOut(guard, url);
      await signIn(guard, url, MERCHANT, 'journey-login-again');
      await page.waitForURL(/\/_guard\/verify/);
      await noLimitHere(guard, 'sign-in with 2FA');
      await enterCode(guard, code(), 'Verify');
      await page.waitForURL(/\/dashboard$/);
      s.clock.advance(STEP);

      // 6–7. Two exports at high risk with 2FA: a fresh code each.
      await exportWithStepUp(guard, s, page.getByRole('link', { name: 'Export contacts (CSV)' }), 'contacts-export.csv', 'export 2');
      await exportWithStepUp(guard, s, page.getByRole('link', { name: 'Export CSV' }).first(), 'campaign-1-export.csv', 'export 3');

      // 8. New recovery codes.
      await page.goto(`${url}/_guard/security/recovery-codes`);
      await submit(guard, page.getByRole('button', { name: 'Continue' }));
      await noLimitHere(guard, 'recovery codes');
      await enterCode(guard, code(), 'Generate new codes');
      await page.getByRole('list', { name: 'Recovery codes' }).waitFor();
      s.clock.advance(STEP);

      // 9. Turn 2FA off.
      await page.goto(`${url}/_guard/security/disable`);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await submit(guard, page.getByRole('button', { name: 'Continue' }));
      await noLimitHere(guard, 'turning off');
      await enterCode(guard, code(), 'Continue');
      await submit(guard, page.getByRole('button', { name: 'Turn off two-factor authentication' }));
      await page.waitForURL(/\/_guard\/security\?done=disabled$/);

      assert.equal(codeMessages(s.stack.outboxFile, MERCHANT).length + codeMessages(s.stack.outboxFile, MERCHANT_PHONE).length, 9, 'nine codes, all entered');
      assert.ok(s.clock.now() - started < 10 * 60_000, 'within ten minutes');
    }),
  );
});
