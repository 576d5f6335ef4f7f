import { cryptoRandom } from '../../src/core/random.ts';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoApp } from '../../demo/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { newEncryptionKeys } from '../../src/factors/secret-box.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { startGuard, type RunningGuard } from '../../src/server/start.ts';
import { closeRedisClient, openRedisClient } from '../../src/store/redis-connection.ts';
import { memoryLogger } from '../helpers/stack.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { enableTotp, expectStatus, GuardClient, totpAt, type Enrolled } from '../helpers/two-factor.ts';

/**
 * The restore test of `store backup` / `store restore` (the bin script, as operators run it): make
 * a TOTP enrollment, back up while the sidecar runs, destroy the store and its key file, restore,
 * and sign in again with the same authenticator app and a recovery code. Once for the SQLite store,
 * once for Redis (a real redis-server with the append-only file, restarted after the restore).
 */

const BIN = join(process.cwd(), 'bin', 'smartpush-guard.js');
const STEP = 30_000;

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env['GUARD_REDIS_URL'];
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const demo = await startDemoApp({ host: '127.0.0.1', port: 0 });
const redis = await startRedisServer({ appendOnly: true });
after(async () => {
  await demo.close();
  await redis?.stop();
});

/** A deployment folder: config, keys, policy reference; the store is SQLite or the Redis above. */
function deployment(store: 'embedded' | 'redis'): { dir: string; config: string; keys: string; db: string; outbox: string } {
  const dir = mkdtempSync(join(tmpdir(), `spg-backup-${store}-`));
  writeFileSync(join(dir, 'session-keys.json'), JSON.stringify({ '1': randomBytes(32).toString('base64url') }), { mode: 0o600 });
  writeFileSync(join(dir, 'encryption-keys.json'), newEncryptionKeys(cryptoRandom), { mode: 0o600 });
  const storeYaml =
    store === 'redis' ? `store:\n  kind: redis\n  sqlite: ./guard.db\n  redis: { url: "${redis?.url}/0", prefix: "spg:backup:" }\n` : 'store:\n  sqlite: ./guard.db\n';
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `version: 1
listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0 }
upstream: { url: "${demo.url}" }
policy: ${join(process.cwd(), 'policies', 'smartpush.yaml')}
session: { keys: { file: ./session-keys.json } }
login:
  upstream: { path: /login, encoding: form, fields: { email: email, password: password } }
  success: { status: [302, 303], location: "^/dashboard", cookie: sp_session }
  logout: { path: /logout, method: GET }
  profile: { path: /api/me, email_field: email, phone_field: phone }
  landing: /dashboard
  min_response_time: 0ms
${storeYaml}factors: { encryption_keys: { file: ./encryption-keys.json }, methods: [totp, sms, email] }
channels: { outbox_file: ./outbox.jsonl, email: { kind: outbox }, sms: { kind: outbox } }
risk: { levels: { medium: 1000, high: 2000 } }
`,
  );
  return { dir, config, keys: join(dir, 'encryption-keys.json'), db: join(dir, 'guard.db'), outbox: join(dir, 'outbox.jsonl') };
}

async function start(config: string, clock: ManualClock, initStore = false): Promise<RunningGuard> {
  return startGuard(loadConfig(config), { logger: memoryLogger().logger, clock, watchPolicy: false, initStore });
}

/** Signs in with the TOTP of the next step and checks the enrollment and the recovery codes left. */
async function signInWithTotp(guard: RunningGuard, enrolled: Enrolled, clock: ManualClock, codesLeft: number): Promise<void> {
  const client = new GuardClient(guard.url);
  const login = expectStatus(await client.login(), 200, 'login');
  assert.equal(login.body['status'], 'verification_required', `2FA was lost: ${login.text}`);
  assert.equal(login.body['method'], 'totp');
  clock.advance(STEP);
  expectStatus(await client.verify(totpAt(enrolled.secret, clock.now())), 200, 'the restored sealed TOTP secret opens');
  const status = await client.status();
  assert.deepEqual([status.body['enabled'], status.body['method'], status.body['recovery_codes_left']], [true, 'totp', codesLeft]);
  assert.equal((await client.me()).status, 200);
}

async function enroll(guard: RunningGuard, outbox: string, clock: ManualClock): Promise<Enrolled> {
  const client = new GuardClient(guard.url);
  expectStatus(await client.login(), 200, 'login');
  const enrolled = await enableTotp(client, { outboxFile: outbox, clock });
  // One recovery code used before the backup: it must stay used after the restore.
  await client.logout();
  expectStatus(await client.login(), 200, 'login (recovery)');
  expectStatus(await client.verify(enrolled.recoveryCodes[0]), 200, 'recovery code');
  return enrolled;
}

function assertBackupFolder(backup: string): void {
  assert.deepEqual(readdirSync(backup).sort(), ['encryption-keys.json', 'guard.db', 'manifest.json']);
  for (const name of readdirSync(backup)) assert.equal(statSync(join(backup, name)).mode & 0o077, 0, `${name} is private (0600)`);
  assert.equal(statSync(backup).mode & 0o077, 0, 'the backup folder is private (0700)');
  const manifest = JSON.parse(readFileSync(join(backup, 'manifest.json'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(manifest['format'], 'smartpush-guard-backup/1');
  assert.equal(manifest['counts']['enrollments'], 1);
  assert.equal(manifest['counts']['recoveryCodes'], 10);
  assert.equal(manifest['counts']['usedRecoveryCodes'], 1);
}

test('SQLite: back up while serving, lose the store and its keys, restore: the same TOTP app and recovery codes work', async () => {
  const d = deployment('embedded');
  const clock = new ManualClock(Date.now());
  const guard = await start(d.config, clock, true);
  let enrolled: Enrolled;
  const backup = join(d.dir, 'backup');
  try {
    enrolled = await enroll(guard, d.outbox, clock);
    // Online: the sidecar keeps running (and holding the file open) during the backup.
    const made = cli(['store', 'backup', '--to', backup, '--config', d.config]);
    assert.equal(made.status, 0, made.stderr);
    assert.match(made.stdout, /enrollments +1\n/);
    assert.match(made.stdout, /recovery codes +10 \(1 used\)\n/);
  } finally {
    await guard.close();
  }
  assertBackupFolder(backup);
  const again = cli(['store', 'backup', '--to', backup, '--config', d.config]);
  assert.equal(again.status, 1, 'a backup never overwrites another');
  assert.match(again.stderr, /not an empty folder/);

  // Disaster: the store and the key file are gone.
  for (const f of [d.db, `${d.db}-wal`, `${d.db}-shm`, d.keys]) rmSync(f, { force: true });
  await assert.rejects(start(d.config, clock), 'nothing starts without the store and its keys');

  const restored = cli(['store', 'restore', '--from', backup, '--config', d.config]);
  assert.equal(restored.status, 0, restored.stderr);
  assert.match(restored.stdout, /enrollments +1\n/);
  assert.match(restored.stdout, /the backup's keys are written there/);
  assert.ok(existsSync(d.keys) && existsSync(d.db));
  assert.equal(statSync(d.db).mode & 0o077, 0);

  const back = await start(d.config, clock);
  try {
    await signInWithTotp(back, enrolled, clock, 9);
    const replay = new GuardClient(back.url);
    expectStatus(await replay.login(), 200, 'login');
    assert.equal((await replay.verify(enrolled.recoveryCodes[0])).status, 401, 'a recovery code used before the backup stays used');
    expectStatus(await replay.verify(enrolled.recoveryCodes[1]), 200, 'an unused recovery code works');
  } finally {
    await back.close();
  }

  // A second restore over the now-existing store is refused without --force, then keeps the old file aside.
  const refused = cli(['store', 'restore', '--from', backup, '--config', d.config]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /guard\.db exists: nothing was restored/);
  const forced = cli(['store', 'restore', '--from', backup, '--config', d.config, '--force']);
  assert.equal(forced.status, 0, forced.stderr);
  assert.match(forced.stdout, /the configured keys .* open the backup/);
  assert.ok(readdirSync(d.dir).some((n) => n.startsWith('guard.db.before-restore-')), 'the replaced store is kept aside');
  rmSync(d.dir, { recursive: true, force: true });
});

test('restore refuses a damaged backup and keys that do not open it, and writes nothing', async () => {
  const d = deployment('embedded');
  const clock = new ManualClock(Date.now());
  const guard = await start(d.config, clock, true);
  try {
    await enroll(guard, d.outbox, clock);
  } finally {
    await guard.close();
  }
  const backup = join(d.dir, 'backup');
  assert.equal(cli(['store', 'backup', '--to', backup, '--config', d.config]).status, 0);
  for (const f of [d.db, `${d.db}-wal`, `${d.db}-shm`]) rmSync(f, { force: true });

  // Other keys in place (someone generated new ones): they do not open the backup.
  writeFileSync(d.keys, newEncryptionKeys(cryptoRandom), { mode: 0o600 });
  const wrongKeys = cli(['store', 'restore', '--from', backup, '--config', d.config]);
  assert.equal(wrongKeys.status, 1, wrongKeys.stdout);
  assert.match(wrongKeys.stderr, /do not open this backup.*nothing was restored.*encryption-keys\.json/);
  assert.equal(existsSync(d.db), false);

  writeFileSync(d.keys, readFileSync(join(backup, 'encryption-keys.json')), { mode: 0o600 });
  const db = readFileSync(join(backup, 'guard.db'));
  const at = db.length - 100;
  db[at] = (db[at] as number) ^ 0xff;
  writeFileSync(join(backup, 'guard.db'), db);
  const damaged = cli(['store', 'restore', '--from', backup, '--config', d.config]);
  assert.equal(damaged.status, 1);
  assert.match(damaged.stderr, /does not match its checksum/);
  assert.equal(existsSync(d.db), false);
  rmSync(d.dir, { recursive: true, force: true });
});

test('Redis (append-only): back up, flush, restore into Redis, restart Redis: the same TOTP app works', { skip: redis === null ? 'redis-server is not installed' : false }, async () => { // allowed-skip
  assert.ok(redis);
  const d = deployment('redis');
  const clock = new ManualClock(Date.now());
  const guard = await start(d.config, clock);
  const backup = join(d.dir, 'backup');
  let enrolled: Enrolled;
  try {
    enrolled = await enroll(guard, d.outbox, clock);
    const made = cli(['store', 'backup', '--to', backup, '--config', d.config]);
    assert.equal(made.status, 0, made.stderr);
    assert.match(made.stdout, /redis \(standalone, prefix spg:backup:\)/);
    assert.match(made.stdout, /recovery codes +10 \(1 used\)\n/);
    // The Redis-level copy too (scripts/redis-rdb-backup.sh), checked at the end.
    const rdb = spawnSync('sh', [join(process.cwd(), 'scripts', 'redis-rdb-backup.sh'), redis.url, join(d.dir, 'rdb')], { encoding: 'utf8' });
    assert.equal(rdb.status, 0, rdb.stderr);
    assert.match(rdb.stdout, /wrote .*dump\.rdb/);
  } finally {
    await guard.close();
  }
  assertBackupFolder(backup);

  // Disaster: Redis loses everything (FLUSHALL reaches the append-only file too).
  const client = await openRedisClient({ url: `${redis.url}/0`, prefix: 'x', connect_timeout: 5_000, command_timeout: 2_000 }, { configFile: d.config });
  try {
    await client.flushall();
    assert.equal(await client.dbsize(), 0);
  } finally {
    await closeRedisClient(client);
  }
  rmSync(d.keys);

  const restored = cli(['store', 'restore', '--from', backup, '--config', d.config]);
  assert.equal(restored.status, 0, restored.stderr);
  assert.match(restored.stdout, /→ redis \(standalone, prefix spg:backup:\)/);
  assert.match(restored.stdout, /enrollments +1\n/);
  const twice = cli(['store', 'restore', '--from', backup, '--config', d.config]);
  assert.equal(twice.status, 1, 'a Redis that holds records is not overwritten without --force');
  assert.match(twice.stderr, /already holds records/);

  // What restore wrote is in the append-only file: it survives a Redis restart.
  await redis.restart();
  const back = await start(d.config, clock);
  try {
    await signInWithTotp(back, enrolled, clock, 9);
  } finally {
    await back.close();
  }

  // The RDB snapshot, restored as the README says into a Redis that keeps the append-only file:
  // load it with appendonly off, switch AOF on (Redis rewrites the file from the loaded data),
  // then run with appendonly yes as usual.
  const rdbDir = join(d.dir, 'rdb');
  const first = await ownRedis(['--dir', rdbDir, '--dbfilename', 'dump.rdb', '--appendonly', 'no']);
  assert.match(first.cli('CONFIG', 'SET', 'appendonly', 'yes'), /OK/);
  await first.until(() => /aof_enabled:1/.test(first.cli('INFO', 'persistence')) && /aof_rewrite_in_progress:0/.test(first.cli('INFO', 'persistence')) && /aof_rewrite_scheduled:0/.test(first.cli('INFO', 'persistence')));
  await first.stop();
  rmSync(join(rdbDir, 'dump.rdb'));
  const second = await ownRedis(['--dir', rdbDir, '--appendonly', 'yes', '--appendfsync', 'always']);
  try {
    writeFileSync(d.config, readFileSync(d.config, 'utf8').replace(`${redis.url}/0`, `redis://127.0.0.1:${second.port}/0`));
    const fromRdb = await start(d.config, clock);
    try {
      await signInWithTotp(fromRdb, enrolled, clock, 9);
    } finally {
      await fromRdb.close();
    }
  } finally {
    await second.stop();
  }
  rmSync(d.dir, { recursive: true, force: true });
});

/** A redis-server with the given arguments on a free port (the helper's server takes no --dir). */
async function ownRedis(args: string[]): Promise<{ port: number; cli(...a: string[]): string; until(ok: () => boolean): Promise<void>; stop(): Promise<void> }> {
  const chosen = await freePort();
  const child = spawn('redis-server', ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', ...args], { stdio: 'ignore' });
  const cliRun = (...a: string[]): string => spawnSync('redis-cli', ['-p', String(chosen), ...a], { encoding: 'utf8' }).stdout ?? '';
  const until = async (ok: () => boolean): Promise<void> => {
    for (let i = 0; i < 400; i++) {
      if (ok()) return;
      await sleep(25);
    }
    throw new Error(`redis on ${chosen} never reached the expected state`);
  };
  await until(() => cliRun('PING').trim() === 'PONG');
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  };
  return { port: chosen, cli: cliRun, until, stop };
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}
