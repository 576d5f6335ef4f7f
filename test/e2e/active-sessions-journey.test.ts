import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createDemoApp } from '../../demo/app.ts';
import { checkPage, describeInBrowser, type GuardPage } from '../helpers/browser.ts';
import { startStack, type Stack } from '../helpers/stack.ts';
import { MERCHANT } from '../helpers/two-factor.ts';
import { signIn, submit } from './merchant-steps.ts';

/**
 * Issue 17, "My sessions and devices": the merchant is signed in in two browsers (two contexts, own
 * cookies). In one, Login & Security lists both, this one marked; signing the other out there ends
 * it: its next page is the sign-in page, and the app's own session for it ended too (the demo app's
 * session table no longer holds it). Once with JavaScript (axe on the pages), once without.
 */

async function withDemoStack(fn: (stack: Stack, appSessions: Map<string, string>) => Promise<void>): Promise<void> {
  const demo = createDemoApp();
  const server = http.createServer(demo.app.callback());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const stack = await startStack({ upstreamUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  try {
    await fn(stack, demo.sessions);
  } finally {
    await stack.close();
    server.closeAllConnections();
    server.close();
  }
}

/** Signs in and returns the id of the app session this sign-in made. */
async function signInNoting(guard: GuardPage, url: string, appSessions: Map<string, string>, shot: string): Promise<string> {
  const before = new Set(appSessions.keys());
  await signIn(guard, url, MERCHANT, shot);
  await guard.page.waitForURL(/\/dashboard$/);
  const made = [...appSessions.keys()].filter((k) => !before.has(k));
  assert.equal(made.length, 1, 'one app session per sign-in');
  return made[0] as string;
}

describeInBrowser('active sessions: sign out another browser', (browser) => {
  browser.test('two browsers signed in; in one, sign out the other: it is sent to sign in and its app session ended', () =>
    withDemoStack(async (stack, appSessions) => {
      const url = stack.url;
      const one = await browser.open();
      const other = await browser.open();
      const oneApp = await signInNoting(one, url, appSessions, 'sessions-login-1');
      const otherApp = await signInNoting(other, url, appSessions, 'sessions-login-2');

      await one.page.goto(`${url}/_guard/security`);
      const section = one.page.getByRole('region', { name: 'Active sessions' });
      await section.waitFor();
      const items = section.getByRole('listitem');
      assert.equal(await items.count(), 2);
      assert.equal(await section.getByRole('heading', { level: 3, name: /This browser/ }).count(), 1, 'this browser is marked');
      await checkPage(one, 'security-active-sessions');

      const signOutOther = section.getByRole('button', { name: /^Sign out (?!all)/ });
      assert.equal(await signOutOther.count(), 1, 'one sign-out button: for the other browser, not this one');
      await submit(one, signOutOther);
      await one.page.waitForURL(/\/_guard\/security#active-sessions$/);
      await one.page.getByRole('status').filter({ hasText: /Signed out: .*Its SmartPush session ended too\./ }).waitFor();
      assert.equal(await one.page.getByRole('region', { name: 'Active sessions' }).getByRole('listitem').count(), 1);
      await checkPage(one, 'security-active-sessions-signed-out');

      assert.equal(appSessions.has(otherApp), false, "the app's session of the other browser ended");
      assert.equal(appSessions.has(oneApp), true, "this browser's app session is untouched");

      await other.page.goto(`${url}/dashboard`);
      await other.page.waitForURL(/\/_guard\/login/);
      await other.page.getByRole('heading', { level: 1 }).waitFor();

      await one.page.goto(`${url}/dashboard`);
      await one.page.waitForURL(/\/dashboard$/);
    }),
  );

  browser.test('without JavaScript: "Sign out all other sessions" ends the others', () =>
    withDemoStack(async (stack, appSessions) => {
      const url = stack.url;
      const one = await browser.open({ javaScriptEnabled: false });
      const two = await browser.open({ javaScriptEnabled: false });
      const three = await browser.open({ javaScriptEnabled: false });
      await signInNoting(one, url, appSessions, 'sessions-nojs-login-1');
      const twoApp = await signInNoting(two, url, appSessions, 'sessions-nojs-login-2');
      const threeApp = await signInNoting(three, url, appSessions, 'sessions-nojs-login-3');

      await one.page.goto(`${url}/_guard/security`);
      await submit(one, one.page.getByRole('button', { name: 'Sign out all other sessions' }));
      await one.page.getByRole('status').filter({ hasText: 'Signed out 2 other sessions. Their SmartPush sessions ended too.' }).waitFor();
      await one.page.getByText('No other session is signed in.').waitFor();
      assert.equal(appSessions.has(twoApp), false);
      assert.equal(appSessions.has(threeApp), false);
      for (const gone of [two, three]) {
        await gone.page.goto(`${url}/dashboard`);
        await gone.page.waitForURL(/\/_guard\/login/);
      }
    }),
  );
});
