import { cryptoRandom } from '../../src/core/random.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { freePort } from '../helpers/free-port.ts';
import { startStack } from '../helpers/stack.ts';
import { newEncryptionKeys } from '../../src/factors/secret-box.ts';
import { startUsernameApp } from '../helpers/username-app.ts';
import {
  enableEmail,
  enrollDirectly,
  expectStatus,
  factorsConfig,
  GENEROUS_BUDGETS,
  GuardClient,
  lastCode,
  MERCHANT,
  MERCHANT_PHONE,
  outboxLines,
  rawRequest,
  withClockedStack,
  type ClockedStack,
} from '../helpers/two-factor.ts';

/**
 * Security alerts end to end through a real sidecar and the demo app: each kind ends in the outbox
 * (`kind: "alert"`) with the right recipient and language; the rate limit holds on the sidecar's
 * clock; a disabled kind is not sent; a failing channel does not fail the sign-in.
 */

interface AlertLine {
  readonly channel: 'email' | 'sms';
  readonly to: string;
  readonly subject?: string;
  readonly text: string;
  readonly purpose: string;
  readonly kind?: string;
  readonly alert?: string;
  readonly lang?: string;
}

function alertLines(outboxFile: string, alert?: string): AlertLine[] {
  return outboxLines<AlertLine>(outboxFile).filter((line) => line.kind === 'alert' && (alert === undefined || line.alert === alert));
}

async function settled(s: ClockedStack): Promise<void> {
  await s.stack.guard.audit.settle();
  await s.stack.guard.alerts.idle();
}

/** Password, then the code of the account's method read from the outbox (sent to `to`). */
async function signInWithCode(s: ClockedStack, client: GuardClient, to: string): Promise<void> {
  const start = expectStatus(await client.login(MERCHANT), 200, 'login');
  assert.equal(start.body['status'], 'verification_required');
  expectStatus(await client.verify(lastCode(s.stack.outboxFile, to)), 200, 'login/verify');
}

const ZH = { 'accept-language': 'zh-CN,zh;q=0.9' };

describe('security alerts', () => {
  test('new browser (Chinese), known browser, rate limit on the clock, 2FA change, recovery code used and low; a disabled kind stays silent', async () => {
    const { factors } = factorsConfig({ send_budget: GENEROUS_BUDGETS, failures: { lockout_after: 2 } });
    await withClockedStack(
      { config: { factors, alerts: { recovery_codes_low_threshold: 9, rate_limit: { window: '15m', max: 1 }, events: { lockout: false } } } },
      async (s) => {
        const file = s.stack.outboxFile;
        // The very first sign-in of an account with no history alerts no one.
        const first = new GuardClient(s.stack.url, ZH);
        expectStatus(await first.login(MERCHANT), 200, 'first login');
        assert.equal(first.cookies.size > 0, true);
        await settled(s);
        assert.deepEqual(alertLines(file), []);

        // Turning 2FA on: a factor_changed alert to the account, in the language it signed in with.
        const enrolled = await enableEmail(first, s.enroll);
        await settled(s);
        const changed = alertLines(file, 'factor_changed');
        assert.equal(changed.length, 1);
        assert.equal(changed[0]?.to, MERCHANT);
        assert.equal(changed[0]?.channel, 'email');
        assert.equal(changed[0]?.lang, 'zh-CN');
        assert.match(changed[0]?.subject ?? '', /安全提醒：已开启双重验证/);
        assert.match(changed[0]?.text ?? '', /\/_guard\/security/);

        // The first verified sign-in builds the history: still nothing "new" to tell.
        const laptop = new GuardClient(s.stack.url, ZH);
        await signInWithCode(s, laptop, MERCHANT);
        await settled(s);
        assert.deepEqual(alertLines(file, 'new_browser'), []);

        // A browser this account never used: alert, in Chinese, to the account's address.
        const phone = new GuardClient(s.stack.url, ZH);
        await signInWithCode(s, phone, MERCHANT);
        await settled(s);
        const fresh = alertLines(file, 'new_browser');
        assert.equal(fresh.length, 1);
        assert.equal(fresh[0]?.to, MERCHANT);
        assert.equal(fresh[0]?.lang, 'zh-CN');
        assert.match(fresh[0]?.subject ?? '', /从新的浏览器或网络登录/);
        assert.match(fresh[0]?.text ?? '', /修改密码/);
        const code = lastCode(file, MERCHANT);
        assert.ok(!fresh[0]?.text.includes(code), 'the alert never carries the sign-in code');

        // The known browser again: no alert.
        await signInWithCode(s, laptop, MERCHANT);
        await settled(s);
        assert.equal(alertLines(file, 'new_browser').length, 1);

        // Another new browser within the window: rate-limited; after the window: alerted again.
        await signInWithCode(s, new GuardClient(s.stack.url, ZH), MERCHANT);
        await settled(s);
        assert.equal(alertLines(file, 'new_browser').length, 1, 'at most one new-browser alert per 15 minutes');
        s.clock.advance(16 * 60_000);
        await signInWithCode(s, new GuardClient(s.stack.url), MERCHANT);
        await settled(s);
        assert.equal(alertLines(file, 'new_browser').length, 2);
        assert.equal(alertLines(file, 'new_browser')[1]?.lang, 'zh-CN', 'a client stating no language keeps the account language');

        // A recovery code: "used" and (threshold 9) "running low"; never the code itself.
        const recovery = enrolled.recoveryCodes[0] as string;
        const lost = new GuardClient(s.stack.url, { 'accept-language': 'en' });
        expectStatus(await lost.login(MERCHANT), 200, 'login');
        expectStatus(await lost.verify(recovery), 200, 'verify with a recovery code');
        await settled(s);
        const used = alertLines(file, 'recovery_code_used');
        const low = alertLines(file, 'recovery_codes_low');
        assert.equal(used.length, 1);
        assert.equal(low.length, 1);
        assert.equal(used[0]?.lang, 'en', 'the language of the latest sign-in');
        assert.match(low[0]?.text ?? '', /Recovery codes left: 9\./);
        for (const line of alertLines(file)) for (const secret of enrolled.recoveryCodes) assert.ok(!line.text.includes(secret) && !(line.subject ?? '').includes(secret));

        // Lock-out alerts are switched off here: wrong codes until the factor locks send none.
        const thief = new GuardClient(s.stack.url);
        expectStatus(await thief.login(MERCHANT), 200, 'login');
        for (let i = 0; i < 3; i++) await thief.verify('000000');
        await settled(s);
        const records = await s.stack.guard.audit.recent({ user: MERCHANT, event: 'factor_locked', limit: 5 });
        assert.ok(records.length > 0, 'the factor did lock');
        assert.deepEqual(alertLines(file, 'lockout'), []);
        // Outbox lines keep the external contract's fields.
        for (const line of alertLines(file)) for (const field of ['channel', 'to', 'text'] as const) assert.equal(typeof line[field], 'string');
      },
    );
  });

  test('lock-out and support actions: the old phone and the account are told, never the new phone alone; unknown names never; the default language applies', async () => {
    const token = randomBytes(32).toString('base64url');
    const tokenFile = join(mkdtempSync(join(tmpdir(), 'spg-alert-token-')), 'token');
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const { factors } = factorsConfig({ send_budget: GENEROUS_BUDGETS, methods: ['totp', 'sms', 'email'], sms_countries: ['US'] });
    await withClockedStack(
      {
        config: {
          factors,
          admin: { host: '127.0.0.1', port: 0, tokens: [{ name: 'support', token: { file: tokenFile } }] },
          alerts: { default_language: 'zh-CN', support: 'help@smartpush.example' },
        },
      },
      async (s) => {
        const file = s.stack.outboxFile;
        await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
        // Three wrong passwords from one place pause sign-in from there: a lock-out alert, by email and SMS.
        const guesser = new GuardClient(s.stack.url);
        for (let i = 0; i < 3; i++) await guesser.login(MERCHANT, 'wrong password');
        await settled(s);
        const paused = alertLines(file, 'lockout');
        assert.deepEqual(paused.map((l) => `${l.channel}:${l.to}`).sort(), [`email:${MERCHANT}`, `sms:${MERCHANT_PHONE}`]);
        assert.match(paused.find((l) => l.channel === 'email')?.subject ?? '', /多次失败后登录已暂停/);
        // A name nobody uses gets the same pause, and no alert.
        for (let i = 0; i < 3; i++) await guesser.login('nobody@example.com', 'wrong password');
        await settled(s);
        assert.ok(!alertLines(file).some((l) => l.to === 'nobody@example.com'));
        const admin = (method: string, path: string, body: unknown) =>
          rawRequest(`${s.stack.adminUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
        expectStatus(await admin('PUT', `/admin/users/${MERCHANT}/2fa/destination`, { destination: '+15555550123', reason: 'ticket 42' }), 200, 'destination');
        await settled(s);
        const lines = alertLines(file, 'support_action');
        assert.deepEqual(lines.map((l) => `${l.channel}:${l.to}`).sort(), [`email:${MERCHANT}`, `sms:${MERCHANT_PHONE}`]);
        assert.ok(lines.every((l) => l.lang === 'zh-CN'));
        assert.match(lines.find((l) => l.channel === 'email')?.text ?? '', /help@smartpush\.example/);
        assert.ok(!alertLines(file).some((l) => l.to === '+15555550123'), 'the new phone is not told');
        expectStatus(await admin('POST', `/admin/users/${MERCHANT}/2fa/reset`, { reason: 'lost phone' }), 200, 'reset');
        await settled(s);
        // A reset removes the phone support just set: it is the owner's now, and is told with the account.
        const reset = alertLines(file, 'support_action').slice(2);
        assert.deepEqual(reset.map((l) => `${l.channel}:${l.to}`).sort(), [`email:${MERCHANT}`, 'sms:+15555550123']);
        assert.match(reset.find((l) => l.channel === 'email')?.subject ?? '', /客服重置了双重验证/);
        // The rate limit (3 of a kind per account per 15 minutes by default) then holds further ones back.
        expectStatus(await admin('POST', `/admin/users/${MERCHANT}/sessions/revoke`, { reason: 'r' }), 200, 'revoke');
        expectStatus(await admin('POST', `/admin/users/${MERCHANT}/unlock`, { reason: 'r' }), 200, 'unlock');
        await settled(s);
        assert.equal(alertLines(file, 'support_action').filter((l) => l.channel === 'email').length, 3);
      },
    );
  });

  test('a failing email channel never fails the sign-in; the SMS alert still goes, and the failure is counted', async () => {
    const dead = await freePort();
    const outbox = join(mkdtempSync(join(tmpdir(), 'spg-alert-outbox-')), 'outbox.jsonl');
    const { factors } = factorsConfig({ send_budget: GENEROUS_BUDGETS, methods: ['totp', 'sms', 'email'], sms_countries: ['US'] });
    await withClockedStack(
      {
        config: {
          factors,
          channels: {
            outbox_file: outbox,
            // Nothing listens there: every email (alerts included) fails to send.
            email: { kind: 'smtp', host: '127.0.0.1', port: dead, from: 'guard@example.com', timeout: '2s' },
            sms: { kind: 'outbox' },
          },
        },
      },
      async (s) => {
        await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
        const signIn = async (client: GuardClient): Promise<void> => {
          expectStatus(await client.login(MERCHANT), 200, 'login');
          expectStatus(await client.verify(lastCode(outbox, MERCHANT_PHONE)), 200, 'login/verify');
        };
        await signIn(new GuardClient(s.stack.url));
        await settled(s);
        const newcomer = new GuardClient(s.stack.url);
        await signIn(newcomer);
        // Signed in, whatever the alert's email did.
        expectStatus(await newcomer.get('/_guard/api/2fa'), 200, 'signed in');
        await settled(s);
        const sms = alertLines(outbox, 'new_browser');
        assert.deepEqual(sms.map((l) => `${l.channel}:${l.to}`), [`sms:${MERCHANT_PHONE}`]);
        assert.ok((sms[0]?.text.length ?? 0) > 0);
        const metrics = (await s.stack.guard.metrics.render()).body;
        assert.match(metrics, /spg_alerts_total\{kind="new_browser",outcome="failed"\} 1/);
        assert.match(metrics, /spg_alerts_total\{kind="new_browser",outcome="sent"\} 1/);
        assert.ok(s.stack.logs.some((l) => l['event'] === 'alert_failed'), 'the failure is logged');
      },
    );
  });

  test('username accounts: the alert goes to the address the directory holds (SQL, or a profile read at sign-in), never to the username', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spg-alert-username-'));
    const db = new Database(join(dir, 'app.sqlite3'));
    db.exec('CREATE TABLE auth_user (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, email TEXT NOT NULL)');
    db.prepare('INSERT INTO auth_user VALUES (1, ?, ?)').run('alice', 'alice@example.org');
    db.close();
    const app = await startUsernameApp([{ username: 'alice', password: 'correct horse battery', email: 'alice@example.org' }]);
    const directories = {
      sql: { kind: 'sql', driver: 'sqlite', file: join(dir, 'app.sqlite3'), query: 'SELECT email FROM auth_user WHERE username = :identifier' },
      // Read with the user's upstream session: the alert (no session) uses the address read at sign-in.
      profile: { kind: 'profile', path: '/api/whoami', email_field: 'user.email', identifier_field: 'user.username' },
    } as const;
    try {
      for (const [name, directory] of Object.entries(directories)) {
        const outbox = join(dir, `outbox-${name}.jsonl`);
        const keysFile = join(dir, `enc-${name}`);
        writeFileSync(keysFile, newEncryptionKeys(cryptoRandom), { mode: 0o600 });
        // Default risk: a sign-in from a new browser needs an email code (so the history builds up).
        const stack = await startStack({
          upstreamUrl: app.url,
          config: {
            login: {
              upstream: { path: '/login', fields: { email: 'username', password: 'password' } },
              success: { status: [302], location: '^/home$', cookie: 'app_session' },
              identifier: 'username',
              landing: '/home',
              min_response_time: '0ms',
            },
            directory,
            factors: { encryption_keys: { file: keysFile }, methods: ['totp', 'email'] },
            channels: { outbox_file: outbox, email: { kind: 'outbox' } },
            risk: {},
          },
        });
        try {
          const signIn = async (): Promise<void> => {
            const client = new GuardClient(stack.url);
            const first = expectStatus(await client.post('/_guard/api/login', { username: 'alice', password: 'correct horse battery' }), 200, `${name}: login`);
            assert.equal(first.body['status'], 'verification_required');
            expectStatus(await client.verify(lastCode(outbox, 'alice@example.org')), 200, `${name}: verify`);
          };
          await signIn();
          await signIn();
          await stack.guard.audit.settle();
          await stack.guard.alerts.idle();
          assert.deepEqual(alertLines(outbox).map((l) => `${l.alert}:${l.to}`), ['new_browser:alice@example.org'], name);
        } finally {
          await stack.close();
        }
      }
    } finally {
      await app.close();
    }
  });
});
