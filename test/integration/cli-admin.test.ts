import { cryptoRandom } from '../../src/core/random.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newEncryptionKeys } from '../../src/factors/secret-box.ts';
import { SqliteDurableStore } from '../../src/store/sqlite.ts';
import { notifications, ownerMessages } from '../helpers/two-factor.ts';
import { systemClock } from '../../src/core/clock.ts';

/**
 * `smartpush-guard admin …` through the real binary, on the embedded store (SQLite file): what it
 * can do there (status, reset, destination) and what it honestly refuses (sessions, lockouts).
 */

const BIN = join(process.cwd(), 'bin', 'smartpush-guard.js');

interface Setup {
  readonly dir: string;
  readonly config: string;
  readonly db: string;
  readonly outbox: string;
}

function setup(): Setup {
  const dir = mkdtempSync(join(tmpdir(), 'spg-cli-admin-'));
  writeFileSync(join(dir, 'session.json'), JSON.stringify({ '1': 'a'.repeat(40) }));
  writeFileSync(join(dir, 'enc.json'), newEncryptionKeys(cryptoRandom));
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    readFileSync('config/demo.yaml', 'utf8')
      .replace('logo: smartpush-logo.svg', `logo: ${join(process.cwd(), 'config', 'smartpush-logo.svg')}`)
      .replace('../policies/smartpush.yaml', join(process.cwd(), 'policies', 'smartpush.yaml'))
      .replace('{ file: ../var/session-keys.json }', `{ file: ${join(dir, 'session.json')} }`)
      .replace('{ file: ../var/encryption-keys.json }', `{ file: ${join(dir, 'enc.json')} }`)
      .replace('sqlite: ../var/guard.db', `sqlite: ${join(dir, 'guard.db')}`)
      .replace('outbox_file: ../var/outbox.jsonl', `outbox_file: ${join(dir, 'outbox.jsonl')}`)
      .replace('methods: [totp, sms, email]', 'methods: [totp, sms, email]\n  sms_countries: [US]'),
  );
  return { dir, config, db: join(dir, 'guard.db'), outbox: join(dir, 'outbox.jsonl') };
}

function admin(s: Setup, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'admin', ...args, '--config', s.config], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, GUARD_CONFIG: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function enroll(s: Setup, user: string, method: 'sms' | 'email', destination: string): Promise<void> {
  const durable = SqliteDurableStore.open(s.db, { clock: systemClock });
  try {
    await durable.enable({ user, method, destination, totp: null, createdAt: Date.parse('2026-05-01T08:00:00Z'), updatedAt: Date.parse('2026-05-01T08:00:00Z') }, ['1:x', '1:y']);
  } finally {
    await durable.close();
  }
}

async function enrollment(s: Setup, user: string) {
  const durable = SqliteDurableStore.open(s.db, { clock: systemClock });
  try {
    return await durable.getEnrollment(user);
  } finally {
    await durable.close();
  }
}

test('admin status: text by default, JSON with --json; an unknown account exits 1', async () => {
  const s = setup();
  await enroll(s, 'merchant@example.com', 'sms', '+15555550189');
  const text = admin(s, ['status', 'Merchant@Example.com']);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^merchant@example\.com$/m);
  assert.match(text.stdout, /2FA +on: sms to \+15555550189 \(\+1 •••• ••89\)/);
  assert.match(text.stdout, /recovery codes +2 left/);
  assert.match(text.stdout, /lockouts +not visible here \(embedded store/);
  const json = admin(s, ['status', 'merchant@example.com', '--json']);
  assert.equal(json.status, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { two_factor: { method: string; destination: string; created_at: string }; lockout: unknown };
  assert.equal(parsed.two_factor.method, 'sms');
  assert.equal(parsed.two_factor.destination, '+15555550189');
  assert.equal(parsed.two_factor.created_at, '2026-05-01T08:00:00.000Z');
  assert.equal(parsed.lockout, null);

  const unknown = admin(s, ['status', 'nobody@example.com']);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /No record of nobody@example\.com/);
  const unknownJson = admin(s, ['status', 'nobody@example.com', '--json']);
  assert.equal(unknownJson.status, 1);
  assert.equal((JSON.parse(unknownJson.stdout) as { error: string }).error, 'unknown_user');
});

test('admin set-destination and reset-2fa change the SQLite records, notify the user, and are in the audit trail', async () => {
  const s = setup();
  await enroll(s, 'merchant@example.com', 'sms', '+15555550189');

  const noReason = admin(s, ['set-destination', 'merchant@example.com', '--destination', '+15555550123']);
  assert.equal(noReason.status, 2);
  assert.match(noReason.stderr, /Give a reason/);
  const abroad = admin(s, ['set-destination', 'merchant@example.com', '--destination', '+33 6 12 34 56 78', '--reason', 'ticket 7']);
  assert.equal(abroad.status, 2);
  assert.match(abroad.stderr, /numbers in FR/);
  assert.equal((await enrollment(s, 'merchant@example.com'))?.destination, '+15555550189');

  const changed = admin(s, ['set-destination', 'merchant@example.com', '--destination', '+1 555 555 0123', '--reason', 'ticket 7: new phone', '--json']);
  assert.equal(changed.status, 0, changed.stderr);
  const result = JSON.parse(changed.stdout) as { destination: string; sessions_revoked: boolean; notified: boolean; warnings: string[] };
  assert.equal(result.destination, '+15555550123');
  assert.equal(result.notified, true);
  // Honest about what the embedded store does not let it do.
  assert.equal(result.sessions_revoked, false);
  assert.match(result.warnings.join(' '), /sessions were not ended: with the embedded store/);
  assert.equal((await enrollment(s, 'merchant@example.com'))?.destination, '+15555550123');
  // The CLI runs no alert dispatcher: its one message to the owner is the email notice (README "What the owner is told").
  assert.deepEqual(
    ownerMessages(s.outbox, 'merchant@example.com').map((m) => m.purpose),
    ['notification'],
  );
  assert.match(String(notifications(s.outbox, 'merchant@example.com').at(-1)?.subject), /verification destination was changed/);
  const trail = admin(s, ['audit', 'merchant@example.com', '--json']);
  assert.equal(trail.status, 0, trail.stderr);
  const changedEvent = (JSON.parse(trail.stdout) as { events: Array<Record<string, unknown>> }).events.find((e) => e['event'] === 'destination_changed');
  assert.ok(changedEvent, trail.stdout);
  assert.match(String(changedEvent['actor']), /^cli:/);
  assert.equal(changedEvent['reason'], 'ticket 7: new phone');
  assert.ok(!trail.stdout.includes('+15555550123'), 'the audit keeps masked numbers only');

  const reset = admin(s, ['reset-2fa', 'merchant@example.com', '--reason', 'ticket 8: lost phone']);
  assert.equal(reset.status, 0, reset.stderr);
  assert.match(reset.stdout, /2FA reset for merchant@example\.com \(was sms\); sessions NOT ended; the user was notified by email\./);
  assert.match(reset.stderr, /warning: sessions were not ended/);
  assert.equal(await enrollment(s, 'merchant@example.com'), null);
  assert.deepEqual(ownerMessages(s.outbox, 'merchant@example.com').map((m) => m.purpose), ['notification', 'notification'], 'one notice per operation, no alert');
  assert.match(String(notifications(s.outbox, 'merchant@example.com').at(-1)?.subject), /Two-factor authentication was reset/);
  // Still known (the audit trail has it), but there is nothing left to reset.
  const again = admin(s, ['reset-2fa', 'merchant@example.com', '--reason', 'again']);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /no two-factor authentication enabled/);
});

test('admin revoke-sessions and unlock refuse on the embedded store and point at the admin API', async () => {
  const s = setup();
  await enroll(s, 'merchant@example.com', 'email', 'merchant@example.com');
  for (const command of ['revoke-sessions', 'unlock']) {
    const r = admin(s, [command, 'merchant@example.com', '--reason', 'ticket 9']);
    assert.equal(r.status, 1, command);
    assert.match(r.stderr, /embedded store.*running service's memory.*admin API.*\/admin\/users\/<email>\/sessions\/revoke/);
    assert.equal(r.stdout, '');
  }
  // Nothing was done, so nothing of it is in the audit trail.
  const audit = admin(s, ['audit', 'merchant@example.com', '--json']);
  assert.equal(audit.status, 0, audit.stderr);
  const events = (JSON.parse(audit.stdout) as { events: Array<Record<string, unknown>> }).events;
  assert.ok(!events.some((e) => e['event'] === 'sessions_revoked' || e['event'] === 'unlocked'), audit.stdout);
});

test('admin: bad usage exits 2 with the usage text', () => {
  const s = setup();
  for (const args of [[], ['status'], ['nuke', 'a@b.example'], ['status', 'not-an-email'], ['status', 'a@b.example', '--reason', 'x'], ['unlock', 'a@b.example', '--destination', '+15555550123'], ['status', 'a@b.example', 'extra']]) {
    const r = admin(s, args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /Usage: smartpush-guard|must be an email address/);
  }
});
