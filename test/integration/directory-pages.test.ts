import { cryptoRandom } from '../../src/core/random.ts';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HtmlDirectory, ProfileDirectory } from '../../src/directory/page.ts';
import { canonicalIdentity } from '../../src/directory/identity.ts';
import { systemClock } from '../../src/core/clock.ts';
import { UpstreamAccount } from '../../src/flows/upstream-account.ts';
import { newEncryptionKeys } from '../../src/factors/secret-box.ts';
import { LOW_RISK, startStack, type Stack } from '../helpers/stack.ts';
import { startUsernameApp, type UsernameApp } from '../helpers/username-app.ts';
import { GuardClient, rawRequest } from '../helpers/two-factor.ts';
import { failure } from '../helpers/directory-contract.ts';

/**
 * The profile and html directory kinds against a real app over HTTP, read with the user's own
 * upstream session; and sign-in keyed on the account the app names (issue 14).
 */

const PASSWORD = 'pw-for-the-app';
let app: UsernameApp;
let account: UpstreamAccount;
const canonical = (raw: string): string => canonicalIdentity(raw, { kind: 'username', caseInsensitive: false });

/** The upstream login of the test app (form fields username/password, success: 302 and the cookie). */
function accountAt(url: string, cookie: string, timeoutMs: number): UpstreamAccount {
  return new UpstreamAccount({
    upstream: new URL(url),
    defaultHost: new URL(url).host,
    defaultProto: 'http',
    login: { path: '/login', encoding: 'form', fields: { identifier: 'username', password: 'password' }, extraFields: {}, extraHeaders: {} },
    timeoutMs,
    success: { status: [302], cookies: [cookie] },
    sessionCookies: [cookie],
    clock: systemClock,
  });
}

before(async () => {
  app = await startUsernameApp([
    { username: 'alice', password: PASSWORD, email: 'alice@example.org', phone: '+1 555 555 0123' },
    { username: 'bob', password: PASSWORD, email: null },
  ]);
  account = accountAt(app.url, 'app_session', 2_000);
});
after(async () => {
  account.close();
  await app.close();
});

async function sessionOf(username: string): Promise<Record<string, string>> {
  const check = await account.checkPassword(username, PASSWORD, { forwardedFor: '127.0.0.1', requestId: 't' });
  assert.ok(check.ok);
  return check.upstreamCookies;
}

describe('profile directory', () => {
  test('reads dotted fields of the JSON profile with the user session; a profile naming another account is refused', async () => {
    const directory = new ProfileDirectory(account, { path: '/api/whoami', emailField: 'user.email', phoneField: 'phone', identifierField: 'user.username' }, canonical);
    const cookies = await sessionOf('alice');
    assert.deepEqual(await directory.lookup('alice', { upstreamCookies: cookies }), { ok: true, entry: { email: 'alice@example.org', phone: '+15555550123' } });
    assert.equal(await directory.accountOfSession({ upstreamCookies: cookies }), 'alice');
    assert.equal(failure(await directory.lookup('bob', { upstreamCookies: cookies })).reason, 'account_mismatch');
    // An empty address in the profile is no address.
    assert.deepEqual(await directory.lookup('bob', { upstreamCookies: await sessionOf('bob') }), { ok: true, entry: { email: null, phone: null } });
  });

  test('without a session, with a dead session, and with the app down: typed failures', async () => {
    const directory = new ProfileDirectory(account, { path: '/api/whoami', emailField: 'user.email' }, canonical);
    assert.equal(failure(await directory.lookup('alice', { upstreamCookies: {} })).reason, 'no_session');
    // The app answers 302 to its login page for an unknown session.
    const dead = failure(await directory.lookup('alice', { upstreamCookies: { app_session: 'forged' } }));
    assert.equal(dead.reason, 'source_error');
    assert.match(dead.message, /answered 302/);
    const down = accountAt('http://127.0.0.1:9', 's', 1_000);
    try {
      const unreachable = new ProfileDirectory(down, { path: '/api/whoami', emailField: 'user.email' }, canonical);
      assert.equal(failure(await unreachable.lookup('alice', { upstreamCookies: { s: 'x' } })).reason, 'unavailable');
    } finally {
      down.close();
    }
  });
});

describe('html directory', () => {
  test('a CSS selector and attribute, a pattern with a group, and the page naming the account', async () => {
    const directory = new HtmlDirectory(
      account,
      {
        path: '/account',
        email: { selector: 'input[name=email]', attribute: 'value' },
        phone: { selector: '#tel', pattern: /Phone:\s*(\+[\d ]+)/ },
        identifier: { selector: 'h1.who b' },
      },
      canonical,
    );
    const cookies = await sessionOf('alice');
    assert.deepEqual(await directory.lookup('alice', { upstreamCookies: cookies }), { ok: true, entry: { email: 'alice@example.org', phone: '+15555550123' } });
    assert.equal(await directory.accountOfSession({ upstreamCookies: cookies }), 'alice');
    assert.equal(failure(await directory.lookup('mallory', { upstreamCookies: cookies })).reason, 'account_mismatch');
    // bob's page has an empty value and "Phone: none": both unknown.
    assert.deepEqual(await directory.lookup('bob', { upstreamCookies: await sessionOf('bob') }), { ok: true, entry: { email: null, phone: null } });
  });

  test('a selector that matches nothing is an unknown value, not an error; a missing account name is a source_error, never a match', async () => {
    const directory = new HtmlDirectory(account, { path: '/account', email: { selector: '#nowhere' } }, canonical);
    const cookies = await sessionOf('alice');
    assert.deepEqual(await directory.lookup('alice', { upstreamCookies: cookies }), { ok: true, entry: { email: null, phone: null } });
    const unnamed = new HtmlDirectory(account, { path: '/account', email: { selector: 'input[name=email]', attribute: 'value' }, identifier: { selector: '#no-such-name' } }, canonical);
    const result = failure(await unnamed.lookup('alice', { upstreamCookies: cookies }));
    assert.equal(result.reason, 'source_error');
    assert.match(result.message, /does not say which account/);
    assert.equal(await unnamed.accountOfSession({ upstreamCookies: cookies }), null);
  });
});

describe('sign-in keyed on the account the app names', () => {
  let ciApp: UsernameApp;
  let stack: Stack;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'spg-named-'));
    writeFileSync(join(dir, 'enc'), newEncryptionKeys(cryptoRandom), { mode: 0o600 });
    writeFileSync(join(dir, 'token'), randomBytes(32).toString('base64url'), { mode: 0o600 });
    // This app takes "ALICE" for alice at login; the sidecar keys case-sensitively.
    ciApp = await startUsernameApp([{ username: 'alice', password: PASSWORD, email: 'alice@example.org' }, { username: 'bob', password: PASSWORD, email: 'bob@example.org' }], { caseInsensitive: true });
    stack = await startStack({
      upstreamUrl: ciApp.url,
      policy: 'version: 1\nrules:\n  - name: all\n    paths: ["/**"]\n    access: authenticated\n',
      config: {
        login: {
          upstream: { path: '/login', fields: { email: 'username', password: 'password' } },
          success: { status: [302], cookie: 'app_session' },
          identifier: 'username',
          landing: '/home',
          min_response_time: '0ms',
        },
        directory: { kind: 'profile', path: '/api/whoami', email_field: 'user.email', identifier_field: 'user.username' },
        factors: { encryption_keys: { file: join(dir, 'enc') }, methods: ['totp', 'email'] },
        channels: { outbox_file: join(dir, 'outbox.jsonl'), email: { kind: 'outbox' } },
        risk: LOW_RISK,
      },
    });
  });
  after(async () => {
    await stack?.close();
    await ciApp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('"ALICE" and "alice" are one account: the session and the audit trail key on "alice", and the directory agrees', async () => {
    const shouting = new GuardClient(stack.url);
    const reply = await shouting.post('/_guard/api/login', { username: 'ALICE', password: PASSWORD });
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.body['status'], 'authenticated');
    const events = await stack.guard.audit.recent({ limit: 50 });
    const success = events.find((e) => e.event === 'login_success');
    assert.equal(success?.user, 'alice');
    assert.ok(stack.logs.some((l) => l['event'] === 'login_account_named' && l['typed'] === 'ALICE' && l['user'] === 'alice'));
    // Keyed on "ALICE", the profile (naming alice) would be refused as another account's.
    const start = await shouting.enableStart(PASSWORD);
    assert.equal(start.status, 200, start.text);
    assert.deepEqual(start.body['channels'], ['email']);
    const page = await rawRequest(`${stack.url}/home`, { headers: { accept: 'text/html', cookie: shouting.cookieHeader() } });
    assert.match(page.text, /Hello alice/);
  });

  test('a rotated upstream session of the same account is adopted; one of another account ends the sidecar session', async () => {
    const client = new GuardClient(stack.url);
    assert.equal((await client.post('/_guard/api/login', { username: 'alice', password: PASSWORD })).body['status'], 'authenticated');
    const html = { headers: { accept: 'text/html' } };
    assert.equal((await client.request('/rotate', html)).status, 200);
    // Adoption is asynchronous (the profile is read after the answer); bounded wait, no timing assertion.
    let after = await client.request('/home', html);
    for (let i = 0; i < 50 && !/Hello alice/.test(after.text); i += 1) after = await client.request('/home', html);
    assert.match(after.text, /Hello alice/, 'still signed in with the rotated session');
    assert.equal((await client.request('/become/bob', html)).status, 200);
    let ended = await client.request('/home', html);
    for (let i = 0; i < 50 && ended.status === 200; i += 1) ended = await client.request('/home', html);
    assert.equal(ended.status, 303, 'signed out: the new session names another account');
    assert.ok(stack.logs.some((l) => l['event'] === 'session_ended' && l['reason'] === 'upstream_session_of_unknown_account'));
  });
});
