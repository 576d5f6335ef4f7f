import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { normaliseRecoveryCode } from '../../src/factors/recovery/codes.ts';
import { parseEncryptionKeys, SecretBox } from '../../src/factors/secret-box.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { cryptoRandom } from '../../src/core/random.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import {
  GENEROUS_BUDGETS,
  MERCHANT,
  MERCHANT_PHONE,
  OWNER,
  PASSWORD,
  GuardClient,
  codeIn,
  enableSms,
  enableTotp,
  expectStatus,
  factorsConfig,
  lastCode,
  outboxMessages,
  totpAt,
  verifyIdentity,
  withClockedStack,
  base32Decode,
  type ApiReply,
  type ClockedStack,
} from '../helpers/two-factor.ts';

/**
 * THREATS T15 — secrets at rest and in logs. TOTP secrets are sealed with AES-256-GCM (key id for
 * rotation) before they reach SQLite; recovery codes and one-time codes are stored only as keyed
 * hashes; the structured logs of complete flows carry no code, password, TOTP secret, recovery code
 * or cookie value.
 */

const STEP = 30_000;

/** An in-memory ephemeral store that remembers every key ever written, so a test can read them all. */
class RecordingStore extends MemoryStore {
  readonly keys = new Set<string>();
  override async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.keys.add(key);
    return super.set(key, value, ttlMs);
  }
  override async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.keys.add(key);
    return super.setIfAbsent(key, value, ttlMs);
  }
  override async setIfPresent(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.keys.add(key);
    return super.setIfPresent(key, value, ttlMs);
  }
  override async increment(key: string, by: number, ttlMs: number, expiry?: 'fixed' | 'sliding'): Promise<number> {
    this.keys.add(key);
    return super.increment(key, by, ttlMs, expiry);
  }
  /** Every live key and value. */
  async entries(): Promise<Array<[string, string]>> {
    const out: Array<[string, string]> = [];
    for (const key of this.keys) {
      const value = await this.get(key);
      if (value !== null) out.push([key, value]);
    }
    return out;
  }
}

interface SecretsStack extends ClockedStack {
  readonly keysFile: string;
  readonly dbFile: string;
}

function run<T>(fn: (s: SecretsStack) => Promise<T>, store?: (clock: ManualClock) => MemoryStore): Promise<T> {
  const clock = new ManualClock(Date.now());
  const { factors, keysFile } = factorsConfig({ send_budget: GENEROUS_BUDGETS });
  return withClockedStack(
    { config: { factors }, ...(store ? { start: { store: store(clock) } } : {}) },
    (s) => fn({ ...s, keysFile, dbFile: join(dirname(s.stack.outboxFile), 'guard.db') }),
    clock,
  );
}

/** The SQLite database file and its WAL/SHM companions, as bytes. */
function databaseBytes(dbFile: string): Array<[string, Buffer]> {
  return [dbFile, `${dbFile}-wal`, `${dbFile}-shm`].filter((f) => existsSync(f)).map((f) => [f, readFileSync(f)]);
}

/** The forms a secret could be written in. */
function secretForms(secret: Buffer, base32: string): Array<[string, Buffer]> {
  return [
    ['raw bytes', secret],
    ['base32', Buffer.from(base32)],
    ['base32 lower case', Buffer.from(base32.toLowerCase())],
    ['hex', Buffer.from(secret.toString('hex'))],
    ['base64', Buffer.from(secret.toString('base64'))],
    ['base64url', Buffer.from(secret.toString('base64url'))],
  ];
}

function recoveryForms(code: string): string[] {
  const normalised = normaliseRecoveryCode(code) as string;
  return [code, normalised, code.toUpperCase(), normalised.toUpperCase()];
}

/** Whether `text` contains the 6-digit `code` as a token of its own (not inside a longer number or hex run). */
function containsCode(text: string, code: string): boolean {
  return new RegExp(`(?<![0-9A-Fa-f])${code}(?![0-9A-Fa-f])`).test(text);
}

// ---------------------------------------------------------------------------------------------

describe('T15: the durable store (SQLite file and WAL)', () => {
  test('the TOTP secret is sealed (AES-256-GCM, key id, bound to the user): no form of it is in the file', () =>
    run(async (s) => {
      const client = await s.signedIn();
      const { secret, base32 } = await enableTotp(client, s.enroll);
      assert.equal(secret.length, 20);
      const files = databaseBytes(s.dbFile);
      assert.ok(files.length >= 1 && files.some(([f]) => f.endsWith('.db')));
      assert.ok(files.reduce((n, [, bytes]) => n + bytes.length, 0) > 4096, 'the database has content');
      for (const [file, bytes] of files) {
        for (const [form, needle] of secretForms(secret, base32)) {
          assert.equal(bytes.indexOf(needle), -1, `the TOTP secret (${form}) is in ${file}`);
        }
      }

      const db = new Database(s.dbFile, { 'readonly': true, fileMustExist: true });
      try {
        const row = db.prepare('SELECT method, totp_key_id, totp_secret FROM enrollments WHERE user = ?').get(MERCHANT) as
          | { method: string; totp_key_id: string; totp_secret: string }
          | undefined;
        assert.ok(row, 'the enrollment row exists');
        assert.equal(row.method, 'totp');
        assert.equal(row.totp_key_id, '1');
        assert.notEqual(row.totp_secret, base32);
        const sealed = Buffer.from(row.totp_secret, 'base64url');
        assert.equal(sealed.length, 12 + secret.length + 16, 'iv | ciphertext | tag');
        assert.equal(sealed.indexOf(secret), -1);

        const box = new SecretBox(parseEncryptionKeys(readFileSync(s.keysFile, 'utf8')), cryptoRandom);
        assert.deepEqual(box.open({ keyId: row.totp_key_id, data: row.totp_secret }, `totp:${MERCHANT}`), secret, 'it opens with the configured key');
        assert.throws(() => box.open({ keyId: row.totp_key_id, data: row.totp_secret }, `totp:${OWNER}`), 'copied onto another user it does not open');
        const otherKeys = new SecretBox(parseEncryptionKeys(readFileSync(factorsConfig().keysFile, 'utf8')), cryptoRandom);
        assert.throws(() => otherKeys.open({ keyId: row.totp_key_id, data: row.totp_secret }, `totp:${MERCHANT}`), 'another key does not open it');
      } finally {
        db.close();
      }
    }));

  test('recovery codes are stored only as keyed hashes', () =>
    run(async (s) => {
      const client = await s.signedIn();
      const { recoveryCodes } = await enableTotp(client, s.enroll);
      // Use one, so the file also holds a "used" row.
      await client.logout();
      expectStatus(await client.login(), 200, 'login');
      expectStatus(await client.verify(recoveryCodes[0]), 200, 'recovery code');

      for (const [file, bytes] of databaseBytes(s.dbFile)) {
        const text = bytes.toString('latin1');
        for (const code of recoveryCodes) for (const form of recoveryForms(code)) assert.ok(!text.includes(form), `recovery code ${form} is in ${file}`);
      }
      const db = new Database(s.dbFile, { 'readonly': true, fileMustExist: true });
      try {
        const rows = db.prepare('SELECT hash, used_at FROM recovery_codes WHERE user = ?').all(MERCHANT) as Array<{ hash: string; used_at: number | null }>;
        assert.equal(rows.length, 10);
        assert.equal(rows.filter((r) => r.used_at !== null).length, 1);
        const plainHashes = recoveryCodes.map((c) => createHash('sha256').update(normaliseRecoveryCode(c) as string).digest('hex'));
        for (const row of rows) {
          assert.match(row.hash, /^1:[0-9a-f]{64}$/, 'key id : HMAC-SHA256 hex');
          assert.ok(!plainHashes.includes(row.hash.slice(2)), 'an unkeyed SHA-256 of the code (guessable offline)');
        }
      } finally {
        db.close();
      }
    }));
});

// ---------------------------------------------------------------------------------------------

describe('T15: the ephemeral store', () => {
  test('one-time codes are kept as keyed hashes: otc:login:<pending id> and every other value hold no code, no password, no TOTP secret', () => {
    let store: RecordingStore | undefined;
    return run(
      async (s) => {
        const recording = store as RecordingStore;
        const scan = async (what: string, needles: { codes?: string[]; strings?: string[] }): Promise<void> => {
          const entries = await recording.entries();
          assert.ok(entries.length > 0);
          for (const [key, value] of entries) {
            for (const code of needles.codes ?? []) assert.ok(!containsCode(value, code), `${what}: code ${code} in ${key} = ${value}`);
            for (const secret of needles.strings ?? []) assert.ok(!value.includes(secret), `${what}: ${secret} in ${key}`);
          }
        };
        const liveCodes = (): string[] => outboxMessages(s.stack.outboxFile).filter((m) => m.purpose === 'code').map((m) => codeIn(m.text));

        // Owner: TOTP, checked while the sealed secret waits in the enable flow record.
        const owner = await s.signedIn(OWNER);
        await verifyIdentity(owner, s.enroll);
        const method = expectStatus(await owner.enableMethod('totp'), 200, 'method totp');
        const base32 = method.body['secret'] as string;
        const secret = base32Decode(base32);
        await scan('TOTP setup', { strings: [base32, base32.toLowerCase(), secret.toString('hex'), secret.toString('base64'), PASSWORD] });
        expectStatus(await owner.enableConfirm(totpAt(secret, s.clock.now())), 200, 'confirm');

        // Merchant: SMS; codes are checked while they are live.
        const merchant = await s.signedIn();
        expectStatus(await merchant.enableStart(PASSWORD), 200, 'start');
        expectStatus(await merchant.enableIdentity('email'), 200, 'identity');
        await scan('identity code live', { codes: liveCodes(), strings: [PASSWORD] });
        expectStatus(await merchant.enableIdentityVerify(lastCode(s.stack.outboxFile, MERCHANT)), 200, 'identity/verify');
        expectStatus(await merchant.enableMethod('sms'), 200, 'method sms');
        await scan('enable code live', { codes: liveCodes() });
        const confirmed = expectStatus(await merchant.enableConfirm(lastCode(s.stack.outboxFile, MERCHANT_PHONE)), 200, 'confirm sms');
        const recovery = confirmed.body['recovery_codes'] as string[];
        await merchant.logout();

        const login = expectStatus(await merchant.login(), 200, 'login');
        assert.equal(login.body['method'], 'sms');
        const pendingId = merchant.cookies.get('spg_pending');
        assert.ok(pendingId, 'the pending login id is the spg_pending cookie');
        const code = lastCode(s.stack.outboxFile, MERCHANT_PHONE);
        const stored = await recording.get(`otc:login:${pendingId}`);
        assert.ok(stored !== null, 'the live login code is stored under otc:login:<pending id>');
        assert.match(stored, /^[0-9a-f]{32}\.[0-9a-f]{64}$/, 'nonce . HMAC-SHA256');
        assert.ok(!stored.includes(code));
        const pending = await recording.get(`pending:${pendingId}`);
        assert.ok(pending !== null && !containsCode(pending, code) && !pending.includes(PASSWORD), `the pending login record: ${String(pending)}`);
        await scan('login code live', {
          codes: liveCodes(),
          strings: [PASSWORD, base32, secret.toString('hex'), ...recovery.flatMap(recoveryForms)],
        });
        expectStatus(await merchant.verify(code), 200, 'verify');
      },
      (clock) => {
        store = new RecordingStore(clock);
        return store;
      },
    );
  });
});

// ---------------------------------------------------------------------------------------------

/** A client that remembers every cookie value it was ever given. */
class CookieRecordingClient extends GuardClient {
  readonly seen = new Set<string>();
  override take(reply: ApiReply): ApiReply {
    super.take(reply);
    for (const value of this.cookies.values()) if (value.length >= 8) this.seen.add(value);
    return reply;
  }
}

describe('T15: the logs', () => {
  test('a full set of flows logs no code, password, TOTP secret, recovery code or cookie value', () =>
    run(async (s) => {
      const clients: CookieRecordingClient[] = [];
      const client = (): CookieRecordingClient => {
        const c = new CookieRecordingClient(s.stack.url);
        clients.push(c);
        return c;
      };
      const step = (): void => s.clock.advance(STEP);
      const WRONG_PASSWORD = 'Wr0ng-Passw0rd-zq';

      // Wrong password, then sign in; enable TOTP; regenerate recovery codes.
      const a = client();
      assert.equal((await a.login(MERCHANT, WRONG_PASSWORD)).status, 401);
      expectStatus(await a.login(), 200, 'login');
      assert.equal((await a.enableStart(WRONG_PASSWORD)).status, 401);
      const totp = await enableTotp(a, s.enroll);
      step();
      expectStatus(await a.recoveryStart(), 200, 'recovery/start');
      const regenerated = expectStatus(await a.recoveryConfirm(totpAt(totp.secret, s.clock.now())), 200, 'recovery/confirm').body['recovery_codes'] as string[];
      await a.logout();

      // Sign in with a wrong code, then TOTP; then with a recovery code; then disable.
      step();
      const b = client();
      expectStatus(await b.login(), 200, 'login totp');
      assert.equal((await b.verify('000001')).status, 401);
      expectStatus(await b.verify(totpAt(totp.secret, s.clock.now())), 200, 'verify totp');
      await b.logout();
      const c = client();
      expectStatus(await c.login(), 200, 'login recovery');
      expectStatus(await c.verify(regenerated[0]), 200, 'verify recovery');
      assert.equal((await c.verify(totp.recoveryCodes[0])).status, 410, 'no pending login any more');
      step();
      expectStatus(await c.disableStart(PASSWORD), 200, 'disable/start');
      expectStatus(await c.disableVerify(totpAt(totp.secret, s.clock.now())), 200, 'disable/verify');
      expectStatus(await c.disableConfirm(), 200, 'disable/confirm');

      // SMS: enable, sign in with a resend.
      const sms = await enableSms(c, s.enroll);
      await c.logout();
      const d = client();
      expectStatus(await d.login(), 200, 'login sms');
      s.clock.advance(61_000);
      expectStatus(await d.resend(), 200, 'resend');
      assert.equal((await d.verify('000002')).status, 401);
      expectStatus(await d.verify(lastCode(s.stack.outboxFile, MERCHANT_PHONE)), 200, 'verify sms');
      await d.logout();

      const logs = s.stack.logs;
      const events = new Set(logs.map((l) => l['event']).filter((e) => typeof e === 'string'));
      for (const event of ['login_success', 'login_failure', 'verification_failure', 'code_sent', '2fa_enabled', '2fa_disabled', 'recovery_code_used']) {
        assert.ok(events.has(event), `the flows were logged (${event} missing): ${[...events].join(', ')}`);
      }
      // Timings and timestamps are numbers the tests do not control; everything else is scanned.
      const text = JSON.stringify(logs.map(({ ms: _ms, time: _time, ...rest }) => rest));

      const codes = outboxMessages(s.stack.outboxFile).filter((m) => m.purpose === 'code').map((m) => codeIn(m.text));
      assert.ok(codes.length >= 5, `codes were sent: ${codes.length}`);
      for (const code of codes) assert.ok(!containsCode(text, code), `a one-time code (${code}) is in the logs`);
      const totpCodes = [-6, -5, -4, -3, -2, -1, 0].map((k) => totpAt(totp.secret, s.clock.now() + k * STEP));
      for (const code of totpCodes) assert.ok(!containsCode(text, code), `a TOTP code (${code}) is in the logs`);
      for (const password of [PASSWORD, WRONG_PASSWORD]) assert.ok(!text.includes(password), `a password is in the logs`);
      for (const [form, needle] of secretForms(totp.secret, totp.base32)) {
        if (form !== 'raw bytes') assert.ok(!text.includes(needle.toString()), `the TOTP secret (${form}) is in the logs`);
      }
      for (const code of [...totp.recoveryCodes, ...regenerated, ...sms.recoveryCodes]) {
        for (const form of recoveryForms(code)) assert.ok(!text.includes(form), `a recovery code (${form}) is in the logs`);
      }
      const cookies = new Set(clients.flatMap((cl) => [...cl.seen]));
      assert.ok(cookies.size >= 8, `cookie values were collected: ${cookies.size}`);
      for (const value of cookies) assert.ok(!text.includes(value), `a cookie value is in the logs: ${value.slice(0, 16)}…`);
    }));
});
