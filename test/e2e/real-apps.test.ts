import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { BrowserContext } from 'playwright-core';
import type { ConfigInput } from '../../src/config/schema.ts';
import { assertNoProblems, describeInBrowser, type GuardPage } from '../helpers/browser.ts';
import { djangoOrSkip, djangoSessionsOf, startDjango } from '../helpers/django.ts';
import { startWikiBehindGuard, WIKI_PASSWORD } from '../helpers/dokuwiki.ts';
import { startStack } from '../helpers/stack.ts';
import { GENEROUS_BUDGETS, lastCode } from '../helpers/two-factor.ts';
import { enterCode, submit } from './merchant-steps.ts';

/**
 * Real apps nobody here wrote, in a real browser, through the sidecar only: a stock Django admin
 * (examples/django-admin) and Debian's DokuWiki (examples/dokuwiki). What a person does: open the
 * app, sign in on the sidecar's page with the app's own account, use the app's pages and CSRF forms,
 * pass a step-up, sign out. The app's session cookie must never reach the browser, and the app's
 * own pages must keep working after sign-in (no re-login loop when the app re-issues its cookie).
 */

const EXAMPLES = join(process.cwd(), 'examples');

/** The names of the cookies the browser holds for `url`. */
async function cookieNames(context: BrowserContext, url: string): Promise<string[]> {
  return (await context.cookies(url)).map((c) => c.name);
}

/** Fills the sidecar's sign-in page (the label follows login.identifier) and sends it. */
async function signInAs(guard: GuardPage, label: 'Username' | 'Email', identifier: string, password: string): Promise<void> {
  const { page } = guard;
  await page.waitForURL(/\/_guard\/login/);
  await page.getByLabel(label, { exact: true }).fill(identifier);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await submit(guard, page.getByRole('button', { name: 'Sign in' }));
}

/** The sidecar's step-up with an emailed code, then on to where the person was going. */
async function passEmailStepUp(guard: GuardPage, outbox: string, email: string): Promise<void> {
  const { page } = guard;
  await page.waitForURL(/\/_guard\/step-up\?return_to=/);
  const send = page.getByRole('button', { name: /Send the code/ });
  if (await send.isVisible()) await submit(guard, send);
  await enterCode(guard, lastCode(outbox, email), /Verify/);
  // The invitation to turn on 2FA may come first; it never holds the page back.
  const notNow = page.getByRole('button', { name: 'Not now' });
  if (await notNow.isVisible()) await submit(guard, notNow);
}

/**
 * No console error or CSP violation, but for Chromium's favicon probe: the apps answer it with
 * their own 404 (Django has no favicon), which is theirs, not the sidecar's.
 */
function assertNoAppProblems(guard: GuardPage, what: string): void {
  const favicon = /\/favicon\.ico: Failed to load resource/;
  const rest = guard.problems.filter((p) => !favicon.test(p));
  guard.problems.length = 0;
  guard.problems.push(...rest);
  assertNoProblems(guard, what);
}

const django = djangoOrSkip();

describeInBrowser('real apps in a real browser', (browser) => {
  browser.test('a stock Django admin: sign in by username, a CSRF form saved, step-up on the users, sign out ends Django\'s session', async () => {
    if ('skip' in django) {
      // djangoOrSkip already failed the run under CI=true; locally it announced the skip.
      return; // allowed-skip
    }
    const user = { username: 'margaret', password: 'Margaret-Pass-1', email: 'margaret@example.com' };
    const app = await startDjango(django.python, [user]);
    const example = parseYaml(readFileSync(join(EXAMPLES, 'django-admin', 'config.yaml'), 'utf8')) as ConfigInput & { directory: Record<string, unknown> };
    const stack = await startStack({
      upstreamUrl: app.url,
      policy: readFileSync(join(EXAMPLES, 'django-admin', 'policy.yaml'), 'utf8'),
      config: {
        login: { ...example.login, min_response_time: '0ms' },
        directory: { ...example.directory, file: app.db } as ConfigInput['directory'],
        product: example.product,
        factors: { methods: example.factors.methods, send_budget: GENEROUS_BUDGETS } as ConfigInput['factors'],
      },
    });
    try {
      const guard = await browser.open();
      const { page, context } = guard;
      await page.goto(`${stack.url}/admin/`);
      await signInAs(guard, 'Username', user.username, user.password);
      await page.waitForURL(`${stack.url}/admin/`);
      await page.getByRole('heading', { name: 'Site administration' }).waitFor();
      assert.ok(!(await cookieNames(context, stack.url)).includes('sessionid'), "Django's sessionid reached the browser");

      // A Django form with its CSRF token, saved through the proxy; then more pages of the app.
      await page.goto(`${stack.url}/admin/auth/group/add/`);
      await page.getByLabel('Name:').fill('Editors');
      await submit(guard, page.getByRole('button', { name: 'Save', exact: true }));
      await page.getByText(/The group .*Editors.* was added successfully/).waitFor();
      await page.goto(`${stack.url}/admin/auth/group/`);
      await page.getByRole('link', { name: 'Editors' }).waitFor();

      // Django's user administration is sensitive: an email code to the address Django holds.
      await page.goto(`${stack.url}/admin/auth/user/`);
      await passEmailStepUp(guard, stack.outboxFile, user.email);
      await page.waitForURL(`${stack.url}/admin/auth/user/`);
      await page.getByRole('heading', { name: 'Select user to change' }).waitFor();
      assert.ok(!(await cookieNames(context, stack.url)).includes('sessionid'), "Django's sessionid reached the browser");

      // Django's own "Log out" link leads to the sidecar's sign-out page; its button ends both sessions.
      assert.equal(djangoSessionsOf(app, user.username), 1);
      await submit(guard, page.getByRole('link', { name: /log out/i }));
      await page.waitForURL(/\/_guard\/logout/);
      await submit(guard, page.getByRole('button', { name: /Sign out/ }));
      assert.equal(djangoSessionsOf(app, user.username), 0, "Django's session row outlived the sign-out");
      await page.goto(`${stack.url}/admin/`);
      await page.waitForURL(/\/_guard\/login\?return_to=/);
      assertNoAppProblems(guard, 'the Django admin journey');
    } finally {
      await stack.close();
      await app.close();
    }
  });

  browser.test('Debian\'s DokuWiki: "Log In" leads to the sidecar, pages stay signed in, an edit is saved, ?do=admin asks for a code, "Log Out" signs out', async () => {
    const started = await startWikiBehindGuard();
    if (!started) return; // allowed-skip: startWiki announced it (and throws under CI=true)
    const { guard: sidecar, outbox } = started;
    const url = sidecar.url;
    try {
      const guard = await browser.open();
      const { page, context } = guard;
      await page.goto(`${url}/doku.php?id=start`);
      await submit(guard, page.getByRole('link', { name: 'Log In' }).first());
      await signInAs(guard, 'Email', 'admin@wiki.example', WIKI_PASSWORD);
      await page.getByText('Wiki Admin').first().waitFor();
      const wikiCookies = (await cookieNames(context, url)).filter((n) => /^DW/.test(n));
      assert.deepEqual(wikiCookies, [], `DokuWiki's auth cookie reached the browser: ${wikiCookies.join(', ')}`);

      // Several pages of the wiki in a row: the session holds (the wiki re-issues its cookies).
      for (const id of ['start', 'wiki:syntax', 'start']) {
        await page.goto(`${url}/doku.php?id=${id}`);
        await page.getByText('Wiki Admin').first().waitFor();
      }

      // An edit through DokuWiki's own form (its sectok CSRF token), saved and shown.
      await page.goto(`${url}/doku.php?id=playground&do=edit`);
      await page.locator('textarea[name="wikitext"]').fill('Written through the sidecar in Chromium.');
      await submit(guard, page.getByRole('button', { name: 'Save' }));
      await page.getByText('Written through the sidecar in Chromium.').waitFor();

      // The wiki's administration is sensitive: an email code first, then DokuWiki's admin page.
      await page.goto(`${url}/doku.php?do=admin`);
      await passEmailStepUp(guard, outbox, 'admin@wiki.example');
      await page.getByRole('heading', { name: 'Administration' }).waitFor();

      await submit(guard, page.getByRole('link', { name: 'Log Out' }).first());
      await page.waitForURL(/\/_guard\/logout/);
      await submit(guard, page.getByRole('button', { name: /Sign out/ }));
      await page.goto(`${url}/doku.php?id=start`);
      assert.equal(await page.getByText('Wiki Admin').count(), 0, 'still signed in at the wiki after signing out');
      assertNoAppProblems(guard, 'the DokuWiki journey');
    } finally {
      await started.close();
    }
  });
});
