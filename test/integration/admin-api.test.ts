import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAudit } from '../../src/audit/audit.ts';
import { OPEN_POLICY, startStack, type Stack, type StackOptions } from '../helpers/stack.ts';
import {
  enableTotp,
  enrollDirectly,
  expectStatus,
  factorsConfig,
  GENEROUS_BUDGETS,
  GuardClient,
  lastCode,
  MERCHANT,
  MERCHANT_PHONE,
  ownerMessages,
  settleOwnerMessages,
  OWNER,
  rawRequest,
  type ApiReply,
} from '../helpers/two-factor.ts';

/**
 * The support API on the admin listener (DESIGN §5): bearer tokens, each operation with its audit
 * record, and the refusals (401/400/404/409/413/415), against a real stack with the demo app.
 */

const SUPPORT_TOKEN = randomBytes(32).toString('base64url');
const OTHER_TOKEN = randomBytes(32).toString('base64url');

function tokenFile(token: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'spg-admin-token-'));
  const file = join(dir, 'token');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return file;
}

interface AdminStack {
  readonly stack: Stack;
  readonly audit: MemoryAudit;
  call(method: string, path: string, body?: unknown, options?: { token?: string | null; headers?: Record<string, string>; raw?: string }): Promise<ApiReply>;
}

async function startAdminStack(
  tokens: Array<{ name: string; token: string }> = [{ name: 'support', token: SUPPORT_TOKEN }],
  options: StackOptions = {},
): Promise<AdminStack> {
  const audit = new MemoryAudit(Date.now);
  const { factors } = factorsConfig({ send_budget: GENEROUS_BUDGETS, sms_countries: ['US', 'CA'], failures: { lockout_after: 2 } });
  const stack = await startStack({
    ...options,
    config: {
      factors,
      admin: { host: '127.0.0.1', port: 0, tokens: tokens.map((t) => ({ name: t.name, token: { file: tokenFile(t.token) } })) },
      ...options.config,
    },
    start: { audit, ...options.start },
  });
  return {
    stack,
    audit,
    call: (method, path, body, opts = {}) => {
      const token = opts.token === undefined ? SUPPORT_TOKEN : opts.token;
      const headers: Record<string, string> = { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...opts.headers };
      const text = opts.raw ?? (body === undefined ? undefined : JSON.stringify(body));
      if (text !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
      return rawRequest(`${stack.adminUrl}${path}`, { method, headers, ...(text !== undefined ? { body: text } : {}) });
    },
  };
}

const user = (email: string): string => `/admin/users/${encodeURIComponent(email)}`;


/** The owner's messages about security events to `to` (one per event: the alert, else the notice). */
async function toldIn(stack: Stack, to: string) {
  await settleOwnerMessages(stack.guard);
  return ownerMessages(stack.outboxFile, to);
}

describe('admin API: tokens', () => {
  let s: AdminStack;
  before(async () => {
    s = await startAdminStack([
      { name: 'support', token: SUPPORT_TOKEN },
      { name: 'rotated', token: OTHER_TOKEN },
    ]);
  });
  after(() => s.stack.close());

  test('no Authorization header: 401 with WWW-Authenticate: Bearer, on known and unknown admin paths alike', async () => {
    for (const path of [user(MERCHANT), '/admin/audit', '/admin/nope', '/admin']) {
      const r = await s.call('GET', path, undefined, { token: null });
      assert.equal(r.status, 401, path);
      assert.match(String(r.headers['www-authenticate']), /^Bearer realm=/);
      assert.equal(r.body['error'], 'unauthorized');
    }
  });

  test('a malformed header or a wrong token: 401 invalid_token', async () => {
    for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer', `Bearer ${SUPPORT_TOKEN} extra`, `Bearer ${SUPPORT_TOKEN.slice(0, -1)}`, `Bearer ${SUPPORT_TOKEN}x`]) {
      const r = await s.call('GET', user(MERCHANT), undefined, { token: null, headers: { authorization } });
      assert.equal(r.status, 401, authorization);
      assert.match(String(r.headers['www-authenticate']), /error="invalid_token"/);
    }
  });

  test('every configured token works; the actor in the audit is the token name; the scheme is case-insensitive', async () => {
    await enrollDirectly(s.stack, OWNER, 'email', OWNER, s.stack.clock.now());
    expectStatus(await s.call('GET', user(OWNER)), 200, 'status with the support token');
    const r = await s.call('POST', `${user(OWNER)}/sessions/revoke`, { reason: 'ticket 1' }, { token: null, headers: { authorization: `bearer ${OTHER_TOKEN}` } });
    expectStatus(r, 200, 'revoke with the rotated token');
    const revoked = s.audit.all().find((e) => e.event === 'sessions_revoked');
    assert.equal(revoked?.actor, 'admin:rotated');
  });

  test('health and readiness need no token; unknown admin paths with a token are 404', async () => {
    assert.equal((await s.call('GET', '/healthz', undefined, { token: null })).status, 200);
    assert.equal((await s.call('GET', '/readyz', undefined, { token: null })).status, 200);
    const r = await s.call('GET', '/admin/nope');
    assert.equal(r.status, 404);
    assert.equal((await s.call('DELETE', user(MERCHANT))).status, 405);
  });
});

test('a removed token stops working after the restart that removes it', async () => {
  const both = await startAdminStack([
    { name: 'old', token: SUPPORT_TOKEN },
    { name: 'new', token: OTHER_TOKEN },
  ]);
  try {
    assert.equal((await both.call('GET', '/admin/audit', undefined, { token: SUPPORT_TOKEN })).status, 200);
  } finally {
    await both.stack.close();
  }
  const rotated = await startAdminStack([{ name: 'new', token: OTHER_TOKEN }]);
  try {
    assert.equal((await rotated.call('GET', '/admin/audit', undefined, { token: SUPPORT_TOKEN })).status, 401);
    assert.equal((await rotated.call('GET', '/admin/audit', undefined, { token: OTHER_TOKEN })).status, 200);
  } finally {
    await rotated.stack.close();
  }
});

test('no token configured: the admin API is off (503), health still answers', async () => {
  const s = await startAdminStack([]);
  try {
    const r = await s.call('GET', user(MERCHANT));
    assert.equal(r.status, 503);
    assert.equal(r.body['error'], 'admin_disabled');
    assert.match(String(r.body['message']), /admin API disabled: no token configured/);
    assert.equal((await s.call('GET', '/healthz', undefined, { token: null })).status, 200);
  } finally {
    await s.stack.close();
  }
});

test('the public listener never serves the admin API: /admin/... is an upstream path decided by the policy', async () => {
  const s = await startAdminStack(undefined, { policy: OPEN_POLICY });
  try {
    await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.stack.clock.now());
    const reset = await rawRequest(`${s.stack.url}${user(MERCHANT)}/2fa/reset`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SUPPORT_TOKEN}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ reason: 'through the front door' }),
    });
    // The demo app has no such route: its own 404, not the admin API's answer.
    assert.equal(reset.status, 404);
    assert.equal(reset.body['error'], undefined);
    const status = await rawRequest(`${s.stack.url}${user(MERCHANT)}`, { headers: { authorization: `Bearer ${SUPPORT_TOKEN}`, accept: 'application/json' } });
    assert.equal(status.status, 404);
    assert.equal(status.text.includes(MERCHANT_PHONE), false);
    assert.notEqual(await s.stack.guard.durable.getEnrollment(MERCHANT), null, 'nothing was reset');
    assert.equal(s.audit.all().length, 0);
  } finally {
    await s.stack.close();
  }
  const guarded = await startAdminStack();
  try {
    // With the demo policy, /admin/... needs a sidecar sign-in like any other upstream path.
    const r = await rawRequest(`${guarded.stack.url}${user(MERCHANT)}`, { headers: { authorization: `Bearer ${SUPPORT_TOKEN}`, accept: 'application/json' } });
    assert.equal(r.status, 401);
    assert.equal(r.body['error'], 'login_required');
  } finally {
    await guarded.stack.close();
  }
});

describe('admin API: operations', () => {
  let s: AdminStack;
  before(async () => {
    s = await startAdminStack();
  });
  after(() => s.stack.close());

  test('status: 400 for a path that is not an email, 404 unknown_user for an account the sidecar never saw', async () => {
    const bad = await s.call('GET', '/admin/users/not-an-email');
    assert.equal(bad.status, 400);
    assert.equal(bad.body['error'], 'invalid_email');
    const unknown = await s.call('GET', user('nobody@example.com'));
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body['error'], 'unknown_user');
    assert.equal((await s.call('POST', `${user('nobody@example.com')}/unlock`, { reason: 'x' })).status, 404);
    assert.equal((await s.call('POST', `${user('nobody@example.com')}/2fa/reset`, { reason: 'x' })).status, 404);
  });

  test('status of an SMS enrollment: method, full and masked destination, dates, recovery codes, lockout', async () => {
    const now = Date.parse('2026-03-01T10:00:00Z');
    await enrollDirectly(s.stack, 'sms-user@example.com', 'sms', '+15555550142', now);
    const r = expectStatus(await s.call('GET', user('SMS-User@Example.com')), 200, 'status');
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.deepEqual(r.body, {
      user: 'sms-user@example.com',
      known_by: ['enrollment'],
      two_factor: {
        enabled: true,
        method: 'sms',
        destination: '+15555550142',
        destination_masked: '+1 •••• ••42',
        created_at: '2026-03-01T10:00:00.000Z',
        updated_at: '2026-03-01T10:00:00.000Z',
        recovery_codes_left: 0,
      },
      lockout: {
        second_factor: { locked: false, consecutive_failures: 0, locked_for_seconds: null, banned_for_seconds: null },
        login: { banned_for_seconds: null, recent_failures: 0 },
      },
      last_sign_in: null,
      remembered_browsers: [],
    });
  });

  test('reset 2FA (lost authenticator): enrollment gone, sessions ended, user notified, audited; the reason is required', async () => {
    const client = new GuardClient(s.stack.url);
    expectStatus(await client.login(MERCHANT), 200, 'login');
    const enrolled = await enableTotp(client, { outboxFile: s.stack.outboxFile });
    assert.equal(enrolled.recoveryCodes.length > 0, true);
    expectStatus(await client.me(), 200, 'signed in');
    const before = expectStatus(await s.call('GET', user(MERCHANT)), 200, 'status');
    assert.equal((before.body['two_factor'] as { method: string }).method, 'totp');
    assert.ok((before.body['known_by'] as string[]).includes('enrollment'), JSON.stringify(before.body['known_by']));

    for (const body of [undefined, {}, { reason: '' }, { reason: '   ' }]) {
      const r = await s.call('POST', `${user(MERCHANT)}/2fa/reset`, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body['error'], 'reason_required');
      assert.match(String(r.body['message']), /reason/);
    }
    assert.equal((await s.call('POST', `${user(MERCHANT)}/2fa/reset`, { reason: 'x'.repeat(501) })).body['error'], 'invalid_reason');
    assert.equal((await s.call('POST', `${user(MERCHANT)}/2fa/reset`, { reason: 42 })).body['error'], 'invalid_reason');
    assert.notEqual(await s.stack.guard.durable.getEnrollment(MERCHANT), null, 'refused requests change nothing');

    const toldBefore = (await toldIn(s.stack, MERCHANT)).length;
    const r = expectStatus(await s.call('POST', `${user(MERCHANT)}/2fa/reset`, { reason: 'ticket 4711: lost phone, identity checked' }), 200, 'reset');
    assert.equal(r.body['previous_method'], 'totp');
    assert.equal(r.body['sessions_revoked'], true);
    assert.equal(r.body['notified'], true);
    assert.equal(await s.stack.guard.durable.getEnrollment(MERCHANT), null);
    assert.equal(await s.stack.guard.durable.remainingRecoveryCodes(MERCHANT), 0);
    assert.equal((await client.me()).status, 401, 'the session ended');
    const mails = (await toldIn(s.stack, MERCHANT)).slice(toldBefore);
    assert.equal(mails.length, 1, `one message to the owner: ${JSON.stringify(mails)}`);
    const mail = mails[0];
    assert.equal(mail?.purpose, 'alert', 'the support_action alert is the message');
    assert.equal(mail?.alert, 'support_action');
    assert.equal(mail?.lang, 'en');
    assert.match(String(mail?.subject), /support reset two-factor authentication/);

    const events = s.audit.all().filter((e) => e.user === MERCHANT && e.actor === 'admin:support');
    assert.deepEqual(
      events.map((e) => e.event),
      ['2fa_reset', 'admin_action'],
    );
    for (const e of events) {
      assert.equal(e.reason, 'ticket 4711: lost phone, identity checked');
      assert.equal(e.outcome, 'success');
      assert.ok(e.requestId);
    }
    assert.equal(events[1]?.details?.['action'], '2fa_reset');
    assert.equal(JSON.stringify(events).includes(enrolled.base32), false, 'no secret in the audit');

    // The merchant now signs in with the password alone, and a second reset has nothing to do.
    const again = new GuardClient(s.stack.url);
    const login = expectStatus(await again.login(MERCHANT), 200, 'password-only login');
    assert.equal(login.body['status'], 'authenticated');
    const twice = await s.call('POST', `${user(MERCHANT)}/2fa/reset`, { reason: 'again' });
    assert.equal(twice.status, 409);
    assert.equal(twice.body['error'], 'not_enrolled');
  });

  test('change the SMS phone: E.164 and the country allow-list checked, sessions ended, notified, audited with masked numbers', async () => {
    const account = 'phone-change@example.com';
    await enrollDirectly(s.stack, account, 'sms', '+15555550142', s.stack.clock.now());
    const path = `${user(account)}/2fa/destination`;
    const invalid = await s.call('PUT', path, { destination: '555 0199', reason: 'ticket 12' });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body['error'], 'invalid_phone');
    const abroad = await s.call('PUT', path, { destination: '+33 6 12 34 56 78', reason: 'ticket 12' });
    assert.equal(abroad.status, 400);
    assert.equal(abroad.body['error'], 'country_not_allowed');
    assert.match(String(abroad.body['message']), /numbers in FR \(not in factors\.sms_countries\)/);
    const missing = await s.call('PUT', path, { reason: 'ticket 12' });
    assert.equal(missing.body['error'], 'destination_required');
    assert.equal((await s.call('PUT', path, { destination: '+1 555 555 0177' })).body['error'], 'reason_required');
    assert.equal((await s.stack.guard.durable.getEnrollment(account))?.destination, '+15555550142');

    const r = expectStatus(await s.call('PUT', path, { destination: '+1 (555) 555-0177', reason: 'ticket 12: new phone' }), 200, 'set destination');
    assert.equal(r.body['destination'], '+15555550177');
    assert.equal(r.body['destination_masked'], '+1 •••• ••77');
    assert.equal(r.body['sessions_revoked'], true);
    assert.equal((await s.stack.guard.durable.getEnrollment(account))?.destination, '+15555550177');
    const told1 = await toldIn(s.stack, account);
    assert.equal(told1.length, 1, JSON.stringify(told1));
    assert.equal(told1[0]?.alert, 'support_action');
    assert.match(String(told1[0]?.subject), /support changed where your codes go/);
    const changed = s.audit.all().find((e) => e.event === 'destination_changed' && e.user === account);
    assert.deepEqual(changed?.details, { method: 'sms', from: '+1 •••• ••42', to: '+1 •••• ••77' });
    assert.equal(JSON.stringify(s.audit.all()).includes('+15555550177'), false, 'the audit keeps masked numbers only');
  });

  test('change the email destination; a TOTP enrollment has none (409)', async () => {
    const account = 'mail-change@example.com';
    await enrollDirectly(s.stack, account, 'email', 'old-box@example.com', s.stack.clock.now());
    const path = `${user(account)}/2fa/destination`;
    assert.equal((await s.call('PUT', path, { destination: 'not an address', reason: 't' })).body['error'], 'invalid_destination');
    const r = expectStatus(await s.call('PUT', path, { destination: 'New-Box@Example.com', reason: 't' }), 200, 'email destination');
    assert.equal(r.body['destination'], 'new-box@example.com');
    // The account and the old address are both told.
    assert.equal((await toldIn(s.stack, account)).length, 1);
    assert.equal((await toldIn(s.stack, 'old-box@example.com')).length, 1);
    assert.equal((await toldIn(s.stack, 'new-box@example.com')).length, 0, 'the new address alone is never the one told');

    const totpUser = 'totp-user@example.com';
    await s.stack.guard.durable.enable(
      { user: totpUser, method: 'totp', destination: null, totp: { secret: { keyId: '1', data: 'AAAA' }, parameters: { algorithm: 'SHA1', digits: 6, period: 30 } }, createdAt: 1, updatedAt: 1 },
      [],
    );
    const totp = await s.call('PUT', `${user(totpUser)}/2fa/destination`, { destination: '+15555550100', reason: 't' });
    assert.equal(totp.status, 409);
    assert.equal(totp.body['error'], 'no_destination');
    assert.match(String(totp.body['message']), /authenticator app.*no destination.*reset 2FA/);
  });

  test('bad bodies: bad JSON 400, unknown fields 400, not JSON 415, too big 413', async () => {
    const account = 'bodies@example.com';
    await enrollDirectly(s.stack, account, 'email', account, s.stack.clock.now());
    const path = `${user(account)}/sessions/revoke`;
    const badJson = await s.call('POST', path, undefined, { raw: '{"reason": ' });
    assert.equal(badJson.status, 400);
    assert.equal(badJson.body['error'], 'bad_json');
    assert.equal((await s.call('POST', path, undefined, { raw: '["reason"]' })).body['error'], 'bad_json');
    const unknown = await s.call('POST', path, { reason: 'x', force: true });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body['error'], 'unknown_fields');
    assert.match(String(unknown.body['message']), /"force"/);
    const form = await s.call('POST', path, undefined, { raw: 'reason=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.status, 415);
    const big = await s.call('POST', path, { reason: 'x', pad: 'y'.repeat(64 * 1024) });
    assert.equal(big.status, 413);
    assert.equal(big.body['error'], 'payload_too_large');
    assert.equal(s.audit.all().filter((e) => e.user === account).length, 0, 'nothing was done');
  });

  test('revoke sessions: every session of the account ends, other accounts keep theirs', async () => {
    await s.stack.guard.durable.disable(MERCHANT);
    const merchant = new GuardClient(s.stack.url);
    expectStatus(await merchant.login(OWNER), 200, 'login owner');
    const other = new GuardClient(s.stack.url);
    expectStatus(await other.login('merchant@example.com'), 200, 'login merchant');
    expectStatus(await merchant.me(), 200, 'owner signed in');
    expectStatus(await other.me(), 200, 'merchant signed in');
    // A password-only sign-in leaves no risk history; the audit trail's login event makes the account known.
    const status = expectStatus(await s.call('GET', user(OWNER)), 200, 'owner status');
    assert.ok((status.body['known_by'] as string[]).includes('audit'), JSON.stringify(status.body));
    const r = expectStatus(await s.call('POST', `${user(OWNER)}/sessions/revoke`, { reason: 'suspicious activity, ticket 99' }), 200, 'revoke');
    assert.equal(r.body['sessions_revoked'], true);
    assert.equal((await merchant.me()).status, 401);
    assert.equal((await other.me()).status, 200);
    const events = s.audit.all().filter((e) => e.user === OWNER && e.reason === 'suspicious activity, ticket 99');
    assert.deepEqual(events.map((e) => e.event), ['sessions_revoked', 'admin_action']);
  });

  test('audit: events of one account, newest first, with filters; bad parameters are 400', async () => {
    const r = expectStatus(await s.call('GET', `/admin/audit?user=${encodeURIComponent(OWNER)}`), 200, 'audit');
    const events = r.body['events'] as Array<{ event: string; user: string; time: string }>;
    assert.ok(events.length >= 2);
    assert.ok(events.every((e) => e.user === OWNER));
    assert.ok(events.every((e, i) => i === 0 || e.time <= (events[i - 1] as { time: string }).time));
    const only = expectStatus(await s.call('GET', `/admin/audit?user=${encodeURIComponent(OWNER)}&event=admin_action&limit=1`), 200, 'filtered');
    assert.deepEqual((only.body['events'] as Array<{ event: string }>).map((e) => e.event), ['admin_action']);
    assert.equal((await s.call('GET', '/admin/audit?limit=0')).body['error'], 'invalid_limit');
    assert.equal((await s.call('GET', '/admin/audit?event=nope')).body['error'], 'invalid_event');
    assert.equal((await s.call('GET', '/admin/audit?since=yesterday')).body['error'], 'invalid_since');
    assert.equal((await s.call('GET', '/admin/audit?usr=x')).body['error'], 'unknown_parameter');
    assert.equal((await s.call('GET', '/admin/audit?user=a@b.example&user=c@d.example')).body['error'], 'bad_parameter');
    assert.equal((await s.call('GET', '/admin/audit?user=nope')).body['error'], 'invalid_email');
  });
});

test('unlock: lifts the second-factor lockout and the password ban of the account', async () => {
  const s = await startAdminStack();
  try {
    await enrollDirectly(s.stack, MERCHANT, 'email', MERCHANT, s.stack.clock.now());
    const locked = new GuardClient(s.stack.url);
    assert.equal((await locked.login(MERCHANT)).body['status'], 'verification_required');
    // lockout_after is 2: two wrong codes lock the factor, then even the right code is refused.
    assert.equal((await locked.verify('000000')).status, 401);
    assert.equal((await locked.verify('000001')).status, 401);
    const code = lastCode(s.stack.outboxFile, MERCHANT);
    assert.equal((await locked.verify(code)).status, 429);
    const status = expectStatus(await s.call('GET', user(MERCHANT)), 200, 'status');
    const lockout = status.body['lockout'] as { second_factor: { locked: boolean; consecutive_failures: number } };
    assert.equal(lockout.second_factor.locked, true);
    assert.equal(lockout.second_factor.consecutive_failures, 2);

    // Three wrong passwords ban the account's sign-in (regulation.account.max_failures defaults to 3).
    for (let i = 0; i < 3; i++) assert.equal((await new GuardClient(s.stack.url).login(MERCHANT, 'wrong-password')).status, 401);
    assert.equal((await new GuardClient(s.stack.url).login(MERCHANT)).status, 429);
    const banned = expectStatus(await s.call('GET', user(MERCHANT)), 200, 'status');
    assert.equal(typeof (banned.body['lockout'] as { login: { banned_for_seconds: unknown } }).login.banned_for_seconds, 'number');

    assert.equal((await s.call('POST', `${user(MERCHANT)}/unlock`, {})).body['error'], 'reason_required');
    const r = expectStatus(await s.call('POST', `${user(MERCHANT)}/unlock`, { reason: 'ticket 5: verified by phone call' }), 200, 'unlock');
    assert.deepEqual(r.body['was'], { second_factor_locked: true, consecutive_failures: 2, second_factor_banned: false, login_banned: true });
    const after = expectStatus(await s.call('GET', user(MERCHANT)), 200, 'status after');
    assert.deepEqual(after.body['lockout'], {
      second_factor: { locked: false, consecutive_failures: 0, locked_for_seconds: null, banned_for_seconds: null },
      login: { banned_for_seconds: null, recent_failures: 0 },
    });
    const fresh = new GuardClient(s.stack.url);
    assert.equal(expectStatus(await fresh.login(MERCHANT), 200, 'login after unlock').body['status'], 'verification_required');
    expectStatus(await fresh.verify(lastCode(s.stack.outboxFile, MERCHANT)), 200, 'code after unlock');
    const unlocked = s.audit.all().find((e) => e.event === 'unlocked');
    assert.equal(unlocked?.actor, 'admin:support');
    assert.equal(unlocked?.reason, 'ticket 5: verified by phone call');
  } finally {
    await s.stack.close();
  }
});
