/**
 * Passkeys over HTTP (the JSON API): add one after the password and a code of the enrolled method,
 * sign in with it as the second factor, step up with it, remove it; and what is refused on the way.
 * A software authenticator (test/helpers/soft-authenticator.ts) answers for the browser; the origin
 * it reports is the configured `webauthn.origins` one.
 */
import { describe, test } from 'node:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { RISK_AT, TOTP_STEP, CONTACT_EXPORT, apiCall, assertExported, assertStepUpRequired, signedInClient, withRiskStack } from '../helpers/step-up.ts';
import { enableTotp, expectStatus, ownerMessages, rawRequest, settleOwnerMessages, totpAt, type ClockedStack, type GuardClient } from '../helpers/two-factor.ts';

const ORIGIN = 'https://app.example.com';
const WEBAUTHN = { webauthn: { origins: [ORIGIN] } };

async function proveIt(s: ClockedStack, client: GuardClient, secret: Buffer): Promise<void> {
  s.clock.advance(TOTP_STEP);
  expectStatus(await client.post('/_guard/api/2fa/passkeys/start', { password: 'smartpush-demo' }), 200, 'passkeys/start');
  expectStatus(await client.post('/_guard/api/2fa/passkeys/verify', { code: totpAt(secret, s.clock.now()) }), 200, 'passkeys/verify');
}

async function addPasskey(s: ClockedStack, client: GuardClient, secret: Buffer, authenticator: SoftAuthenticator, name = 'Laptop') {
  await proveIt(s, client, secret);
  const options = expectStatus(await client.post('/_guard/api/2fa/passkeys/register/options'), 200, 'register/options').body;
  const response = authenticator.create(options as never, ORIGIN);
  return expectStatus(await client.post('/_guard/api/2fa/passkeys/register/verify', { response, name }), 200, 'register/verify').body;
}

describe('passkeys API', () => {
  test('enrol, list, sign in, step up, remove', () =>
    withRiskStack(
      RISK_AT.high,
      async (s) => {
        const client = await signedInClient(s);
        let list = expectStatus(await client.get('/_guard/api/2fa/passkeys'), 200, 'list').body;
        assert.deepEqual(list, { passkeys: [], can_add: false, available_here: true });
        // Without 2FA no passkey can be added: it goes next to an enrolled method.
        const refused = await client.post('/_guard/api/2fa/passkeys/start', { password: 'smartpush-demo' });
        assert.equal(refused.status, 409);
        assert.equal(refused.body['error'], 'two_factor_required');

        const { secret } = await enableTotp(client, s.enroll);
        // Without the proof, no registration options.
        const early = await client.post('/_guard/api/2fa/passkeys/register/options');
        assert.equal(early.status, 403);
        assert.equal(early.body['error'], 'verification_required');

        const authenticator = new SoftAuthenticator();
        const added = await addPasskey(s, client, secret, authenticator);
        assert.equal(added['added'], true);
        const view = added['passkey'] as Record<string, unknown>;
        assert.equal(view['name'], 'Laptop');
        assert.equal(view['last_used_at'], null);
        await settleOwnerMessages(s.stack.guard);
        const toldAdded = ownerMessages(s.stack.outboxFile, 'merchant@example.com').filter((m) => /passkey or security key was added/i.test(m.text));
        assert.equal(toldAdded.length, 1, `the account is told once, by the alert: ${JSON.stringify(toldAdded)}`);
        assert.equal(toldAdded[0]?.alert, 'factor_changed');
        list = expectStatus(await client.get('/_guard/api/2fa/passkeys'), 200, 'list').body;
        assert.equal((list['passkeys'] as unknown[]).length, 1);
        assert.equal(list['can_add'], true);
        // The proof served one change: another registration needs it again.
        assert.equal((await client.post('/_guard/api/2fa/passkeys/register/options')).status, 403);

        // Sign out, sign in: password, then the passkey.
        expectStatus(await client.logout(), 200, 'logout');
        const login = expectStatus(await client.login(), 200, 'login').body;
        assert.equal(login['status'], 'verification_required');
        const options = expectStatus(await client.post('/_guard/api/login/passkey/options'), 200, 'login/passkey/options').body;
        assert.equal(options['userVerification'], 'preferred');
        const assertion = authenticator.get(options as never, ORIGIN);
        const signedIn = expectStatus(await client.post('/_guard/api/login/passkey/verify', { response: assertion }), 200, 'login/passkey/verify');
        assert.deepEqual(signedIn.body, { status: 'authenticated' });
        expectStatus(await client.me(), 200, 'me after a passkey sign-in');
        const events = (await s.stack.guard.audit.recent({ user: 'merchant@example.com', limit: 200 })) as Array<{ event: string; details?: Record<string, unknown> }>;
        assert.ok(events.some((e) => e.event === 'login_success' && e.details?.['factors'] === 'password+passkey'));
        assert.ok(events.some((e) => e.event === 'passkey_used'));

        // A sensitive export at high risk asks for a fresh factor: the passkey answers it.
        assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'totp', 'export before step-up');
        const stepOptions = expectStatus(await client.post('/_guard/api/step-up/passkey/options'), 200, 'step-up/passkey/options').body;
        const stepAnswer = authenticator.get(stepOptions as never, ORIGIN);
        const verified = expectStatus(await client.post('/_guard/api/step-up/passkey/verify', { response: stepAnswer }), 200, 'step-up/passkey/verify').body;
        assert.equal(verified['status'], 'verified');
        assertExported(await apiCall(client, CONTACT_EXPORT), 'export after a passkey step-up');
        // The same assertion again: its challenge is gone.
        const replay = await client.post('/_guard/api/step-up/passkey/verify', { response: stepAnswer });
        assert.notEqual(replay.status, 200);

        // Remove it (the same proof again).
        await proveIt(s, client, secret);
        const id = (view['id'] as string);
        const removed = expectStatus(await client.post('/_guard/api/2fa/passkeys/remove', { id }), 200, 'remove').body;
        assert.deepEqual(removed, { removed: true });
        await settleOwnerMessages(s.stack.guard);
        const toldRemoved = ownerMessages(s.stack.outboxFile, 'merchant@example.com').filter((m) => /passkey or security key was removed/i.test(m.text));
        assert.equal(toldRemoved.length, 1, `the account is told once, by the alert: ${JSON.stringify(toldRemoved)}`);
        assert.equal(toldRemoved[0]?.alert, 'factor_changed');
        list = expectStatus(await client.get('/_guard/api/2fa/passkeys'), 200, 'list').body;
        assert.deepEqual(list['passkeys'], []);
        assert.ok(((await s.stack.guard.audit.recent({ user: 'merchant@example.com', limit: 200 })) as Array<{ event: string }>).some((e) => e.event === 'passkey_removed'));
      },
      { config: WEBAUTHN },
    ));

  test('a sign-in answer made on another origin is refused; the code still works', () =>
    withRiskStack(
      RISK_AT.low,
      async (s) => {
        const client = await signedInClient(s);
        const { secret } = await enableTotp(client, s.enroll);
        const authenticator = new SoftAuthenticator();
        await addPasskey(s, client, secret, authenticator);
        expectStatus(await client.logout(), 200, 'logout');
        expectStatus(await client.login(), 200, 'login');
        const options = expectStatus(await client.post('/_guard/api/login/passkey/options'), 200, 'options').body;
        const phished = await client.post('/_guard/api/login/passkey/verify', { response: authenticator.get(options as never, 'https://evil.example.net') });
        assert.equal(phished.status, 401);
        assert.equal(phished.body['error'], 'passkey_not_accepted');
        assert.equal((await client.me()).status, 401, 'not signed in');
        // Garbage is refused with a clear error, and a malformed body too.
        await client.post('/_guard/api/login/passkey/options');
        const garbage = await client.post('/_guard/api/login/passkey/verify', { response: { id: 42 } });
        assert.equal(garbage.status, 401);
        assert.equal(garbage.body['error'], 'passkey_not_recognised');
        s.clock.advance(TOTP_STEP);
        expectStatus(await client.verify(totpAt(secret, s.clock.now())), 200, 'the code still works');
      },
      { config: WEBAUTHN },
    ));

  test('turning 2FA off removes the passkeys; names are checked; passkeys need a relying party', () =>
    withRiskStack(
      RISK_AT.low,
      async (s) => {
        const client = await signedInClient(s);
        const { secret } = await enableTotp(client, s.enroll);
        await proveIt(s, client, secret);
        const options = expectStatus(await client.post('/_guard/api/2fa/passkeys/register/options'), 200, 'options').body;
        const authenticator = new SoftAuthenticator();
        const response = authenticator.create(options as never, ORIGIN);
        const badName = await client.post('/_guard/api/2fa/passkeys/register/verify', { response, name: '' });
        assert.equal(badName.status, 400);
        assert.equal(badName.body['error'], 'invalid_passkey_name');
        expectStatus(await client.post('/_guard/api/2fa/passkeys/register/verify', { response, name: 'YubiKey' }), 200, 'register');
        s.clock.advance(TOTP_STEP);
        expectStatus(await client.disableStart('smartpush-demo'), 200, 'disable/start');
        expectStatus(await client.disableVerify(totpAt(secret, s.clock.now())), 200, 'disable/verify');
        expectStatus(await client.disableConfirm(), 200, 'disable/confirm');
        const list = expectStatus(await client.get('/_guard/api/2fa/passkeys'), 200, 'list').body;
        assert.deepEqual(list['passkeys'], []);
      },
      { config: WEBAUTHN },
    ));

  test('without public_url or webauthn.origins, a request to 127.0.0.1 cannot use passkeys (409 passkeys_unavailable)', () =>
    withRiskStack(RISK_AT.low, async (s) => {
      const client = await signedInClient(s);
      const { secret } = await enableTotp(client, s.enroll);
      assert.equal(expectStatus(await client.get('/_guard/api/2fa/passkeys'), 200, 'list').body['available_here'], false);
      await proveIt(s, client, secret);
      const refused = await client.post('/_guard/api/2fa/passkeys/register/options');
      assert.equal(refused.status, 409);
      assert.equal(refused.body['error'], 'passkeys_unavailable');
    }));
});

describe('a rule that asks for a phishing-resistant factor (with_2fa: phishing_resistant)', () => {
  // The demo policy with the contact export asking for a passkey at every risk level.
  const demo = readFileSync(join(process.cwd(), 'policies', 'smartpush.yaml'), 'utf8');
  const at = demo.indexOf('category: contact-export');
  const policy =
    demo.slice(0, at) +
    demo.slice(at).replace('with_2fa: { low: pass, medium: pass, high: fresh_code }', 'with_2fa: { low: phishing_resistant, medium: phishing_resistant, high: phishing_resistant }');

  test('without a passkey: 403 phishing_resistant_required, and no code is accepted; with one: only the passkey passes', () =>
    withRiskStack(
      RISK_AT.low,
      async (s) => {
        assert.ok(policy.includes('phishing_resistant'), 'the policy edit applied');
        const client = await signedInClient(s);
        const { secret } = await enableTotp(client, s.enroll);
        const refused = await apiCall(client, CONTACT_EXPORT);
        assert.equal(refused.status, 403);
        assert.equal(refused.body['error'], 'phishing_resistant_required');
        // An authenticator-app code does not satisfy it.
        s.clock.advance(TOTP_STEP);
        const byCode = await client.post('/_guard/api/step-up/verify', { code: totpAt(secret, s.clock.now()) });
        assert.equal(byCode.status, 403);
        assert.equal(byCode.body['error'], 'phishing_resistant_required');
        assert.equal((await apiCall(client, CONTACT_EXPORT)).status, 403);

        const authenticator = new SoftAuthenticator();
        await addPasskey(s, client, secret, authenticator);
        const asked = await apiCall(client, CONTACT_EXPORT);
        assert.equal(asked.status, 401);
        assert.equal(asked.body['error'], 'step_up_required');
        assert.equal(asked.body['method'], 'passkey');
        const options = expectStatus(await client.post('/_guard/api/step-up/passkey/options'), 200, 'options').body;
        expectStatus(await client.post('/_guard/api/step-up/passkey/verify', { response: authenticator.get(options as never, ORIGIN) }), 200, 'verify');
        assertExported(await apiCall(client, CONTACT_EXPORT), 'export after a passkey');
      },
      { config: WEBAUTHN, policy },
    ));

  test('the HTML step-up page says a passkey is needed when the account has none', () =>
    withRiskStack(
      RISK_AT.low,
      async (s) => {
        const client = await signedInClient(s);
        await enableTotp(client, s.enroll);
        const page = await client.request(CONTACT_EXPORT, { headers: { accept: 'text/html' } });
        assert.equal(page.status, 303);
        const stepUp = await client.request(String(page.headers['location']), { headers: { accept: 'text/html' } });
        assert.equal(stepUp.status, 200);
        assert.match(stepUp.text, /This operation needs a passkey or security key/);
        assert.doesNotMatch(stepUp.text, /name="code"/);
      },
      { config: WEBAUTHN, policy },
    ));
});

describe('support reset', () => {
  test('POST /admin/users/{email}/2fa/reset removes the passkeys with the enrollment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spg-passkey-admin-'));
    const tokenFile = join(dir, 'token');
    const token = 'a'.repeat(40);
    writeFileSync(tokenFile, token, { mode: 0o600 });
    return withRiskStack(
      RISK_AT.low,
      async (s) => {
        const client = await signedInClient(s);
        const { secret } = await enableTotp(client, s.enroll);
        await addPasskey(s, client, secret, new SoftAuthenticator());
        assert.equal((await s.stack.guard.audit.recent({ user: 'merchant@example.com', event: 'passkey_added', limit: 5 })).length, 1);
        const reset = await rawRequest(`${s.stack.adminUrl}/admin/users/${encodeURIComponent('merchant@example.com')}/2fa/reset`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ reason: 'lost phone and key' }),
        });
        assert.equal(reset.status, 200, reset.text);
        const again = await signedInClient(s);
        assert.deepEqual(expectStatus(await again.get('/_guard/api/2fa/passkeys'), 200, 'list').body['passkeys'], []);
        const events = await s.stack.guard.audit.recent({ user: 'merchant@example.com', event: '2fa_reset', limit: 5 });
        assert.equal(events[0]?.details?.['passkeys_removed'], 1);
      },
      { config: { ...WEBAUTHN, admin: { host: '127.0.0.1', port: 0, tokens: [{ name: 'support', token: { file: tokenFile } }] } } },
    ).finally(() => rmSync(dir, { recursive: true, force: true }));
  });
});
