import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEvent } from '../../../src/audit/audit.ts';
import type { Channel, Message } from '../../../src/channels/channel.ts';
import { AlertDispatcher, type AlertConnections, type AlertOutcome } from '../../../src/alerts/dispatcher.ts';
import { watchDurable } from '../../../src/alerts/watch.ts';
import { statedLanguage } from '../../../src/alerts/language.ts';
import { alertWords } from '../../../src/alerts/messages.tsx';
import { alertsSchema, type AlertsConfig } from '../../../src/config/schema/alerts.ts';
import { ALERT_KINDS, ALERT_RULES, alertsFor } from '../../../src/alerts/table.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { en } from '../../../src/i18n/en.ts';
import { zhCN } from '../../../src/i18n/zh-cn.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import type { Enrollment } from '../../../src/store/durable.ts';
import { MemoryStore } from '../../../src/store/memory.ts';

const config = (input: Record<string, unknown> = {}): AlertsConfig => alertsSchema.parse(input);
const USER = 'merchant@example.com';
const record = (event: AuditEvent['event'], extra: Partial<AuditEvent> = {}): AuditEvent => ({ time: '2026-01-01T00:00:00.000Z', event, outcome: 'success', user: USER, ...extra });
const kinds = (event: AuditEvent, c = config()): string[] => alertsFor(event, c).map((a) => `${a.kind}:${a.topic}`);

describe('alerts: the audit event → alert table', () => {
  test('each alerting audit event maps to its kind and wording', () => {
    assert.deepEqual(kinds(record('login_success', { details: { new_device: true, new_network: false } })), ['new_browser:new_sign_in']);
    assert.deepEqual(kinds(record('login_success', { details: { new_device: false, new_network: true } })), ['new_browser:new_sign_in']);
    assert.deepEqual(kinds(record('2fa_enabled', { details: { method: 'sms' } })), ['factor_changed:two_factor_on']);
    assert.deepEqual(kinds(record('2fa_disabled')), ['factor_changed:two_factor_off']);
    assert.deepEqual(kinds(record('recovery_codes_regenerated')), ['factor_changed:recovery_codes_replaced']);
    assert.deepEqual(kinds(record('recovery_code_used', { details: { remaining: 5 } })), ['recovery_code_used:recovery_code_used']);
    assert.deepEqual(kinds(record('recovery_code_used', { details: { remaining: 2 } })), ['recovery_code_used:recovery_code_used', 'recovery_codes_low:recovery_codes_low']);
    assert.deepEqual(kinds(record('ban', { details: { subject: 'account' } })), ['lockout:sign_in_paused']);
    assert.deepEqual(kinds(record('ban', { details: { subject: 'device' } })), ['lockout:sign_in_paused']);
    assert.deepEqual(kinds(record('ban', { details: { subject: 'throttle' } })), ['lockout:sign_in_slowed']);
    assert.deepEqual(kinds(record('factor_locked')), ['lockout:factor_locked']);
    const support = { actor: 'admin:helpdesk' };
    assert.deepEqual(kinds(record('2fa_reset', support)), ['support_action:support_reset']);
    assert.deepEqual(kinds(record('destination_changed', support)), ['support_action:support_destination']);
    assert.deepEqual(kinds(record('sessions_revoked', { actor: 'cli:root' })), ['support_action:support_sessions']);
    assert.deepEqual(kinds(record('session_revoked', { actor: 'admin:token' })), ['support_action:support_sessions'], 'support ending one session');
    assert.deepEqual(kinds(record('unlocked', support)), ['support_action:support_unlock']);
    // Every kind has at least one row, and every row's topic has words in both languages.
    for (const kind of ALERT_KINDS) assert.ok(ALERT_RULES.some((rule) => rule.kind === kind), kind);
    for (const rule of ALERT_RULES) {
      assert.equal(typeof en.alerts.titles[rule.topic], 'string', rule.topic);
      assert.notEqual(zhCN.alerts.texts[rule.topic], en.alerts.texts[rule.topic], rule.topic);
    }
  });

  test('no alert: the first sign-in, a known browser and network, an address ban, the user acting on their own account, events without a user', () => {
    assert.deepEqual(kinds(record('login_success', { details: { first_sign_in: true } })), []);
    assert.deepEqual(kinds(record('login_success', { details: { first_sign_in: true, new_device: true } })), []);
    assert.deepEqual(kinds(record('login_success', { details: { new_device: false, new_network: false } })), []);
    assert.deepEqual(kinds(record('login_success')), [], 'no novelty facts (history unreadable): no alert');
    assert.deepEqual(kinds(record('ban', { details: { subject: 'address' } })), []);
    assert.deepEqual(kinds(record('sessions_revoked')), [], 'the user ending their own sessions is not a support action');
    assert.deepEqual(kinds(record('session_revoked')), [], 'the user ending one of their own sessions is not a support action');
    assert.deepEqual(kinds(record('code_sent')), []);
    const { user: _user, ...anonymous } = record('2fa_disabled');
    assert.deepEqual(kinds(anonymous as AuditEvent), []);
  });

  test('a disabled kind, alerts off, and the low-codes threshold follow the config', () => {
    const off = config({ events: { recovery_code_used: false } });
    assert.deepEqual(kinds(record('recovery_code_used', { details: { remaining: 1 } }), off), ['recovery_codes_low:recovery_codes_low']);
    assert.deepEqual(kinds(record('2fa_disabled'), config({ enabled: false })), []);
    assert.deepEqual(kinds(record('recovery_code_used', { details: { remaining: 4 } }), config({ recovery_codes_low_threshold: 4 })).length, 2);
    assert.deepEqual(kinds(record('recovery_code_used', { details: { remaining: 3 } }), config({ recovery_codes_low_threshold: 2 })).length, 1);
  });

  test('the config defaults', () => {
    const c = config();
    assert.equal(c.enabled, true);
    assert.equal(c.recovery_codes_low_threshold, 2);
    assert.equal(c.rate_limit.window, 15 * 60_000);
    assert.equal(c.rate_limit.max, 3);
    assert.equal(c.default_language, 'en');
    assert.deepEqual(Object.keys(c.events).sort(), [...ALERT_KINDS].sort());
    assert.throws(() => config({ events: { unknown_kind: true } }));
    assert.throws(() => config({ default_language: 'fr' }));
  });
});

describe('alerts: words', () => {
  const context = { product: 'SmartPush', support: 'help@smartpush.example', securityUrl: 'https://shop.example/_guard/security' };

  test('English and Chinese, with the "this was not me" advice, and no code or secret', () => {
    const intent = alertsFor(record('recovery_code_used', { details: { remaining: 1, purpose: 'login' } }), config())[0];
    assert.ok(intent);
    const english = alertWords(intent, { lang: 'en', ...context });
    assert.match(english.subject, /SmartPush security alert: a recovery code was used/);
    assert.match(english.text, /change your password in SmartPush/);
    assert.match(english.text, /https:\/\/shop\.example\/_guard\/security/);
    assert.match(english.text, /help@smartpush\.example/);
    assert.match(english.text, /Recovery codes left: 1\./);
    assert.match(english.html, /<html lang="en">/);
    const chinese = alertWords(intent, { lang: 'zh-CN', ...context });
    assert.match(chinese.subject, /安全提醒/);
    assert.match(chinese.text, /修改密码/);
    assert.match(chinese.html, /<html lang="zh-CN">/);
    assert.match(chinese.sms, /https:\/\/shop\.example\/_guard\/security/);
  });

  test('a recovery code, a TOTP code or a token given in the record never reaches the words', () => {
    const secrets = { code: 'ABCD-EFGH-JKLM', recovery_code: 'ZXCV-BNMQ', token: 'tok_9f8e7d6c5b4a', otp: '493021' };
    for (const rule of ALERT_RULES) {
      const event = record(rule.event as AuditEvent['event'], {
        actor: 'admin:helpdesk',
        client: '198.51.100.23',
        userAgent: 'Mozilla/5.0 (Windows NT 10.0) Chrome/124.0',
        reason: 'ticket 493021',
        details: { ...secrets, remaining: 0, subject: 'throttle', new_device: true, method: 'sms', destination: '+15555550123' },
      });
      for (const intent of alertsFor(event, config())) {
        for (const lang of ['en', 'zh-CN'] as const) {
          const words = alertWords(intent, { lang, ...context });
          for (const part of [words.subject, words.text, words.html, words.sms]) {
            for (const secret of [...Object.values(secrets), '+15555550123', '198.51.100.23']) assert.ok(!part.includes(secret), `${rule.topic} (${lang}) shows ${secret}`);
          }
        }
      }
    }
    // A new sign-in names the browser family and the /24 network, never the full address.
    const intent = alertsFor(record('login_success', { client: '198.51.100.23', userAgent: 'Mozilla/5.0 (Windows NT 10.0) Chrome/124.0', details: { new_device: true } }), config())[0];
    assert.ok(intent);
    assert.match(alertWords(intent, { lang: 'en', ...context }).text, /From: chrome \/ windows, network 198\.51\.100\.0\/24/);
  });

  test('the language a request states: the switcher cookie, else a matching Accept-Language, else none', () => {
    assert.equal(statedLanguage({ cookie: 'spg_lang=zh-CN', 'accept-language': 'en' }), 'zh-CN');
    assert.equal(statedLanguage({ 'accept-language': 'zh-CN,zh;q=0.9' }), 'zh-CN');
    assert.equal(statedLanguage({ 'accept-language': 'en-GB' }), 'en');
    assert.equal(statedLanguage({ 'accept-language': 'fr-FR' }), undefined);
    assert.equal(statedLanguage({}), undefined);
  });
});

class Recorder implements Channel {
  readonly sent: Message[] = [];
  constructor(
    readonly name: string,
    private readonly fail = false,
  ) {}
  async send(message: Message): Promise<void> {
    if (this.fail) throw new Error('channel down');
    this.sent.push(message);
  }
  async close(): Promise<void> {}
}

function harness(options: { config?: Record<string, unknown>; enrollment?: Pick<Enrollment, 'method' | 'destination'> | null; emailFails?: boolean; seen?: boolean } = {}) {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  const email = new Recorder('outbox', options.emailFails ?? false);
  const sms = new Recorder('sms');
  const outcomes: Array<[string, AlertOutcome]> = [];
  let enrollment = options.enrollment ?? null;
  const durable = {
    getEnrollment: async () => (enrollment ? ({ user: USER, totp: null, createdAt: 0, updatedAt: 0, ...enrollment } as Enrollment) : null),
    disable: async (_user: string) => {
      enrollment = null;
      return true;
    },
    setDestination: async (_user: string, destination: string, _now: number) => {
      if (enrollment) enrollment = { ...enrollment, destination };
      return true;
    },
  };
  const dispatcher = new AlertDispatcher({
    config: config(options.config),
    product: 'SmartPush',
    support: 'help@smartpush.example',
    securityUrl: '/_guard/security',
    clock,
    logger: createLogger('silent'),
    onOutcome: (kind, outcome) => outcomes.push([kind, outcome]),
  });
  const connections: AlertConnections = {
    store,
    durable,
    accountSeen: async () => options.seen ?? true,
    contacts: { of: async (user) => ({ ok: true, email: user.includes('@') ? user : null }) },
    email,
    sms,
  };
  return { clock, store, email, sms, outcomes, dispatcher, connections, durable: watchDurable(durable, dispatcher) };
}

describe('alerts: the dispatcher', () => {
  test('rate-limited per account and kind on the injected clock', async () => {
    const h = harness({ config: { rate_limit: { window: '10m', max: 1 } } });
    h.dispatcher.connect(h.connections);
    const signIn = record('login_success', { details: { new_device: true } });
    h.dispatcher.push(signIn);
    h.dispatcher.push(signIn);
    h.dispatcher.push(record('2fa_disabled'));
    await h.dispatcher.idle();
    assert.equal(h.email.sent.filter((m) => m.alert?.kind === 'new_browser').length, 1, 'the second new-browser alert within the window is dropped');
    assert.equal(h.email.sent.filter((m) => m.alert?.kind === 'factor_changed').length, 1, 'another kind has its own budget');
    assert.ok(h.outcomes.some(([kind, outcome]) => kind === 'new_browser' && outcome === 'rate_limited'));
    h.clock.advance(9 * 60_000);
    h.dispatcher.push(signIn);
    await h.dispatcher.idle();
    assert.equal(h.email.sent.filter((m) => m.alert?.kind === 'new_browser').length, 1, 'still within the window');
    h.clock.advance(60_000 + 1);
    h.dispatcher.push(signIn);
    await h.dispatcher.idle();
    assert.equal(h.email.sent.filter((m) => m.alert?.kind === 'new_browser').length, 2, 'a new window allows one more');
  });

  test('queued before the channels are connected, then sent; the language learnt at sign-in is used later', async () => {
    const h = harness();
    h.dispatcher.push(record('login_success', { details: { first_sign_in: true, lang: 'zh-CN' } }));
    h.dispatcher.push(record('2fa_enabled', { details: { method: 'totp' } }));
    await h.dispatcher.idle();
    assert.equal(h.email.sent.length, 0);
    h.dispatcher.connect(h.connections);
    await h.dispatcher.idle();
    assert.equal(h.email.sent.length, 1, 'the first sign-in alerts no one; the 2FA change does');
    const [message] = h.email.sent;
    assert.equal(message?.to, USER);
    assert.equal(message?.purpose, 'alert');
    assert.deepEqual(message?.alert, { kind: 'factor_changed', lang: 'zh-CN' });
    assert.match(message?.subject ?? '', /已开启双重验证/);
  });

  test('SMS to the enrolled phone when SMS is the method; a destination change tells the old phone, never the new one', async () => {
    const h = harness({ enrollment: { method: 'sms', destination: '+15555550100' } });
    h.dispatcher.connect(h.connections);
    h.dispatcher.push(record('recovery_code_used', { details: { remaining: 6 } }));
    await h.dispatcher.idle();
    assert.deepEqual(h.sms.sent.map((m) => m.to), ['+15555550100']);
    assert.ok(h.sms.sent[0]?.text.length !== undefined && (h.sms.sent[0]?.text.length ?? 0) < 200);
    await h.durable.setDestination(USER, '+15555550199', 0);
    h.dispatcher.push(record('destination_changed', { actor: 'admin:helpdesk', details: { method: 'sms' } }));
    await h.dispatcher.idle();
    assert.deepEqual(h.sms.sent.map((m) => m.to), ['+15555550100', '+15555550100'], 'the old phone, not +15555550199');
    assert.deepEqual(h.email.sent.map((m) => m.to), [USER, USER]);
  });

  test('turning 2FA off (SMS) still texts the phone it used; without alerts.sms nothing is texted', async () => {
    const h = harness({ enrollment: { method: 'sms', destination: '+15555550100' } });
    h.dispatcher.connect(h.connections);
    await h.durable.disable(USER);
    h.dispatcher.push(record('2fa_disabled'));
    await h.dispatcher.idle();
    assert.deepEqual(h.sms.sent.map((m) => m.to), ['+15555550100']);
    assert.deepEqual(h.email.sent.map((m) => m.to), [USER]);
    const quiet = harness({ enrollment: { method: 'sms', destination: '+15555550100' }, config: { sms: false } });
    quiet.dispatcher.connect(quiet.connections);
    quiet.dispatcher.push(record('recovery_code_used', { details: { remaining: 5 } }));
    await quiet.dispatcher.idle();
    assert.deepEqual(quiet.sms.sent, []);
    assert.equal(quiet.email.sent.length, 1);
  });

  test('an email destination change tells the old address and the account, not the new address', async () => {
    const h = harness({ enrollment: { method: 'email', destination: 'old-box@example.com' } });
    h.dispatcher.connect(h.connections);
    await h.durable.setDestination(USER, 'new-box@example.com', 0);
    h.dispatcher.push(record('destination_changed', { actor: 'admin:helpdesk', details: { method: 'email' } }));
    await h.dispatcher.idle();
    assert.deepEqual(h.email.sent.map((m) => m.to).sort(), ['merchant@example.com', 'old-box@example.com']);
  });

  test('lock-outs of accounts never seen alert no one; a failing channel is counted, never thrown', async () => {
    const unknown = harness({ seen: false });
    unknown.dispatcher.connect(unknown.connections);
    unknown.dispatcher.push(record('ban', { details: { subject: 'account' } }));
    await unknown.dispatcher.idle();
    assert.equal(unknown.email.sent.length, 0);
    assert.deepEqual(unknown.outcomes, [['lockout', 'unknown_account']]);
    const failing = harness({ emailFails: true });
    failing.dispatcher.connect(failing.connections);
    failing.dispatcher.push(record('2fa_disabled'));
    failing.dispatcher.push(record('factor_locked'));
    await failing.dispatcher.idle();
    assert.deepEqual(failing.outcomes, [['factor_changed', 'failed'], ['lockout', 'failed']]);
  });

  test('the queue is bounded: when full, new alerts are dropped and counted', async () => {
    const h = harness({ config: { queue_size: 2 } });
    for (let i = 0; i < 4; i++) h.dispatcher.push(record('2fa_disabled', { user: `u${i}@example.com` }));
    assert.equal(h.outcomes.filter(([, outcome]) => outcome === 'overflow').length, 2);
    h.dispatcher.connect(h.connections);
    await h.dispatcher.idle();
    assert.deepEqual(h.email.sent.map((m) => m.to), ['u0@example.com', 'u1@example.com']);
    // At shutdown what cannot go out in the grace period is dropped and counted, never waited for.
    const stopping = harness();
    stopping.dispatcher.push(record('2fa_disabled'));
    stopping.dispatcher.push(record('factor_locked'));
    await stopping.dispatcher.close(0);
    assert.deepEqual(stopping.outcomes, [['factor_changed', 'dropped'], ['lockout', 'dropped']]);
    stopping.dispatcher.push(record('2fa_enabled'));
    stopping.dispatcher.connect(stopping.connections);
    await stopping.dispatcher.idle();
    assert.deepEqual(stopping.email.sent, [], 'nothing is taken after close');
  });
});
