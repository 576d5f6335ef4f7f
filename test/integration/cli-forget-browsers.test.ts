import { cryptoRandom } from '../../src/core/random.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newEncryptionKeys } from '../../src/factors/secret-box.ts';
import { SqliteRememberedBrowsers } from '../../src/store/sqlite-remembered-browsers.ts';
import { SqliteDurableStore } from '../../src/store/sqlite.ts';
import { browser } from '../helpers/remembered-browsers-contract.ts';
import { factorState } from '../../src/flows/account-generation.ts';
import { systemClock } from '../../src/core/clock.ts';

/**
 * `smartpush-guard admin forget-browsers` through the real binary on the embedded store: the
 * remembered browsers live in the SQLite file, so the CLI reaches them (break-glass), lists them in
 * `admin status`, and drops one (`--id`) or all, with the reason audited.
 */

const BIN = join(process.cwd(), 'bin', 'smartpush-guard.js');
const USER = 'merchant@example.com';

function setup(): { config: string; db: string } {
  const dir = mkdtempSync(join(tmpdir(), 'spg-cli-rb-'));
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
      .replace('outbox_file: ../var/outbox.jsonl', `outbox_file: ${join(dir, 'outbox.jsonl')}`),
  );
  return { config, db: join(dir, 'guard.db') };
}

function admin(config: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'admin', ...args, '--config', config], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, GUARD_CONFIG: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('admin forget-browsers: listed by status, one with --id, then all; a reason is required', async () => {
  const { config, db } = setup();
  const durable = SqliteDurableStore.open(db, { clock: systemClock });
  try {
    const now = Date.parse('2026-05-01T08:00:00Z');
    await durable.enable({ user: USER, method: 'email', destination: USER, totp: null, createdAt: now, updatedAt: now }, []);
    const store = new SqliteRememberedBrowsers(durable);
    // Made under the account's current factors (records of other factors are never listed).
    const factors = factorState(await durable.getEnrollment(USER)) as string;
    // Far in the future, so the CLI's real clock still sees them as current.
    const until = Date.parse('2099-01-01T00:00:00Z');
    await store.add(browser(USER, 'browser-a', { expiresAt: until, label: 'Chrome on Linux', factors }), 20);
    await store.add(browser(USER, 'browser-b', { expiresAt: until, label: 'Safari on iOS', factors }), 20);
  } finally {
    await durable.close();
  }
  const status = admin(config, ['status', USER]);
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, /remembered +Chrome on Linux \(browser-a, until 2099-01-01T00:00:00\.000Z\); Safari on iOS \(browser-b/);
  assert.equal(admin(config, ['forget-browsers', USER]).status, 2, 'a reason is required');
  assert.equal(admin(config, ['status', USER, '--id', 'x']).status, 2, '--id only with forget-browsers');
  const one = admin(config, ['forget-browsers', USER, '--id', 'browser-a', '--reason', 'ticket 17', '--json']);
  assert.equal(one.status, 0, one.stderr);
  assert.equal((JSON.parse(one.stdout) as { revoked: number }).revoked, 1);
  const missing = admin(config, ['forget-browsers', USER, '--id', 'browser-a', '--reason', 'ticket 17']);
  assert.equal(missing.status, 1);
  const all = admin(config, ['forget-browsers', USER, '--reason', 'ticket 18']);
  assert.equal(all.status, 0, all.stderr);
  assert.match(all.stdout, /1 remembered browser\(s\) of merchant@example\.com forgotten\./);
  assert.match(admin(config, ['status', USER]).stdout, /remembered +no browser/);
  const audit = admin(config, ['audit', USER, '--json']);
  const events = (JSON.parse(audit.stdout) as { events: Array<{ event: string; reason?: string; actor?: string }> }).events;
  assert.ok(events.some((e) => e.event === 'remembered_browser_revoked' && e.reason === 'ticket 17' && e.actor?.startsWith('cli:')), audit.stdout);
  assert.ok(events.some((e) => e.event === 'remembered_browsers_dropped' && e.reason === 'admin_revoked'), audit.stdout);
});
