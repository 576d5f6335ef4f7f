import assert from 'node:assert/strict';
import { zhCN } from '../../src/i18n/zh-cn.ts';
import { checkPage, describeInBrowser, type GuardPage } from '../helpers/browser.ts';
import { enrollDirectly, lastCode, MERCHANT, outboxLines, PASSWORD, startClockedStack } from '../helpers/two-factor.ts';
import { enterCode, submit } from './merchant-steps.ts';

/**
 * Security alerts in a real browser: a merchant whose browser speaks Simplified Chinese signs in
 * (email codes), then signs in from a second, new browser context. The first sign-in of the account
 * alerts no one; the second puts a new-browser alert in the outbox, in Chinese, to the account's
 * address, with the "this wasn't me" advice and without the sign-in code.
 */

interface Line {
  readonly channel: string;
  readonly to: string;
  readonly subject?: string;
  readonly text: string;
  readonly kind?: string;
  readonly alert?: string;
  readonly lang?: string;
}

function alerts(outboxFile: string): Line[] {
  return outboxLines<Line>(outboxFile).filter((line) => line.kind === 'alert');
}

/** The sign-in page and the code page, in Chinese (the context's locale is zh-CN). */
async function signInInChinese(guard: GuardPage, url: string, outboxFile: string, shot: string): Promise<void> {
  const { page } = guard;
  await page.goto(`${url}/_guard/login`);
  await page.getByRole('heading', { level: 1, name: zhCN.signInTitle }).waitFor();
  await page.getByLabel(zhCN.email).fill(MERCHANT);
  await page.getByLabel(zhCN.password, { exact: true }).fill(PASSWORD);
  await submit(guard, page.getByRole('button', { name: zhCN.signInButton }));
  await page.waitForURL(/\/_guard\/verify/);
  await checkPage(guard, shot);
  await enterCode(guard, lastCode(outboxFile, MERCHANT), zhCN.verifyButton, zhCN.verificationCode);
  await page.waitForURL(/\/dashboard$/);
}

describeInBrowser('security alerts', (browser) => {
  browser.test('a sign-in from a new browser context puts a Chinese new-browser alert in the outbox', async () => {
    const { stack, clock } = await startClockedStack();
    try {
      await enrollDirectly(stack, MERCHANT, 'email', MERCHANT, clock.now());
      const laptop = await browser.open({ locale: 'zh-CN' });
      await signInInChinese(laptop, stack.url, stack.outboxFile, 'alerts-verify-first');
      await stack.guard.audit.settle();
      await stack.guard.alerts.idle();
      assert.deepEqual(alerts(stack.outboxFile), [], 'the first sign-in of the account alerts no one');

      clock.advance(61_000); // past the resend cooldown of the first code
      const phone = await browser.open({ locale: 'zh-CN' });
      await signInInChinese(phone, stack.url, stack.outboxFile, 'alerts-verify-new-browser');
      const code = lastCode(stack.outboxFile, MERCHANT);
      await stack.guard.audit.settle();
      await stack.guard.alerts.idle();
      const lines = alerts(stack.outboxFile);
      assert.equal(lines.length, 1, JSON.stringify(lines));
      const [alert] = lines;
      assert.equal(alert?.alert, 'new_browser');
      assert.equal(alert?.channel, 'email');
      assert.equal(alert?.to, MERCHANT);
      assert.equal(alert?.lang, 'zh-CN');
      assert.equal(alert?.subject, `SmartPush 安全提醒：${zhCN.alerts.titles.new_sign_in}`);
      assert.match(alert?.text ?? '', /如果不是您本人/);
      assert.match(alert?.text ?? '', /\/_guard\/security/);
      assert.ok(!(alert?.text ?? '').includes(code), 'the alert never carries the sign-in code');
    } finally {
      await stack.close();
    }
  });
});
