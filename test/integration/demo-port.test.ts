import { cryptoRandom } from '../../src/core/random.ts';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newEncryptionKeys } from '../../src/factors/secret-box.ts';

/**
 * Issue 13's newcomer: a second `npm start` beside the first, moved with GUARD_PORT,
 * GUARD_ADMIN_PORT and GUARD_DEMO_APP_PORT, works; a port in use names the variable to change.
 */

const BIN = join(process.cwd(), 'bin', 'smartpush-guard.js');
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** A copy of the demo config whose files live in a temporary folder (the checkout's var/ keeps only the shared secrets). */
function demoConfig(): string {
  const dir = mkdtempSync(join(tmpdir(), 'spg-demo-port-'));
  writeFileSync(join(dir, 'session.json'), JSON.stringify({ '1': 'p'.repeat(40) }));
  writeFileSync(join(dir, 'enc.json'), newEncryptionKeys(cryptoRandom));
  const config = join(dir, 'demo.yaml');
  writeFileSync(
    config,
    readFileSync('config/demo.yaml', 'utf8')
      .replace('logo: smartpush-logo.svg', `logo: ${join(process.cwd(), 'config', 'smartpush-logo.svg')}`)
      .replace('../policies/smartpush.yaml', join(process.cwd(), 'policies', 'smartpush.yaml'))
      .replace('{ file: ../var/session-keys.json }', `{ file: ${join(dir, 'session.json')} }`)
      .replace('{ file: ../var/encryption-keys.json }', `{ file: ${join(dir, 'enc.json')} }`)
      .replace('sqlite: ../var/guard.db', `sqlite: ${join(dir, 'guard.db')}`)
      .replace('outbox_file: ../var/outbox.jsonl', `outbox_file: ${join(dir, 'outbox.jsonl')}`)
      .replace(/audit:\n(\s+.*\n)*/, ''),
  );
  return config;
}

type Run = { started: true; text: string } | { started: false; code: number | null; text: string };

/** Starts `smartpush-guard demo`; resolves when it prints its banner, or when it exits. */
function startDemo(env: Record<string, string>): Promise<Run> {
  const child = spawn(process.execPath, [BIN, 'demo', '--init-store'], { env: { ...process.env, GUARD_ADMIN_TOKEN: 'a'.repeat(40), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo neither started nor exited:\n${seen}`)), 90_000);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (/Admin listener/.test(seen)) {
        clearTimeout(timer);
        resolve({ started: true, text: seen });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ started: false, code, text: seen });
    });
  });
}

test('a second demo with other GUARD_PORT, GUARD_ADMIN_PORT and GUARD_DEMO_APP_PORT runs beside the first; a taken port names its variable', async () => {
  const [guardA, adminA, appA, guardB, adminB, appB] = await Promise.all([1, 2, 3, 4, 5, 6].map(() => freePort()));
  const first = await startDemo({ GUARD_CONFIG: demoConfig(), GUARD_PORT: String(guardA), GUARD_ADMIN_PORT: String(adminA), GUARD_DEMO_APP_PORT: String(appA) });
  assert.ok(first.started, first.text);
  assert.match(first.text, new RegExp(`Legacy app {6}http://127\\.0\\.0\\.1:${appA} \\(bundled demo\\)`));
  const second = await startDemo({ GUARD_CONFIG: demoConfig(), GUARD_PORT: String(guardB), GUARD_ADMIN_PORT: String(adminB), GUARD_DEMO_APP_PORT: String(appB) });
  assert.ok(second.started, second.text);
  // Each sidecar fronts its own demo app: the public favicon comes through both.
  for (const port of [guardA, guardB]) assert.equal((await fetch(`http://127.0.0.1:${port}/favicon.ico`)).status, 200, `sidecar on ${port}`);
  for (const port of [appA, appB]) assert.equal((await fetch(`http://127.0.0.1:${port}/favicon.ico`)).status, 200, `demo app on ${port}`);

  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ GUARD_PORT: String(await freePort()), GUARD_ADMIN_PORT: String(await freePort()), GUARD_DEMO_APP_PORT: String(appA) }, /demo app's address 127\.0\.0\.1:\d+ is already in use .*set GUARD_DEMO_APP_PORT to a free port/],
    [{ GUARD_PORT: String(guardA), GUARD_ADMIN_PORT: String(await freePort()), GUARD_DEMO_APP_PORT: String(await freePort()) }, /sidecar's address 127\.0\.0\.1:\d+ is already in use .*set GUARD_PORT to a free port/],
    [{ GUARD_PORT: String(await freePort()), GUARD_ADMIN_PORT: String(adminA), GUARD_DEMO_APP_PORT: String(await freePort()) }, /admin listener's address 127\.0\.0\.1:\d+ is already in use .*set GUARD_ADMIN_PORT to a free port/],
    [{ GUARD_DEMO_APP_PORT: 'eighty' }, /GUARD_DEMO_APP_PORT: must be a port number/],
  ];
  for (const [env, message] of cases) {
    const run = await startDemo({ GUARD_CONFIG: demoConfig(), ...env });
    assert.equal(run.started, false, `started despite ${JSON.stringify(env)}:\n${run.text}`);
    assert.equal(run.started === false && run.code, 1, run.text);
    assert.match(run.text, message);
  }
});
