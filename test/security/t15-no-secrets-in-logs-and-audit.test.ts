import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '../../src/audit/audit.ts';
import {
  GENEROUS_BUDGETS,
  MERCHANT,
  MERCHANT_PHONE,
  OWNER,
  PASSWORD,
  codeIn,
  codeMessages,
  enableTotp,
  enrollDirectly,
  expectStatus,
  factorsConfig,
  lastCode,
  parseSetCookie,
  startClockedStack,
  totpAt,
  type GuardClient,
} from '../helpers/two-factor.ts';
import { CONTACT_EXPORT, RISK_AT, apiCall, assertExported, assertStepUpRequired, stepUpStart, stepUpVerify } from '../helpers/step-up.ts';

/**
 * THREATS T15: no secret in the service log or the audit trail. A whole day of one merchant and
 * one owner runs against a real stack (sign-in with an SMS code, a step-up on an export, a wrong
 * password and a wrong code, a risk-verified sign-in, enabling TOTP with the recovery codes shown,
 * a sign-in with a recovery code, logouts), with the logs, the audit file and the audit query store
 * captured. Then every password, code, recovery code, TOTP secret, cookie value and session id used
 * is looked for in every string of all three: none may appear.
 */

const WRONG_PASSWORD = 'not-the-Password-4711';
const WRONG_CODE = '000000';

/** Every string in a JSON value (keys too), so numbers such as durations cannot make false hits. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const item of value) strings(item, out);
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      out.push(key);
      strings(item, out);
    }
  }
  return out;
}

test('a full day of sign-ins, step-up and TOTP enrollment leaves no secret in the logs or the audit trail', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spg-audit-secrets-'));
  const auditFile = join(dir, 'audit', 'audit.jsonl');
  const s = await startClockedStack({
    config: { risk: RISK_AT.high, factors: factorsConfig({ send_budget: GENEROUS_BUDGETS }).factors, audit: { file: auditFile } },
  });
  const secrets = new Map<string, string>(); // value → what it is
  const secret = (value: string | undefined, what: string): void => {
    if (value !== undefined && value.length > 0) secrets.set(value, what);
  };
  const sessionLookups: Array<Promise<void>> = [];
  /** Records every cookie value the sidecar hands out, and the session id a session cookie names. */
  const watch = (client: GuardClient): GuardClient => {
    const take = client.take.bind(client);
    client.take = (reply) => {
      for (const header of reply.setCookies) {
        const { name, value, deletes } = parseSetCookie(header);
        if (deletes) continue;
        secret(value, `cookie ${name}`);
        sessionLookups.push(
          s.stack.guard.sessions.resolve(value).then((record) => {
            if (record) secret(record.id, `session id (cookie ${name})`);
          }),
        );
      }
      return take(reply);
    };
    return client;
  };
  let closed = false;
  try {
    secret(PASSWORD, 'password');
    secret(WRONG_PASSWORD, 'wrong password');
    await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());

    // The merchant: a wrong password, then a sign-in with an SMS code (one wrong code first).
    const merchant = watch(s.client());
    expectStatus(await merchant.login(MERCHANT, WRONG_PASSWORD), 401, 'wrong password');
    const login = expectStatus(await merchant.login(MERCHANT), 200, 'login');
    assert.equal(login.body['method'], 'sms', login.text);
    expectStatus(await merchant.verify(WRONG_CODE), 401, 'wrong code');
    expectStatus(await merchant.verify(lastCode(s.stack.outboxFile, MERCHANT_PHONE)), 200, 'login/verify sms');
    // A step-up on an export (high risk with 2FA: a fresh SMS code).
    assertStepUpRequired(await apiCall(merchant, CONTACT_EXPORT), CONTACT_EXPORT, 'sms', 'export before the step-up');
    expectStatus(await stepUpStart(merchant), 200, 'step-up/start');
    expectStatus(await stepUpVerify(merchant, lastCode(s.stack.outboxFile, MERCHANT_PHONE)), 200, 'step-up/verify');
    assertExported(await apiCall(merchant, CONTACT_EXPORT), 'export after the step-up');
    expectStatus(await merchant.logout(), 200, 'merchant logout');

    // The owner: a risk-verified sign-in (email code), TOTP enrollment, then a recovery-code sign-in.
    const owner = watch(s.client());
    expectStatus(await owner.login(OWNER), 200, 'owner login');
    expectStatus(await owner.verify(lastCode(s.stack.outboxFile, OWNER)), 200, 'owner login/verify (risk)');
    const enrolled = await enableTotp(owner, s.enroll);
    secret(enrolled.base32, 'TOTP secret (Base32)');
    secret(enrolled.secret.toString('hex'), 'TOTP secret (hex)');
    secret(enrolled.secret.toString('base64'), 'TOTP secret (base64)');
    secret(totpAt(enrolled.secret, s.clock.now()), 'TOTP code');
    for (const code of enrolled.recoveryCodes) {
      secret(code, 'recovery code');
      secret(code.replace(/[^A-Za-z0-9]/g, ''), 'recovery code (normalised)');
    }
    expectStatus(await owner.logout(), 200, 'owner logout');
    const again = watch(s.client());
    expectStatus(await again.login(OWNER), 200, 'owner login with TOTP on');
    const recovery = enrolled.recoveryCodes[0] as string;
    expectStatus(await again.verify(recovery), 200, 'login/verify with a recovery code');
    expectStatus(await again.logout(), 200, 'second owner logout');

    for (const message of codeMessages(s.stack.outboxFile)) secret(codeIn(message.text), `code sent by ${message.channel}`);
    await Promise.all(sessionLookups);
    const query = await s.stack.guard.audit.recent({ limit: 10_000 });
    await s.stack.close();
    closed = true;

    const fileText = readFileSync(auditFile, 'utf8');
    assert.equal(statSync(auditFile).mode & 0o777, 0o600, 'the audit file is owner-only');
    const fileRecords = fileText
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as AuditEvent);

    // The captures hold what they should (so "no secret found" means something).
    const events = new Set(fileRecords.map((r) => r.event));
    for (const name of ['login_failure', 'login_verification_required', 'code_sent', 'verification_failure', 'verification_success', 'login_success', 'risk_assessed', 'step_up', '2fa_enabled', 'recovery_code_used', 'logout'] as const) {
      assert.ok(events.has(name), `the audit file has a ${name} event (has: ${[...events].join(', ')})`);
    }
    assert.equal(query.length, fileRecords.length, 'the query store holds every record of the file');
    assert.ok(s.stack.logs.length > 20, 'the logs were captured');
    assert.ok([...secrets.values()].filter((what) => what.startsWith('session id')).length >= 3, 'session ids were collected');
    assert.ok([...secrets.values()].filter((what) => what.startsWith('code sent')).length >= 4, 'codes were collected');

    const haystacks: Array<[string, string[]]> = [
      ['service log', strings(s.stack.logs)],
      ['audit file', strings(fileRecords)],
      ['audit query store', strings(query)],
    ];
    const found: string[] = [];
    for (const [where, texts] of haystacks) {
      for (const [value, what] of secrets) {
        const hit = texts.find((text) => text.includes(value));
        if (hit !== undefined) found.push(`${what} in the ${where}: …${hit.slice(0, 120)}…`);
      }
    }
    assert.deepEqual(found, [], `secrets leaked:\n${found.join('\n')}`);
    // The raw file too (a secret split across fields would not be in one string, but in the line).
    for (const [value, what] of secrets) assert.ok(!fileText.includes(value), `${what} in the raw audit file`);
  } finally {
    if (!closed) await s.stack.close();
  }
});
