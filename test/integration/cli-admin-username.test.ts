import { cryptoRandom } from '../../src/core/random.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { newEncryptionKeys } from '../../src/factors/secret-box.ts';
import { SqliteDurableStore } from '../../src/store/sqlite.ts';
import { notifications, outboxMessages } from '../helpers/two-factor.ts';
import { systemClock } from '../../src/core/clock.ts';

/**
 * `smartpush-guard admin …` for a deployment whose accounts are usernames (login.identifier:
 * username, a SQLite directory): the CLI takes the username (it refused it as `invalid_email`
 * before), notifies the address the directory holds, and refuses identifiers no app could have.
 */

const BIN = join(process.cwd(), 'bin', 'smartpush-guard.js');

function setup(): { config: string; db: string; outbox: string } {
  const dir = mkdtempSync(join(tmpdir(), 'spg-cli-username-'));
  writeFileSync(join(dir, 'session.json'), JSON.stringify({ '1': 'a'.repeat(40) }));
  writeFileSync(join(dir, 'enc.json'), newEncryptionKeys(cryptoRandom));
  const app = new Database(join(dir, 'app.sqlite3'));
  app.exec("CREATE TABLE auth_user (username TEXT, email TEXT); INSERT INTO auth_user VALUES ('Dana', 'dana@example.org'), ('eve', '')");
  app.close();
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
      .replace('  profile: { path: /api/me, email_field: email, phone_field: phone }\n', '  identifier: username\n') +
      `directory:\n  kind: sql\n  driver: sqlite\n  file: app.sqlite3\n  query: "SELECT email FROM auth_user WHERE username = :identifier"\n`,
  );
  return { config, db: join(dir, 'guard.db'), outbox: join(dir, 'outbox.jsonl') };
}

function admin(config: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'admin', ...args, '--config', config], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, GUARD_CONFIG: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function enroll(db: string, user: string): Promise<void> {
  const durable = SqliteDurableStore.open(db, { clock: systemClock });
  try {
    await durable.enable({ user, method: 'email', destination: 'codes@example.org', totp: null, createdAt: Date.parse('2026-05-01T08:00:00Z'), updatedAt: Date.parse('2026-05-01T08:00:00Z') }, ['1:x']);
  } finally {
    await durable.close();
  }
}

test('admin with usernames: status and reset-2fa take the username; the notification goes to the directory address', async () => {
  const s = setup();
  await enroll(s.db, 'Dana');
  const status = admin(s.config, ['status', 'Dana', '--json']);
  assert.equal(status.status, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { user: string }).user, 'Dana');
  // Case-sensitive usernames: another spelling is another (unknown) account.
  assert.equal(admin(s.config, ['status', 'dana']).status, 1);

  const reset = admin(s.config, ['reset-2fa', 'Dana', '--reason', 'ticket 12: lost phone', '--json']);
  assert.equal(reset.status, 0, reset.stderr);
  assert.equal((JSON.parse(reset.stdout) as { notified: boolean }).notified, true);
  assert.match(String(notifications(s.outbox, 'dana@example.org').at(-1)?.subject), /Two-factor authentication was reset/);
  assert.deepEqual(outboxMessages(s.outbox).map((m) => m.to), ['dana@example.org'], 'nothing to the username (nor to the old code address: the reset is not a destination change)');
});

test('admin with usernames: an account without an address is reset but not "notified", and the answer says why', async () => {
  const s = setup();
  await enroll(s.db, 'eve');
  const reset = admin(s.config, ['reset-2fa', 'eve', '--reason', 'ticket 13', '--json']);
  assert.equal(reset.status, 0, reset.stderr);
  const answer = JSON.parse(reset.stdout) as { notified: boolean; warnings: string[] };
  assert.equal(answer.notified, false);
  assert.ok(answer.warnings.some((w) => /no email address is known/.test(w)), answer.warnings.join('; '));
  assert.deepEqual(outboxMessages(s.outbox), []);
});

test('admin with usernames: an identifier with control characters or over 254 characters is bad usage (exit 2)', () => {
  const s = setup();
  for (const bad of ['bad\u0001name', 'x'.repeat(255)]) {
    const r = admin(s.config, ['status', bad]);
    assert.equal(r.status, 2, `${JSON.stringify(bad)}: ${r.stderr}`);
    assert.match(r.stderr, /control characters|too long/);
  }
});
