import { cryptoRandom } from '../../src/core/random.ts';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { LOW_RISK, startStack, type Stack } from '../helpers/stack.ts';
import { newEncryptionKeys } from '../../src/factors/secret-box.ts';
import { startUsernameApp, type UsernameApp } from '../helpers/username-app.ts';
import { codeMessages, GuardClient, lastCode, outboxMessages, rawRequest } from '../helpers/two-factor.ts';

/**
 * An app whose accounts are usernames (as Django's), fronted with `login.identifier: username`
 * and a SQLite directory holding the accounts' email addresses (issue 12): sign-in by username
 * with the risk code at the address the directory holds, a user without an address told so with
 * nothing sent, the admin API keyed on the username, and the step-up page in the rule's words.
 */

const PASSWORD = 'correct horse battery';
const USERS = [
  { username: 'alice', password: PASSWORD, email: 'alice@example.org' },
  { username: 'bob', password: PASSWORD, email: null },
  { username: 'Carol', password: PASSWORD, email: 'carol@example.org' },
];
const TOKEN = randomBytes(32).toString('base64url');

const POLICY = `version: 1
intercept:
  login: { paths: ["/login"] }
rules:
  - name: user-admin
    description: { en: "Changing the app's users is sensitive.", zh-cn: "修改应用的用户属于敏感操作。" }
    paths: ["/admin/users/**"]
    access: authenticated
    sensitive:
      category: users
      fresh_for: 10m
      without_2fa: { low: email_code, medium: email_code, high: email_code }
      with_2fa: { low: pass, medium: pass, high: fresh_code }
  - name: bare-sensitive
    paths: ["/admin/plain/**"]
    access: authenticated
    sensitive:
      category: plain
      fresh_for: 10m
      without_2fa: { low: email_code, medium: email_code, high: email_code }
      with_2fa: { low: pass, medium: pass, high: fresh_code }
`;

let app: UsernameApp;
let stack: Stack;
let lowRisk: Stack;
let dir: string;

/** The sidecar in front of the username app; `risk` as given (the defaults unless told). */
async function startUsernameStack(risk: Record<string, unknown>, name: string): Promise<Stack> {
  const tokenFile = join(dir, 'admin-token');
  const keysFile = join(dir, `enc-${name}`);
  writeFileSync(keysFile, newEncryptionKeys(cryptoRandom), { mode: 0o600 });
  return startStack({
    upstreamUrl: app.url,
    policy: POLICY,
    config: {
      admin: { host: '127.0.0.1', port: 0, tokens: [{ name: 'support', token: { file: tokenFile } }] },
      login: {
        upstream: { path: '/login', fields: { email: 'username', password: 'password' } },
        success: { status: [302], location: '^/home$', cookie: 'app_session' },
        identifier: 'username',
        landing: '/home',
        min_response_time: '0ms',
      },
      directory: { kind: 'sql', driver: 'sqlite', file: join(dir, 'app.sqlite3'), query: 'SELECT email FROM auth_user WHERE username = :identifier' },
      factors: { encryption_keys: { file: keysFile }, methods: ['totp', 'email'] },
      channels: { outbox_file: join(dir, `outbox-${name}.jsonl`), email: { kind: 'outbox' } },
      risk,
    },
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'spg-username-'));
  const db = new Database(join(dir, 'app.sqlite3'));
  db.exec('CREATE TABLE auth_user (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, email TEXT NOT NULL)');
  // Django stores "no address" as an empty string.
  for (const [i, u] of USERS.entries()) db.prepare('INSERT INTO auth_user VALUES (?, ?, ?)').run(i + 1, u.username, u.email ?? '');
  db.close();
  writeFileSync(join(dir, 'admin-token'), TOKEN, { mode: 0o600 });
  app = await startUsernameApp(USERS);
  // The default risk settings: a first sign-in from a new browser is medium and needs an email code.
  stack = await startUsernameStack({}, 'default');
  // No sign-in is risky here, so a user without an address can sign in and meet a step-up.
  lowRisk = await startUsernameStack(LOW_RISK, 'low');
});

after(async () => {
  await stack?.close();
  await lowRisk?.close();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function signedIn(username: string): Promise<GuardClient> {
  const client = new GuardClient(stack.url);
  const first = await client.post('/_guard/api/login', { username, password: PASSWORD });
  assert.equal(first.status, 200, first.text);
  if (first.body['status'] === 'verification_required') {
    const done = await client.verify(lastCode(join(dir, 'outbox-default.jsonl'), USERS.find((u) => u.username === username)?.email ?? undefined));
    assert.equal(done.status, 200, done.text);
  }
  return client;
}

describe('accounts identified by username', () => {
  test('sign-in by username: the code goes to the address the directory holds, then the app is reached', async () => {
    const client = new GuardClient(stack.url);
    const first = await client.post('/_guard/api/login', { username: 'alice', password: PASSWORD });
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body['status'], 'verification_required');
    assert.equal(first.body['reason'], 'risk');
    assert.equal(first.body['destination'], 'a•••@example.org');
    const sent = codeMessages(join(dir, 'outbox-default.jsonl'));
    assert.deepEqual(sent.map((m) => m.to), ['alice@example.org'], 'one code, to the address, never to the username');
    const done = await client.verify(lastCode(join(dir, 'outbox-default.jsonl'), 'alice@example.org'));
    assert.equal(done.status, 200, done.text);
    const page = await client.request('/home', { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(page.text, /Hello alice/);
  });

  test('a user without an address is told so (JSON and page) and nothing is sent', async () => {
    const before = outboxMessages(join(dir, 'outbox-default.jsonl')).length;
    const api = await new GuardClient(stack.url).post('/_guard/api/login', { identifier: 'bob', password: PASSWORD });
    assert.equal(api.status, 403, api.text);
    assert.equal(api.body['error'], 'no_email_on_file');
    assert.match(String(api.body['message']), /no email address is known for your account/);
    assert.ok(!api.setCookies.some((c) => c.startsWith('app_session=')), 'the app session stays withheld');

    const form = await GuardClient.prototype.request.call(new GuardClient(stack.url), '/_guard/login', { headers: { accept: 'text/html' } });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)?.[1];
    const csrfCookie = form.setCookies.map((c) => c.split(';', 1)[0]).join('; ');
    assert.ok(csrf);
    const page = await rawRequest(`${stack.url}/_guard/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', cookie: csrfCookie, origin: stack.url },
      body: new URLSearchParams({ _csrf: csrf as string, email: 'bob', password: PASSWORD, return_to: '/home' }).toString(),
    });
    // Post/Redirect/Get: the sign-in page shows why, with the status the POST earned.
    assert.equal(page.status, 303, page.text);
    const flash = page.setCookies.map((c) => c.split(';', 1)[0]).join('; ');
    const shown = await rawRequest(`${stack.url}${String(page.headers.location)}`, { headers: { accept: 'text/html', cookie: `${csrfCookie}; ${flash}` } });
    assert.equal(shown.status, 403, shown.text);
    assert.match(shown.text, /no email address is known for your account, so none was sent/);
    assert.equal(outboxMessages(join(dir, 'outbox-default.jsonl')).length, before, 'nothing in the outbox');
  });

  test('usernames are case-sensitive by default: "Alice" is another account, which the app refuses', async () => {
    const reply = await new GuardClient(stack.url).post('/_guard/api/login', { username: 'ALICE', password: PASSWORD });
    assert.equal(reply.status, 401);
    assert.equal(reply.body['error'], 'invalid_credentials');
    assert.match(String(reply.body['message']), /^The username or password is not correct\./);
  });

  test('the sign-in page and the code help page speak of usernames, not email addresses', async () => {
    const form = await rawRequest(`${stack.url}/_guard/login`, { headers: { accept: 'text/html' } });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)?.[1];
    assert.ok(csrf);
    const cookie = form.setCookies.map((c) => c.split(';', 1)[0]).join('; ');
    const posted = await rawRequest(`${stack.url}/_guard/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', cookie, origin: stack.url },
      body: new URLSearchParams({ _csrf: csrf, email: 'dora-unknown', password: 'wrong', return_to: '/home' }).toString(),
    });
    // Post/Redirect/Get: the sign-in page shows the refusal (words in the flash cookie).
    assert.equal(posted.status, 303, posted.text);
    const flash = posted.setCookies.map((c) => c.split(';', 1)[0]).join('; ');
    const page = await rawRequest(`${stack.url}${String(posted.headers['location'])}`, { headers: { accept: 'text/html', cookie: `${cookie}; ${flash}` } });
    assert.equal(page.status, 401, page.text);
    assert.match(page.text, /The username or password is not correct\. 2 attempts left/);
    assert.doesNotMatch(page.text, /email or password/);
    const help = await rawRequest(`${stack.url}/_guard/help/otp`, { headers: { accept: 'text/html' } });
    assert.equal(help.status, 200);
    assert.match(help.text, /the email address on file for your account/);
    assert.match(help.text, /and your username, not another account/);
    assert.doesNotMatch(help.text, /email address you sign in with/);
  });

  test('email, username and identifier are one field: two different values are refused as ambiguous', async () => {
    const reply = await new GuardClient(stack.url).post('/_guard/api/login', { email: 'alice', username: 'bob', password: PASSWORD });
    assert.equal(reply.status, 400);
    assert.equal(reply.body['error'], 'ambiguous_identifier');
    const same = await new GuardClient(stack.url).post('/_guard/api/login', { email: 'nobody', username: 'nobody', password: 'x' });
    assert.equal(same.status, 401, 'the same value twice is one identifier');
  });

  test('the login page asks for the username, in both languages', async () => {
    const en = await rawRequest(`${stack.url}/_guard/login`, { headers: { accept: 'text/html' } });
    assert.match(en.text, /<label for="email">Username<\/label>/);
    assert.match(en.text, /<input id="email" name="email" type="text" autocomplete="username"/);
    const zh = await rawRequest(`${stack.url}/_guard/login`, { headers: { accept: 'text/html', 'accept-language': 'zh-CN' } });
    assert.match(zh.text, /<label for="email">用户名<\/label>/);
  });

  test('the admin API keys on the username: status, an invalid identifier, and the audit trail', async () => {
    await signedIn('Carol');
    const call = (path: string) => rawRequest(`${stack.adminUrl}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const status = await call('/admin/users/Carol');
    assert.equal(status.status, 200, status.text);
    assert.equal(status.body['user'], 'Carol');
    assert.ok((status.body['known_by'] as string[]).includes('audit'));
    // Another spelling is another account on a case-sensitive app.
    assert.equal((await call('/admin/users/carol')).status, 404);
    const bad = await call('/admin/users/bad%0Aname');
    assert.equal(bad.status, 400);
    assert.equal(bad.body['error'], 'invalid_identifier');
    assert.match(String(bad.body['message']), /control characters/);
    const audit = await call('/admin/audit?user=Carol');
    assert.equal(audit.status, 200, audit.text);
    assert.ok((audit.body['events'] as Array<Record<string, unknown>>).some((e) => e['event'] === 'login_success' && e['user'] === 'Carol'));
  });

  test('step-up: the page gives the rule description in the page language; without one, neutral words; cancel goes to login.landing', async () => {
    const client = await signedIn('alice');
    const blocked = await client.request('/admin/users/42', { headers: { accept: 'text/html' } });
    assert.equal(blocked.status, 303);
    const en = await client.request('/_guard/step-up?return_to=%2Fadmin%2Fusers%2F42', { headers: { accept: 'text/html' } });
    assert.match(en.text, /Changing the app’s users is sensitive\.|Changing the app&#39;s users is sensitive\.|Changing the app's users is sensitive\./);
    assert.match(en.text, /We check that it is really you\./);
    assert.doesNotMatch(en.text, /exports your data/);
    assert.match(en.text, /<a href="\/home">Cancel<\/a>/);
    const zh = await client.request('/_guard/step-up?return_to=%2Fadmin%2Fusers%2F42', { headers: { accept: 'text/html', 'accept-language': 'zh-CN' } });
    assert.match(zh.text, /修改应用的用户属于敏感操作。/);

    await client.request('/admin/plain/x', { headers: { accept: 'text/html' } });
    const plain = await client.request('/_guard/step-up?return_to=%2Fadmin%2Fplain%2Fx', { headers: { accept: 'text/html' } });
    assert.match(plain.text, /This is a sensitive operation, so we check that it is really you\./);
    assert.doesNotMatch(plain.text, /exports your data/);
  });

  test('step-up for a user without an address: an explanation instead of a send button, and nothing is sent', async () => {
    const client = new GuardClient(lowRisk.url);
    const login = await client.post('/_guard/api/login', { username: 'bob', password: PASSWORD });
    assert.equal(login.status, 200, login.text);
    assert.equal(login.body['status'], 'authenticated');
    const blocked = await client.request('/admin/users/1', { headers: { accept: 'text/html' } });
    assert.equal(blocked.status, 303);
    const page = await client.request('/_guard/step-up?return_to=%2Fadmin%2Fusers%2F1', { headers: { accept: 'text/html' } });
    assert.match(page.text, /no email address is known for your account, so none can be sent/);
    assert.doesNotMatch(page.text, /name="action" value="send"/);
    const start = await client.post('/_guard/api/step-up/start', {});
    assert.equal(start.status, 409, start.text);
    assert.equal(start.body['error'], 'no_email_on_file');
    // Turning 2FA on cannot start with an identity code either: nothing is known to send it to.
    const enable = await client.enableStart(PASSWORD);
    assert.equal(enable.status, 409, enable.text);
    assert.equal(enable.body['error'], 'no_contact_on_file');
    assert.deepEqual(outboxMessages(join(dir, 'outbox-low.jsonl')), []);
  });

  test('2FA for a username account: identity verification offers only the known address, which then cannot also become the second step', async () => {
    const client = new GuardClient(lowRisk.url);
    assert.equal((await client.post('/_guard/api/login', { username: 'alice', password: PASSWORD })).body['status'], 'authenticated');
    const start = await client.enableStart(PASSWORD);
    assert.equal(start.status, 200, start.text);
    assert.deepEqual(start.body['channels'], ['email']);
    assert.equal((await client.enableIdentity('sms')).status, 400);
    const sent = await client.enableIdentity('email');
    assert.equal(sent.status, 200, sent.text);
    const outbox = join(dir, 'outbox-low.jsonl');
    const verified = await client.enableIdentityVerify(lastCode(outbox, 'alice@example.org'));
    assert.equal(verified.status, 200);
    assert.ok(!(verified.body['methods'] as string[]).includes('email'), 'the address that proved identity is not offered as the second step');
    const method = await client.enableMethod('email');
    assert.equal(method.status, 400, method.text);
    assert.equal(method.body['error'], 'same_channel');
    const to = new Set(outboxMessages(outbox).map((m) => m.to));
    assert.deepEqual([...to], ['alice@example.org'], 'codes go to the address, never to "alice"');
  });
});
