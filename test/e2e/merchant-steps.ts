import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Download, Locator, Response } from 'playwright-core';
import { EXPORT_HEADER } from '../../demo/app.ts';
import { checkPage, type GuardPage } from '../helpers/browser.ts';
import { base32Decode, lastCode, PASSWORD, totpAt } from '../helpers/two-factor.ts';

/**
 * What a merchant does on the sidecar's pages, step by step, for the browser journeys. Elements are
 * found the way a person (or a screen reader) finds them: by role and English name or label.
 */

/** The product settings of config/demo.yaml, its logo included (the docs screenshots should look like `npm start`). */
export const DEMO_PRODUCT = {
  name: 'SmartPush',
  support: 'support@smartpush.example',
  primary_color: '#2563eb',
  logo: join(process.cwd(), 'config', 'smartpush-logo.svg'),
} as const;

/** Signs in on the login page (checked and screenshotted as `shot`) and waits for the next page. */
export async function signIn(guard: GuardPage, url: string, email: string, shot = 'login', password = PASSWORD): Promise<void> {
  const { page } = guard;
  await page.goto(`${url}/_guard/login`);
  await page.getByRole('heading', { level: 1 }).waitFor();
  await checkPage(guard, shot);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await submit(guard, page.getByRole('button', { name: 'Sign in' }));
}

/**
 * Clicks a submit button (or link) and waits for the page it leads to. No journey expects a 403: a
 * refused form (forged, expired or taken for cross-site) fails here at once, with the page's words,
 * rather than as a timeout further on.
 */
export async function submit(guard: GuardPage, control: Locator): Promise<void> {
  const { page } = guard;
  const statuses: number[] = [];
  const onResponse = (response: Response): void => {
    if (response.request().isNavigationRequest() && response.frame() === page.mainFrame()) statuses.push(response.status());
  };
  page.on('response', onResponse);
  try {
    await Promise.all([page.waitForEvent('load'), control.click()]);
  } finally {
    page.off('response', onResponse);
  }
  if (statuses.includes(403)) {
    const text = await page.locator('main').innerText();
    assert.fail(`the form was refused (403) at ${page.url()}:\n${text}`);
  }
}

/**
 * The code field of a code page (English label), filled with `code`, then the form sent. With
 * JavaScript on, a field marked `data-autosubmit="<digits>"` sends its form by itself once that
 * many digits are in (the pages' guard.js): then the test only types, and waits for the next page —
 * clicking as well would send the code twice.
 */
export async function enterCode(guard: GuardPage, code: string, button: string | RegExp, label: string | RegExp = /code/i): Promise<void> {
  const { page } = guard;
  const field = page.getByRole('textbox', { name: label });
  const digits = guard.javaScript ? Number(await field.getAttribute('data-autosubmit')) : 0;
  if (Number.isInteger(digits) && digits > 0 && new RegExp(`^[0-9]{${digits}}$`).test(code)) {
    await Promise.all([page.waitForEvent('load'), field.fill(code)]);
    return;
  }
  await field.fill(code);
  await submit(guard, page.getByRole('button', { name: button }));
}

export async function expectHeading(guard: GuardPage, name: string | RegExp): Promise<void> {
  await guard.page.getByRole('heading', { level: 1, name }).waitFor();
}

/** The Base32 key the TOTP set-up page shows (grouped by four), read from the page's text. */
export async function totpKeyOnPage(guard: GuardPage): Promise<Buffer> {
  const text = await guard.page.locator('main').innerText();
  const match = /\b((?:[A-Z2-7]{4} ){7,}[A-Z2-7]{1,4})\b/.exec(text);
  assert.ok(match?.[1], `no TOTP key on the set-up page:\n${text}`);
  return base32Decode(match[1]);
}

export function totpNow(secret: Buffer, clock: { now(): number }): string {
  return totpAt(secret, clock.now());
}

/** The recovery codes of the list the page shows. */
export async function recoveryCodesOnPage(guard: GuardPage): Promise<string[]> {
  const list = guard.page.getByRole('list', { name: 'Recovery codes' });
  const codes = (await list.getByRole('listitem').allInnerTexts()).map((c) => c.trim());
  assert.equal(codes.length, 10, `expected 10 recovery codes, got ${JSON.stringify(codes)}`);
  return codes;
}

/** Clicks an export link and waits for the CSV download; checks its name and header line. */
export async function exportCsv(guard: GuardPage, link: Locator, filename: string): Promise<void> {
  const [download] = await Promise.all([guard.page.waitForEvent('download'), link.click()]);
  await checkDownload(download, filename);
}

export async function checkDownload(download: Download, filename: string): Promise<void> {
  assert.equal(download.suggestedFilename(), filename);
  const path = await download.path();
  const csv = readFileSync(path, 'utf8');
  assert.ok(csv.startsWith(EXPORT_HEADER), `the download is not the CSV export: ${csv.slice(0, 120)}`);
}

/** The alert the page shows (its text), and the code field must name it in aria-describedby. */
export async function codeError(guard: GuardPage, label: string | RegExp = /code/i): Promise<string> {
  const { page } = guard;
  const alert = page.getByRole('alert');
  await alert.waitFor();
  const field = page.getByRole('textbox', { name: label });
  assert.equal(await field.getAttribute('aria-invalid'), 'true', 'the code field is not marked invalid');
  const describedBy = (await field.getAttribute('aria-describedby')) ?? '';
  const alertId = await alert.getAttribute('id');
  assert.ok(alertId && describedBy.split(/\s+/).includes(alertId), `the code field (aria-describedby="${describedBy}") does not refer to the alert (#${alertId})`);
  return (await alert.innerText()).trim();
}

export interface TotpEnrollment {
  readonly secret: Buffer;
  readonly recoveryCodes: string[];
}

/**
 * Login & Security → enable with an authenticator app, from a signed-in page, calling `visit` on
 * every page of the wizard (named `<prefix>-<step>`). Returns the key read off the page.
 */
export async function enableTotpOnPages(
  guard: GuardPage,
  stack: { url: string; outboxFile: string },
  clock: { now(): number },
  email: string,
  visit: (name: string) => Promise<void>,
): Promise<TotpEnrollment> {
  const { page } = guard;
  await page.goto(`${stack.url}/_guard/security`);
  await expectHeading(guard, 'Login & Security');
  await visit('security');
  await submit(guard, page.getByRole('link', { name: 'Enable two-factor authentication' }));
  await visit('enable-1-password');
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await submit(guard, page.getByRole('button', { name: 'Continue' }));
  await visit('enable-2-identity');
  await page.getByRole('radio', { name: /Email/ }).check();
  await submit(guard, page.getByRole('button', { name: /Send/ }));
  await visit('enable-3-identity-code');
  await enterCode(guard, lastCode(stack.outboxFile, email), 'Continue');
  await visit('enable-4-method');
  await page.getByRole('radio', { name: /Authenticator app/ }).check();
  await submit(guard, page.getByRole('button', { name: 'Continue' }));
  await page.getByRole('img', { name: /QR code/ }).waitFor();
  await visit('enable-5-totp');
  const secret = await totpKeyOnPage(guard);
  await enterCode(guard, totpNow(secret, clock), 'Turn on two-factor authentication');
  await expectHeading(guard, 'Two-Factor Authentication Enabled');
  await visit('enable-done');
  const recoveryCodes = await recoveryCodesOnPage(guard);
  await submit(guard, page.getByRole('link', { name: /I saved my codes/ }));
  await expectHeading(guard, 'Login & Security');
  return { secret, recoveryCodes };
}

/** Signs out through the sidecar's sign-out page. */
export async function signOut(guard: GuardPage, url: string, visit: (name: string) => Promise<void> = async () => {}): Promise<void> {
  await guard.page.goto(`${url}/_guard/logout`);
  await visit('logout');
  await submit(guard, guard.page.getByRole('button', { name: 'Sign out' }));
  await guard.page.getByRole('status').filter({ hasText: 'You have signed out.' }).waitFor();
}
