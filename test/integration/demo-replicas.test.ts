import { cryptoRandom } from '../../src/core/random.ts';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newEncryptionKeys } from '../../src/factors/secret-box.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { GuardClient, MERCHANT, expectStatus, lastCode } from '../helpers/two-factor.ts';

/**
 * Issue 6's own scenario, with real processes: two `smartpush-guard demo` processes of one
 * checkout with different GUARD_PORT/GUARD_ADMIN_PORT, the second with GUARD_UPSTREAM pointing at
 * the first's demo app, both with the same GUARD_REDIS_URL, behave as one service.
 */

const BIN = join(process.cwd(), 'bin', 'smartpush-guard.js');
let redis: RedisServer | null = null;
const children: ChildProcess[] = [];

before(async () => {
  redis = await startRedisServer();
  if (!redis) console.warn('\n*** demo-replicas: redis-server is NOT installed — this test is SKIPPED ***\n');
});
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await redis?.stop();
});

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

function startDemo(env: Record<string, string>): Promise<{ url: string; adminUrl: string }> {
  const child = spawn(process.execPath, [BIN, 'demo'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not start:\n${seen}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      const url = /"url":"([^"]+)","adminUrl":"([^"]+)"/.exec(seen);
      if (url) {
        clearTimeout(timer);
        resolve({ url: url[1] as string, adminUrl: url[2] as string });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the demo exited (${code}):\n${seen}`)));
  });
}

test('two demo processes on one Redis behave as one service', async () => {
  if (!redis) return; // allowed-skip: announced above; CI=true fails in startRedisServer instead
  // A copy of the demo config whose demo app gets a free port and whose secrets and files live in
  // a temporary folder (the checkout's var/ is left to `npm start`).
  const dir = mkdtempSync(join(tmpdir(), 'spg-demo-replicas-'));
  writeFileSync(join(dir, 'session.json'), JSON.stringify({ '1': 'd'.repeat(40) }));
  writeFileSync(join(dir, 'enc.json'), newEncryptionKeys(cryptoRandom));
  const appPort = await freePort();
  const config = join(dir, 'demo.yaml');
  writeFileSync(
    config,
    readFileSync('config/demo.yaml', 'utf8')
      .replace('logo: smartpush-logo.svg', `logo: ${join(process.cwd(), 'config', 'smartpush-logo.svg')}`)
      .replace('url: http://127.0.0.1:8081', `url: http://127.0.0.1:${appPort}`)
      .replace('../policies/smartpush.yaml', join(process.cwd(), 'policies', 'smartpush.yaml'))
      .replace('{ file: ../var/session-keys.json }', `{ file: ${join(dir, 'session.json')} }`)
      .replace('{ file: ../var/encryption-keys.json }', `{ file: ${join(dir, 'enc.json')} }`)
      .replace('sqlite: ../var/guard.db', `sqlite: ${join(dir, 'guard.db')}`)
      .replace('outbox_file: ../var/outbox.jsonl', `outbox_file: ${join(dir, 'outbox.jsonl')}`)
      .replace(/audit:\n(\s+.*\n)*/, ''),
  );
  const shared = { GUARD_CONFIG: config, GUARD_REDIS_URL: redis.url, GUARD_ADMIN_TOKEN: 't'.repeat(40) };
  const a = await startDemo({ ...shared, GUARD_PORT: String(await freePort()), GUARD_ADMIN_PORT: String(await freePort()) });
  const b = await startDemo({
    ...shared,
    GUARD_PORT: String(await freePort()),
    GUARD_ADMIN_PORT: String(await freePort()),
    GUARD_UPSTREAM: `http://127.0.0.1:${appPort}`,
  });

  const onA = new GuardClient(a.url);
  const login = expectStatus(await onA.login(MERCHANT), 200, 'sign-in on A');
  // The demo scores risk: a first sign-in from a new device asks for the email code.
  if (login.body['status'] === 'verification_required') {
    expectStatus(await onA.verify(lastCode(join(dir, 'outbox.jsonl'), MERCHANT)), 200, 'risk email code on A');
  }
  const onB = new GuardClient(b.url);
  for (const [name, value] of onA.cookies) onB.cookies.set(name, value);
  const me = expectStatus(await onB.me(), 200, '/api/me on B with the session made on A');
  assert.equal(me.body['email'], MERCHANT);

  expectStatus(await onB.logout(), 200, 'logout on B');
  const loggedOutAt = Date.now();
  let status = (await onA.me()).status;
  while (status === 200 && Date.now() - loggedOutAt < 1000) status = (await onA.me()).status;
  assert.equal(status, 401, 'A still accepted the session a second after the logout on B');
  for (const admin of [a.adminUrl, b.adminUrl]) assert.equal((await fetch(`${admin}/readyz`)).status, 200);
});
