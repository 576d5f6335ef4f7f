import { cryptoRandom } from '../../src/core/random.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newEncryptionKeys } from '../../src/factors/secret-box.ts';

/** The CLI as people run it: the bin script, its exit codes and its messages. */

const BIN = join(process.cwd(), 'bin', 'smartpush-guard.js');

function run(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'spg-cli-'));
}

test('policy check: ok for the demo policy, file:line:column and exit 1 for a broken one', () => {
  const ok = run(['policy', 'check', 'policies/smartpush.yaml']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /ok \(6 rules/);
  const dir = tempDir();
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'version: 1\nrules:\n  - name: x\n    paths: ["/a/**/b"]\n    access: pubic\n');
  const broken = run(['policy', 'check', bad]);
  assert.equal(broken.status, 1);
  assert.match(broken.stderr, /bad\.yaml:5:13: rules\[0\]\.access must be one of public, authenticated, deny \(got "pubic"\)/);
  // Once the shape is right, compile errors are located the same way.
  writeFileSync(bad, 'version: 1\nrules:\n  - name: x\n    paths: ["/a/**/b"]\n    access: public\n');
  const compile = run(['policy', 'check', bad]);
  assert.equal(compile.status, 1);
  assert.match(compile.stderr, /bad\.yaml:4:\d+: .*\*\*/);
});

test('policy explain names the rule and the decision, as text and as JSON', () => {
  const text = run(['policy', 'explain', '--policy', 'policies/smartpush.yaml', '--method', 'HEAD', '--path', '/static/../api/contacts/export']);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /canonical path: \/api\/contacts\/export/);
  assert.match(text.stdout, /rule: +contact-export/);
  assert.match(text.stdout, /decision: +login_required/);
  assert.match(text.stdout, /HEAD is decided as GET/);
  const json = run(['policy', 'explain', '--policy', 'policies/smartpush.yaml', '--path', '/api/contacts/export', '--user-state', 'authenticated', '--2fa', 'on', '--risk', 'high', '--json']);
  assert.equal(json.status, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { rule: { name: string }; decision: { kind: string; action: string } };
  assert.equal(parsed.rule.name, 'contact-export');
  assert.deepEqual(parsed.decision, { kind: 'step_up_required', action: 'fresh_code' });
  const rejected = run(['policy', 'explain', '--policy', 'policies/smartpush.yaml', '--path', '//api/me']);
  assert.equal(rejected.status, 0);
  assert.match(rejected.stdout, /rejected with 400/);
});

test('policy explain without --policy uses the policy of the config', () => {
  const r = run(['policy', 'explain', '--method', 'GET', '--path', '/static/app.css'], { GUARD_CONFIG: 'config/demo.yaml' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /rule: +static-assets/);
});

test('policy test: 0 when every expectation holds, 1 with the failing case located otherwise', () => {
  const ok = run(['policy', 'test', 'policies/smartpush.test.yaml']);
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /\d+ passed, 0 failed/);
  const dir = tempDir();
  const file = join(dir, 'wrong.test.yaml');
  writeFileSync(
    file,
    `policy: ${join(process.cwd(), 'policies', 'smartpush.yaml')}\ncases:\n  - name: exports are public (wrong)\n    method: GET\n    path: /api/contacts/export\n    expect: { decision: pass }\n`,
  );
  const failing = run(['policy', 'test', file]);
  assert.equal(failing.status, 1);
  assert.match(failing.stdout, /exports are public \(wrong\)/);
  assert.match(failing.stdout, /0 passed, 1 failed/);
});

test('config check: ok for the demo config; a bad config names the file, line, column and key', () => {
  // config check reads the secrets too: the demo's are made in var/ as `npm start` makes them.
  assert.equal(run(['secrets', 'init']).status, 0);
  const ok = run(['config', 'check', 'config/demo.yaml']);
  assert.equal(ok.status, 0, ok.stderr);
  const dir = tempDir();
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'version: 1\nupstream:\n  url: ftp://x\n  conect_timeout: 5s\npolicy: x.yaml\n');
  const r = run(['config', 'check', bad]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.yaml:3:\d+: upstream\.url: must be an http:\/\/ or https:\/\/ URL/);
  assert.match(r.stderr, /bad\.yaml:4:3: upstream: unknown key "conect_timeout"/);
  assert.match(r.stderr, /bad\.yaml:1:1: session: is required but missing/);
  const env = run(['config', 'check', 'config/demo.yaml'], { GUARD_PORT: 'eighty' });
  assert.equal(env.status, 1);
  assert.match(env.stderr, /GUARD_PORT: /);
});

test('a bad command line exits 2 with the usage', () => {
  for (const args of [['bogus'], ['policy'], ['policy', 'explain'], ['policy', 'explain', '--path', '/x', '--risk', 'extreme'], ['serve', '--nope']]) {
    const r = run(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /Usage: smartpush-guard/);
  }
});

async function waitForLine(stream: NodeJS.ReadableStream, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} in: ${seen}`)), timeoutMs);
    stream.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const m = pattern.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
  });
}

test('serve: honours GUARD_PORT and GUARD_ADMIN_PORT, reloads the policy on SIGHUP (keeping it when broken), drains on SIGTERM', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'session.json'), JSON.stringify({ '1': 'a'.repeat(40) }));
  writeFileSync(join(dir, 'enc.json'), newEncryptionKeys(cryptoRandom));
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, 'version: 1\nrules:\n  - name: open\n    paths: ["/static/**"]\n    access: public\n');
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    readFileSync('config/demo.yaml', 'utf8')
      .replace('logo: smartpush-logo.svg', `logo: ${join(process.cwd(), 'config', 'smartpush-logo.svg')}`)
      .replace('../policies/smartpush.yaml', policy)
      .replace('{ file: ../var/session-keys.json }', `{ file: ${join(dir, 'session.json')} }`)
      .replace('{ file: ../var/encryption-keys.json }', `{ file: ${join(dir, 'enc.json')} }`)
      .replace('sqlite: ../var/guard.db', `sqlite: ${join(dir, 'guard.db')}`)
      .replace('outbox_file: ../var/outbox.jsonl', `outbox_file: ${join(dir, 'outbox.jsonl')}`),
  );
  // A new deployment in a temp folder: --init-store lets it create its SQLite store.
  const child = spawn(process.execPath, [BIN, 'serve', '--config', config, '--init-store'], {
    env: { ...process.env, GUARD_PORT: '0', GUARD_ADMIN_PORT: '0', GUARD_UPSTREAM: 'http://127.0.0.1:9' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const line = await waitForLine(child.stdout, /"msg":"smartpush-guard listening"[^\n]*\n|"url":"[^"]+","adminUrl":"[^"]+"/);
    const url = /"url":"([^"]+)"/.exec(line)?.[1] ?? /"url":"([^"]+)"/.exec(line)?.[1];
    const admin = /"adminUrl":"([^"]+)"/.exec(line)?.[1];
    assert.ok(url && admin, line);
    assert.notEqual(new URL(url).port, '8080');
    assert.equal((await fetch(`${admin}/healthz`)).status, 200);
    // The upstream (port 9) is closed: a public path reaches the proxy and gets 502.
    assert.equal((await fetch(`${url}/static/x`, { headers: { accept: 'application/json' } })).status, 502);
    assert.equal((await fetch(`${url}/other`, { headers: { accept: 'application/json' } })).status, 401);

    writeFileSync(policy, 'version: 1\nrules:\n  - name: broken\n    access: nope\n');
    const failed = waitForLine(child.stdout, /policy reload failed/);
    child.kill('SIGHUP');
    await failed;
    assert.equal((await fetch(`${url}/static/x`, { headers: { accept: 'application/json' } })).status, 502, 'the old policy stays in force');

    writeFileSync(policy, 'version: 1\nrules:\n  - name: all\n    paths: ["/**"]\n    access: public\n');
    const reloaded = waitForLine(child.stdout, /policy reloaded/);
    child.kill('SIGHUP');
    await reloaded;
    assert.equal((await fetch(`${url}/other`, { headers: { accept: 'application/json' } })).status, 502, 'the new policy applies');

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    child.kill('SIGKILL');
  }
});
