import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  enableTotp,
  enrollDirectly,
  expectStatus,
  factorsConfig,
  GENEROUS_BUDGETS,
  MERCHANT,
  MERCHANT_PHONE,
  ownerMessages,
  PASSWORD,
  rawRequest,
  settleOwnerMessages,
  totpAt,
  withClockedStack,
  type ClockedStack,
} from '../helpers/two-factor.ts';

/**
 * ONE message to the account's owner per security event (src/alerts/owner-message.ts, README
 * "What the owner is told"): with alerts on, the alert (in the account's language) and no legacy
 * notice; with the covering alert kind off, or alerts off, the legacy English notice and no alert.
 * Never two, never none. The attack notice / lockout alert pair is tested in
 * test/security/t21-lockout-abuse.test.ts, passkeys in passkeys-api.test.ts.
 */

const STEP = 30_000;
const TOKEN = randomBytes(24).toString('base64url');

function tokenFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'spg-owner-message-')), 'token');
  writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
  return file;
}

type Via = 'alert' | 'notification';

const VARIANTS: ReadonlyArray<{ readonly name: string; readonly alerts?: Record<string, unknown>; readonly via: Via }> = [
  { name: 'alerts on (the default)', via: 'alert' },
  { name: 'factor_changed and support_action off', alerts: { events: { factor_changed: false, support_action: false } }, via: 'notification' },
  { name: 'alerts off', alerts: { enabled: false }, via: 'notification' },
];

/** What each event's one message is called: the alert's (zh-CN, the owner's language) and the legacy notice's (English). */
const SUBJECTS = {
  enabled: { alert: /安全提醒：已开启双重验证/, notification: /Two-factor authentication was turned on/ },
  codes: { alert: /安全提醒：已生成新的恢复码/, notification: /New recovery codes were created/ },
  disabled: { alert: /安全提醒：已关闭双重验证/, notification: /Two-factor authentication was turned off/ },
  reset: { alert: /安全提醒：客服重置了双重验证/, notification: /Two-factor authentication was reset/ },
  destination: { alert: /安全提醒：客服更改了验证码的接收方式/, notification: /verification destination was changed/ },
} as const;

/** Checks that exactly one new owner message reached MERCHANT since the last call, of the expected route and words. */
function ledger(s: ClockedStack, via: Via) {
  let seen = 0;
  return async (event: keyof typeof SUBJECTS): Promise<void> => {
    await settleOwnerMessages(s.stack.guard);
    const all = ownerMessages(s.stack.outboxFile, MERCHANT);
    const fresh = all.slice(seen);
    seen = all.length;
    assert.equal(fresh.length, 1, `${event}: exactly one message to the owner, got ${JSON.stringify(fresh.map((m) => [m.purpose, m.subject]))}`);
    const message = fresh[0];
    assert.equal(message?.channel, 'email');
    assert.equal(message?.purpose, via, `${event}: sent as ${via}`);
    assert.match(String(message?.subject), SUBJECTS[event][via]);
    if (via === 'alert') assert.equal(message?.lang, 'zh-CN', `${event}: the alert is in the language the owner signs in with`);
    else assert.equal(message?.lang, undefined, `${event}: the legacy notice (English only)`);
  };
}

describe('one message to the owner per event', () => {
  for (const variant of VARIANTS) {
    test(`${variant.name}: 2FA on, new recovery codes, 2FA off, support reset, support destination change: one ${variant.via} each`, () =>
      withClockedStack(
        {
          config: {
            factors: factorsConfig({ send_budget: GENEROUS_BUDGETS, sms_countries: ['US', 'CA'] }).factors,
            admin: { host: '127.0.0.1', port: 0, tokens: [{ name: 'support', token: { file: tokenFile() } }] },
            ...(variant.alerts ? { alerts: variant.alerts } : {}),
          },
        },
        async (s) => {
          const told = ledger(s, variant.via);
          const admin = (method: string, path: string, body: unknown) =>
            rawRequest(`${s.stack.adminUrl}/admin/users/${encodeURIComponent(MERCHANT)}${path}`, {
              method,
              headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
              body: JSON.stringify(body),
            });
          const client = s.client({ 'accept-language': 'zh-CN' });
          expectStatus(await client.login(MERCHANT), 200, 'sign-in (in Chinese)');

          const enrolled = await enableTotp(client, s.enroll);
          await told('enabled');

          s.clock.advance(STEP);
          expectStatus(await client.recoveryStart(), 200, 'recovery/start');
          expectStatus(await client.recoveryConfirm(totpAt(enrolled.secret, s.clock.now())), 200, 'recovery/confirm');
          await told('codes');

          s.clock.advance(STEP);
          expectStatus(await client.disableStart(PASSWORD), 200, 'disable/start');
          expectStatus(await client.disableVerify(totpAt(enrolled.secret, s.clock.now())), 200, 'disable/verify');
          expectStatus(await client.disableConfirm(), 200, 'disable/confirm');
          await told('disabled');

          await enrollDirectly(s.stack, MERCHANT, 'email', MERCHANT, s.clock.now());
          expectStatus(await admin('POST', '/2fa/reset', { reason: 'ticket 1: lost phone' }), 200, 'support reset');
          await told('reset');

          await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
          expectStatus(await admin('PUT', '/2fa/destination', { destination: '+15555550177', reason: 'ticket 2: new phone' }), 200, 'support destination');
          await told('destination');
        },
      ));
  }
});
