import { cryptoRandom } from '../../src/core/random.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { assertNoDataForNewKeys, KeyCheckError } from '../../src/factors/key-check.ts';
import { newEncryptionKeys, parseEncryptionKeys, SecretBox, totpSecretAad } from '../../src/factors/secret-box.ts';
import { SqliteDurableStore } from '../../src/store/sqlite.ts';
import { SqliteStoreError } from '../../src/store/sqlite-file.ts';
import { ADMIN_TOKEN, deployment, oneLine, runCli, serve, type Deployment } from '../helpers/guard-process.ts';
import { systemClock } from '../../src/core/clock.ts';

/**
 * Issue 14 items 10–12: the SQLite store under faults, with the real CLI and real files. A store
 * that existed is never re-created silently, a damaged one is refused at start and makes the
 * service not ready while running, and keys that do not open the stored secrets stop the start.
 */

const T0 = Date.parse('2026-11-30T08:00:00Z');

function removeStore(d: Deployment): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${d.db}${suffix}`, { force: true });
}

/** Writes enrollments straight into the store, as the service would (the file must exist). */
async function enroll(d: Deployment, count: number, totpFor?: string): Promise<void> {
  const store = SqliteDurableStore.open(d.db, { clock: systemClock, create: false });
  try {
    for (let i = 0; i < count; i++) {
      const user = `user${i}@example.com`;
      await store.enable({ user, method: 'email', destination: user, totp: null, createdAt: T0, updatedAt: T0 }, [`h${i}a`, `h${i}b`]);
    }
    if (totpFor !== undefined) {
      const box = new SecretBox(parseEncryptionKeys(readFileSync(d.keys, 'utf8')), cryptoRandom);
      const secret = box.seal(Buffer.from('12345678901234567890'), totpSecretAad(totpFor));
      await store.enable({ user: totpFor, method: 'totp', destination: null, totp: { secret, parameters: { algorithm: 'SHA1', digits: 6, period: 30 } }, createdAt: T0, updatedAt: T0 }, ['t1']);
    }
    store.database().pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    await store.close();
  }
}

/** A deployment whose store was created by a first `serve --init-store` and holds enrollments. */
async function existingDeployment(totpFor?: string): Promise<Deployment> {
  const d = deployment();
  const first = await serve(d, ['--init-store']);
  assert.equal(await first.stop(), 0, first.output());
  await enroll(d, 200, totpFor);
  return d;
}

function overwrite(file: string, at: number, bytes: Buffer): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, at);
  } finally {
    closeSync(fd);
  }
}

test('item 10: a missing or emptied guard.db stops the start (exit 1, one line naming it) instead of turning every 2FA off', async () => {
  const d = await existingDeployment();
  removeStore(d);
  const missing = runCli(['serve', '--config', d.config]);
  assert.equal(missing.status, 1, `serve must refuse, not start: ${missing.stdout}${missing.stderr}`);
  assert.match(oneLine(missing.stderr), new RegExp(`${d.db.replace(/[.]/g, '\\.')}: the durable store is missing; .*restore it from a backup.*--init-store`));
  assert.equal(existsSync(d.db), false, 'nothing was created');

  writeFileSync(d.db, ''); // truncated to nothing
  const empty = runCli(['serve', '--config', d.config]);
  assert.equal(empty.status, 1, empty.stdout + empty.stderr);
  assert.match(oneLine(empty.stderr), /guard\.db: the durable store is empty \(no schema, no records\)/);

  const admin = runCli(['admin', 'status', 'user1@example.com', '--config', d.config]);
  assert.equal(admin.status, 1, admin.stdout + admin.stderr);
  assert.match(oneLine(admin.stderr), /guard\.db: the durable store is empty/);

  // The explicit way to say "this is a new deployment".
  const fresh = await serve(d, ['--init-store']);
  try {
    assert.equal((await fetch(`${fresh.adminUrl}/readyz`)).status, 200);
  } finally {
    assert.equal(await fresh.stop(), 0, fresh.output());
  }
  // Once created it starts without the flag, as every later start does.
  const again = await serve(d);
  assert.equal(await again.stop(), 0, again.output());
});

test('item 10: after `secrets init` made new keys, the first serve creates the store without --init-store; once it exists, losing it is refused', async () => {
  const d = deployment();
  rmSync(d.keys); // `secrets init` makes them, and with them the ledger of their stores
  const init = runCli(['secrets', 'init', '--config', d.config]);
  assert.equal(init.status, 0, init.stdout + init.stderr);
  assert.ok(existsSync(`${d.keys}.stores`), 'the ledger beside the new keys');

  // Break-glass CLI commands look at records; they never create a store.
  const admin = runCli(['admin', 'status', 'user1@example.com', '--config', d.config]);
  assert.equal(admin.status, 1, admin.stdout + admin.stderr);
  assert.equal(existsSync(d.db), false, 'the admin CLI created no store');

  const first = await serve(d);
  try {
    assert.equal((await fetch(`${first.adminUrl}/readyz`)).status, 200);
  } finally {
    assert.equal(await first.stop(), 0, first.output());
  }
  assert.deepEqual(JSON.parse(readFileSync(`${d.keys}.stores`, 'utf8')).stores, [d.db]);
  await enroll(d, 3);

  removeStore(d);
  const lost = runCli(['serve', '--config', d.config]);
  assert.equal(lost.status, 1, `a store the ledger names was lost: serve must refuse: ${lost.stdout}${lost.stderr}`);
  assert.match(oneLine(lost.stderr), /guard\.db: the durable store is missing; .*restore it from a backup/);
  assert.equal(existsSync(d.db), false, 'nothing was created');

  // A damaged or missing ledger proves nothing: no silent creation either.
  writeFileSync(`${d.keys}.stores`, '{not json');
  assert.equal(runCli(['serve', '--config', d.config]).status, 1);
  rmSync(`${d.keys}.stores`);
  assert.equal(runCli(['serve', '--config', d.config]).status, 1);
  assert.equal(existsSync(d.db), false);
});

test('item 11: a damaged guard.db is refused at start with the restore procedure (garbage header, garbage pages, cut in half)', async () => {
  const d = await existingDeployment();
  const good = join(d.dir, 'good.db');
  copyFileSync(d.db, good);
  const damages: Array<[string, () => void]> = [
    ['header', () => overwrite(d.db, 0, Buffer.from('this is not a sqlite file at all'))],
    ['pages', () => overwrite(d.db, 8192, Buffer.alloc(4096 * 4, 0x5a))],
    ['truncated', () => truncateSync(d.db, 4096 * 3 + 100)],
  ];
  for (const [name, damage] of damages) {
    copyFileSync(good, d.db);
    damage();
    const r = runCli(['serve', '--config', d.config]);
    assert.equal(r.status, 1, `${name}: serve must refuse: ${r.stdout}${r.stderr}`);
    const line = oneLine(r.stderr);
    assert.match(line, /guard\.db: the durable store is damaged \(/, name);
    assert.match(line, /restore the last backup with its encryption keys .*Operations: what survives a crash, backup and restore/, name);
    if (name === 'pages') {
      const admin = runCli(['admin', 'status', 'user1@example.com', '--config', d.config]);
      assert.equal(admin.status, 1, `${name}: ${admin.stderr}`);
      assert.match(oneLine(admin.stderr), /the durable store is damaged/);
    }
  }
});

test('item 11: a store that starts failing while the service runs turns /readyz to 503 (it stays failed)', async () => {
  const d = await existingDeployment();
  const running = await serve(d);
  try {
    const user = await fetch(`${running.adminUrl}/admin/users/user1@example.com`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(user.status, 200, await user.text());
    assert.equal((await fetch(`${running.adminUrl}/readyz`)).status, 200);
    // The disk goes bad under the running process: pages of the tables are overwritten, then a
    // write by another connection makes the service drop its page cache (as any replica's would).
    const other = new Database(d.db);
    other.pragma('wal_checkpoint(TRUNCATE)');
    overwrite(d.db, 4096, Buffer.alloc(4096 * 8, 0x5a));
    other.pragma('user_version = 5');
    other.close();
    const broken = await fetch(`${running.adminUrl}/admin/users/user2@example.com`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(broken.status, 500);
    const ready = await fetch(`${running.adminUrl}/readyz`);
    assert.equal(ready.status, 503, 'a store that errors is not ready');
    assert.equal(((await ready.json()) as { status: string }).status, 'not_ready');
    assert.equal((await fetch(`${running.adminUrl}/readyz`)).status, 503, 'and stays so until a restart checks the file');
  } finally {
    await running.kill9();
  }
});

test('item 12: a changed encryption key stops the start (key check), and so does a lost key that sealed stored secrets', async () => {
  const d = await existingDeployment('totp@example.com');
  const original = readFileSync(d.keys, 'utf8');

  writeFileSync(d.keys, newEncryptionKeys(cryptoRandom)); // same id 1, other bytes
  const changed = runCli(['serve', '--config', d.config]);
  assert.equal(changed.status, 1, changed.stdout + changed.stderr);
  assert.match(oneLine(changed.stderr), /factors\.encryption_keys \(file .*encryption-keys\.json\): encryption key 1 does not open the store's key-check record/);
  const admin = runCli(['admin', 'status', 'totp@example.com', '--config', d.config]);
  assert.equal(admin.status, 1, admin.stdout + admin.stderr);
  assert.match(oneLine(admin.stderr), /encryption key 1 does not open the store's key-check record/);

  // Rotation done wrong: a new key 2 replaces key 1 instead of joining it.
  const two = JSON.parse(newEncryptionKeys(cryptoRandom).replace('"1"', '"2"')) as Record<string, string>;
  writeFileSync(d.keys, JSON.stringify(two));
  const lost = runCli(['serve', '--config', d.config]);
  assert.equal(lost.status, 1, lost.stdout + lost.stderr);
  assert.match(oneLine(lost.stderr), /encryption key 1 is missing, but TOTP secrets in the store are sealed with it/);

  // Rotation done right: key 2 joins key 1; the check records key 2 and the start goes on.
  writeFileSync(d.keys, JSON.stringify({ ...(JSON.parse(original) as Record<string, string>), ...two }));
  const rotated = await serve(d);
  assert.equal(await rotated.stop(), 0, rotated.output());
  assert.match(rotated.output(), /"keyIds":\["2"\][^\n]*key-check records written/);
});

test('item 12: a store from before the key check (no records) is checked against its sealed TOTP secrets', async () => {
  const d = deployment();
  // Created by a tool, with a TOTP secret sealed under the keys of the file, and no key-check record.
  SqliteDurableStore.open(d.db, { clock: systemClock }).close();
  await enroll(d, 1, 'totp@example.com');
  writeFileSync(d.keys, newEncryptionKeys(cryptoRandom));
  const r = runCli(['serve', '--config', d.config]);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(oneLine(r.stderr), /encryption key 1 does not open the TOTP secrets in the store/);
});

test('item 12: new encryption keys are never generated over existing data (the demo and `secrets init` ask assertNoDataForNewKeys)', async () => {
  const d = deployment();
  const keys = join(d.dir, 'new-keys.json');
  assert.doesNotThrow(() => assertNoDataForNewKeys(d.db, keys), 'no store yet: keys may be made');
  const store = SqliteDurableStore.open(d.db, { clock: systemClock });
  await store.close();
  assert.doesNotThrow(() => assertNoDataForNewKeys(d.db, keys), 'an empty store holds nothing sealed');
  await enroll(d, 1);
  assert.throws(() => assertNoDataForNewKeys(d.db, keys), (error: unknown) => {
    assert.ok(error instanceof KeyCheckError);
    assert.match(error.message, /new-keys\.json: refusing to generate new encryption keys: .*guard\.db already holds 2FA data/);
    return true;
  });
  overwrite(d.db, 0, Buffer.from('garbage garbage garbage garbage'));
  assert.throws(() => assertNoDataForNewKeys(d.db, keys), /exists but cannot be read/);
});

test('the store refuses to open a missing file without create, and a directory in its place, with SqliteStoreError', () => {
  const d = deployment();
  assert.throws(() => SqliteDurableStore.open(d.db, { clock: systemClock, create: false }), (e: unknown) => e instanceof SqliteStoreError && e.problem === 'missing');
  mkdirSync(d.db);
  assert.throws(() => SqliteDurableStore.open(d.db, { clock: systemClock }), (e: unknown) => e instanceof SqliteStoreError && e.problem === 'not_a_file' && /is a directory/.test(e.message));
});
