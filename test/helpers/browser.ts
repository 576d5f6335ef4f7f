import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

/**
 * The browser suite's harness: Debian's Chromium (never a downloaded browser) driven by
 * playwright-core, one browser per test file and a fresh context per test, and the checks every
 * sidecar page gets — axe-core (WCAG 2.1 A/AA), no console error or CSP violation, a screenshot.
 *
 * `.ci/run` installs Chromium. Without it a local run skips the browser tests with a banner; with
 * CI=true its absence fails the run, like the Redis tests (test/helpers/redis-server.ts).
 */

export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * The machine's network is closed and the tests must not wait on it: everything Chromium would
 * fetch on its own (component updates, sync, field trials, QUIC probing) is off.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const WCAG_TAGS: readonly string[] = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** Where every page's screenshot goes (git-ignored). */
export const SCREENSHOT_DIR = join(process.cwd(), 'test-results', 'screenshots');

/** The longest one browser test may take (a stuck page fails the run rather than hanging it). */
const TEST_TIMEOUT_MS = 180_000;

/** The iPhone-like width the responsive checks use. */
export const PHONE_VIEWPORT = { width: 375, height: 812 } as const;

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/**
 * Launches headless Chromium. `launch` (not a persistent context) gives every launch a fresh
 * temporary user-data-dir, removed again on close, so no profile state leaks between files.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS],
    timeout: 30_000,
  });
}

/** A page plus what went wrong in it that no assertion looked at yet. */
export interface GuardPage {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Console errors (CSP violations among them) and uncaught page errors, in order. */
  readonly problems: string[];
  /** Whether this context runs JavaScript (axe needs it). */
  readonly javaScript: boolean;
}

export interface BrowserSession {
  /** A new context (own cookies) and page, closed after the current test. */
  open(options?: BrowserContextOptions): Promise<GuardPage>;
  /**
   * `test`, but a failure also tells where each open page was and what it showed (and saves a
   * `FAILED-…` screenshot), which a timeout message alone does not.
   */
  test(name: string, fn: () => Promise<void>): void;
}

/**
 * `describe` for browser tests: launches the browser before the first test and closes it (and
 * every context still open) afterwards, so a failing test never leaves Chromium running.
 */
export function describeInBrowser(name: string, body: (session: BrowserSession) => void): void {
  if (!chromiumAvailable()) {
    if (process.env['CI'] === 'true') {
      test(`${name}: Chromium must be installed in CI`, () => {
        assert.fail(`${CHROMIUM_PATH} is missing, but CI=true: the browser suite must run in CI (.ci/run installs chromium)`);
      });
      return;
    }
    console.warn(
      `\n*** SKIPPING the browser tests (${name}): ${CHROMIUM_PATH} is missing. ` +
        'Install it (apt-get install chromium) to run them; in CI (CI=true) its absence fails the run. ***\n',
    );
    test(name, { skip: `${CHROMIUM_PATH} is not installed` }, () => {}); // allowed-skip
    return;
  }

  describe(name, () => {
    let browser: Browser | undefined;
    const contexts = new Set<BrowserContext>();
    const pages: GuardPage[] = [];

    before(async () => {
      browser = await launchChromium();
    });
    afterEach(async () => {
      pages.length = 0;
      await Promise.all([...contexts].map((c) => c.close()));
      contexts.clear();
    });
    after(async () => {
      await browser?.close();
    });

    body({
      test(testName, fn) {
        // A generous bound, so a stuck page fails the run instead of hanging it.
        test(testName, { timeout: TEST_TIMEOUT_MS }, async () => {
          try {
            await fn();
          } catch (error) {
            throw await withPageState(error, pages, testName);
          }
        });
      },
      async open(options = {}) {
        if (!browser) throw new Error('the browser is not running');
        const javaScript = options.javaScriptEnabled !== false;
        const context = await browser.newContext({ locale: 'en-US', ...options });
        contexts.add(context);
        context.setDefaultTimeout(10_000);
        context.setDefaultNavigationTimeout(15_000);
        const page = await context.newPage();
        const guard = { page, context, problems: watch(page), javaScript };
        pages.push(guard);
        return guard;
      },
    });
  });
}

async function withPageState(error: unknown, pages: readonly GuardPage[], testName: string): Promise<unknown> {
  if (!(error instanceof Error)) return error;
  const notes: string[] = [];
  for (const [index, { page }] of pages.entries()) {
    if (page.isClosed()) continue;
    const shot = join(SCREENSHOT_DIR, `FAILED-${testName.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}-${index}.png`);
    const text = await page
      .locator('body')
      .innerText({ timeout: 2_000 })
      .catch(() => '(no text)');
    await page.screenshot({ path: shot, fullPage: true, timeout: 5_000 }).catch(() => undefined);
    notes.push(`page ${index}: ${page.url()} (screenshot ${shot})\n${text.slice(0, 1_500)}`);
  }
  if (notes.length === 0) return error;
  // A new error: the test reporter prints the stack, which holds the message as first thrown.
  return new Error(`${error.message}\n--- open pages ---\n${notes.join('\n')}`, { cause: error });
}

/**
 * Collects console errors and page errors. A sidecar page answered with an error status (a wrong
 * code is a 401, the not-found page a 404) makes Chromium log "Failed to load resource" for the
 * document itself: that status is deliberate and asserted by the tests, so only those lines for a
 * document URL are left out. Everything else counts, CSP violations ("Refused to …") included, and
 * so would Chromium's /favicon.ico probe (the pages declare an empty icon so it never happens).
 */
function watch(page: Page): string[] {
  const problems: string[] = [];
  const documents = new Set<string>();
  page.on('response', (response) => {
    if (response.request().resourceType() === 'document') documents.add(response.url());
  });
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const where = message.location().url;
    if (message.text().startsWith('Failed to load resource') && documents.has(where)) return;
    problems.push(`console error at ${where || page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error at ${page.url()}: ${error.message}`));
  return problems;
}

/**
 * The checks every visited sidecar page gets: no console error or CSP violation so far, no axe
 * violation of WCAG 2.1 A/AA (with JavaScript on; axe runs in the page), and a screenshot
 * `test-results/screenshots/<name>.png`.
 */
export async function checkPage(guard: GuardPage, name: string): Promise<void> {
  const { page } = guard;
  await page.waitForLoadState('load');
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
  if (guard.javaScript) {
    // Legacy mode runs axe in the page itself; the default opens a second page per analysis,
    // which more than doubles the time, and the sidecar's pages have no frames to combine.
    const results = await new AxeBuilder({ page }).withTags([...WCAG_TAGS]).setLegacyMode(true).analyze();
    const violations = results.violations.map(
      (v) => `${v.id} (${v.impact ?? 'n/a'}): ${v.help}\n    ${v.nodes.map((n) => `${n.target.join(' ')} — ${n.failureSummary ?? ''}`.replace(/\n/g, ' ')).join('\n    ')}`,
    );
    assert.deepEqual(violations, [], `axe found WCAG violations on ${name} (${page.url()}):\n  ${violations.join('\n  ')}`);
  }
  assertNoProblems(guard, name);
}

export function assertNoProblems(guard: GuardPage, where: string): void {
  assert.deepEqual(guard.problems, [], `console errors or CSP violations on ${where}:\n${guard.problems.join('\n')}`);
}

/** No horizontal scrolling at the page's current (phone) width. */
export async function assertNoHorizontalScroll(guard: GuardPage, name: string, width: number = PHONE_VIEWPORT.width): Promise<void> {
  const scrollWidth = await guard.page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(scrollWidth <= width, `${name} scrolls sideways at ${width} px: scrollWidth is ${scrollWidth}`);
}
