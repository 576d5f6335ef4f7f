import assert from 'node:assert/strict';
import { assertNoProblems, checkPage, describeInBrowser } from '../helpers/browser.ts';
import { RISK_AT, signedInClient, withRiskStack } from '../helpers/step-up.ts';
import { enableTotp, expectStatus, GuardClient, MERCHANT, PASSWORD } from '../helpers/two-factor.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { checkDownload, enterCode, expectHeading, signIn, signOut, submit, totpNow } from './merchant-steps.ts';

/**
 * A passkey in Chromium, with a virtual authenticator (CDP WebAuthn domain: ctap2, internal,
 * resident keys, user verification): on Login & Security the merchant confirms it is them
 * (password, then the authenticator app's code), adds a passkey and names it; signs out; signs in
 * with the password and the passkey instead of a code; steps up before a sensitive export with the
 * passkey; and removes it again. The pages are opened at http://localhost:PORT (a secure context,
 * and without public_url the RP ID is `localhost`: README, "Passkeys").
 */
describeInBrowser('passkeys in the browser', (browser) => {
  browser.test('enrol a passkey, sign out, sign in with it, step up with it, remove it', () =>
    withRiskStack(RISK_AT.high, async (s) => {
      const { secret } = await enableTotp(await signedInClient(s), s.enroll);
      const url = s.stack.url.replace('127.0.0.1', 'localhost');
      const guard = await browser.open();
      const { page, context } = guard;
      const cdp = await context.newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
      });

      s.clock.advance(30_000);
      await signIn(guard, url, MERCHANT, 'passkey-login');
      await page.waitForURL(/\/_guard\/verify/);
      assert.equal(await page.getByRole('button', { name: /passkey/ }).count(), 0, 'no passkey offered before one exists');
      await enterCode(guard, totpNow(secret, s.clock), 'Verify');
      await page.waitForURL(/\/dashboard$/);

      // Login & Security › Passkeys: password, code, then add one.
      await page.goto(`${url}/_guard/security`);
      await submit(guard, page.getByRole('link', { name: 'Passkeys and security keys' }));
      await expectHeading(guard, 'Passkeys and security keys');
      await page.getByText('You have no passkeys yet.').waitFor();
      await checkPage(guard, 'passkeys-password');
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await submit(guard, page.getByRole('button', { name: 'Continue' }));
      s.clock.advance(30_000);
      await checkPage(guard, 'passkeys-code');
      await enterCode(guard, totpNow(secret, s.clock), 'Continue');
      await page.getByRole('status').filter({ hasText: /Confirmed/ }).waitFor();
      await page.getByLabel('Name for this passkey').fill('Test laptop');
      await checkPage(guard, 'passkeys-add');
      await submit(guard, page.getByRole('button', { name: 'Add a passkey' }));
      await page.getByRole('status').filter({ hasText: 'Passkey “Test laptop” added.' }).waitFor();
      await page.getByRole('table', { name: 'Your passkeys' }).getByRole('rowheader', { name: 'Test laptop' }).waitFor();
      await checkPage(guard, 'passkeys-added');
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      assert.equal(credentials.length, 1);
      assert.equal(credentials[0]?.rpId, 'localhost');

      // Sign out, then sign in with the password and the passkey.
      await signOut(guard, url);
      await signIn(guard, url, MERCHANT, 'passkey-login-again');
      await page.waitForURL(/\/_guard\/verify/);
      await checkPage(guard, 'verify-with-passkey');
      await submit(guard, page.getByRole('button', { name: 'Use a passkey or security key' }));
      await page.waitForURL(/\/dashboard$/);

      // A sensitive export at high risk asks for a fresh factor: the passkey answers it.
      await submit(guard, page.getByRole('link', { name: 'Export contacts (CSV)' }));
      await page.waitForURL(/\/_guard\/step-up\?return_to=/);
      await checkPage(guard, 'step-up-with-passkey');
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Use a passkey or security key' }).click()]);
      await checkDownload(download, 'contacts-export.csv');
      await expectHeading(guard, /Verified/);

      // Remove it (password and code again).
      await page.goto(`${url}/_guard/security/passkeys`);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await submit(guard, page.getByRole('button', { name: 'Continue' }));
      s.clock.advance(30_000);
      await enterCode(guard, totpNow(secret, s.clock), 'Continue');
      await submit(guard, page.getByRole('button', { name: 'Remove Test laptop' }));
      await page.getByRole('status').filter({ hasText: 'Passkey removed.' }).waitFor();
      await page.getByText('You have no passkeys yet.').waitFor();
      assertNoProblems(guard, 'the passkey journey');
    }));

  browser.test('without JavaScript the code page says to use a code instead of the passkey, and the code works', () =>
    withRiskStack(RISK_AT.low, async (s) => {
      const url = s.stack.url.replace('127.0.0.1', 'localhost');
      // Enrolled over the API at localhost, with a software authenticator for the passkey.
      const client = new GuardClient(url);
      expectStatus(await client.login(MERCHANT), 200, 'login');
      const { secret } = await enableTotp(client, s.enroll);
      s.clock.advance(30_000);
      expectStatus(await client.post('/_guard/api/2fa/passkeys/start', { password: PASSWORD }), 200, 'start');
      expectStatus(await client.post('/_guard/api/2fa/passkeys/verify', { code: totpNow(secret, s.clock) }), 200, 'verify');
      const options = expectStatus(await client.post('/_guard/api/2fa/passkeys/register/options'), 200, 'options').body;
      const response = new SoftAuthenticator().create(options as never, new URL(url).origin);
      expectStatus(await client.post('/_guard/api/2fa/passkeys/register/verify', { response, name: 'Key' }), 200, 'register');

      const guard = await browser.open({ javaScriptEnabled: false });
      const { page } = guard;
      s.clock.advance(30_000);
      await signIn(guard, url, MERCHANT, 'login-no-js');
      await page.waitForURL(/\/_guard\/verify/);
      await page.getByText('This browser cannot use passkeys here (or JavaScript is off). Use your code instead.').waitFor();
      assert.equal(await page.getByRole('button', { name: 'Use a passkey or security key' }).count(), 0, 'no passkey button that cannot work');
      await checkPage(guard, 'verify-passkey-no-js');
      await enterCode(guard, totpNow(secret, s.clock), 'Verify');
      await page.waitForURL(/\/dashboard$/);
    }));
});
