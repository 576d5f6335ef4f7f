import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeFailure, main } from '../../src/cli/main.ts';

/** Issue 13's newcomer: --help everywhere, `secrets init`, and a `config check` that reads the secrets. */

const BIN = join(process.cwd(), 'bin', 'smartpush-guard.js');

function run(args: string[], env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, cwd, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Several CLI runs at once (each is a process start; one by one they take long on a busy machine). */
async function runAll(commands: string[][]): Promise<Array<{ args: string[]; status: number | null; stdout: string; stderr: string }>> {
  const results: Array<{ args: string[]; status: number | null; stdout: string; stderr: string }> = [];
  const queue = [...commands];
  const worker = async (): Promise<void> => {
    for (let args = queue.shift(); args; args = queue.shift()) {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const status = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      clearTimeout(timer);
      results.push({ args, status, stdout, stderr });
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return results;
}

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'spg-newcomer-'));

/** The command words of every entry `smartpush-guard --help` lists, e.g. ['policy', 'explain']. */
function listedCommands(usage: string): string[][] {
  const commands: string[][] = [];
  let inCommands = false;
  for (const line of usage.split('\n')) {
    if (line.startsWith('Commands:')) inCommands = true;
    const m = inCommands ? /^ {2}([a-z][a-z0-9-]*)(?: ([a-z][a-z0-9-]*))?(?=\s|$)/.exec(line) : null;
    if (m) commands.push(m[2] && !m[2].startsWith('-') ? [m[1]!, m[2]] : [m[1]!]);
  }
  return commands;
}

test('--help on every command listed by --help: exit 0 and that command\'s usage on stdout; unknown options exit 2', async () => {
  const top = run(['--help']);
  assert.equal(top.status, 0, top.stderr);
  const commands = listedCommands(top.stdout);
  const names = commands.map((c) => c.join(' '));
  for (const expected of ['serve', 'demo', 'demo-app', 'config check', 'secrets init', 'policy check', 'policy explain', 'policy test', 'store migrate', 'admin status', 'help']) {
    assert.ok(names.includes(expected), `--help does not list ${expected}: ${names.join(', ')}`);
  }
  const helpRuns = commands.map((words) => [...words, '--help']);
  // Spawned for a few; every listed command is checked in-process below (a process start is slow).
  const badRuns = [['serve', '--no-such-option'], ['secrets', 'init', '--no-such-option']];
  const extra = [['policy', '-h'], ['policy', '--help'], ['admin', '--help'], ['help', 'policy', 'explain'], ['policy', 'explain', '--path', '/x', '--help'], ['admin', 'status', 'ann@example.com', '--help'], ['bogus', '--help'], ['help', 'bogus']];
  const results = await runAll([...helpRuns, ...badRuns, ...extra]);
  const resultOf = (args: string[]) => results.find((r) => r.args.join(' ') === args.join(' '))!;
  for (const args of helpRuns) {
    const r = resultOf(args);
    const words = args.slice(0, -1);
    assert.equal(r.status, 0, `${args.join(' ')}: exit ${r.status} ${r.stderr}`);
    assert.equal(r.stderr, '', args.join(' '));
    assert.match(r.stdout, new RegExp(`^Usage: smartpush-guard ${words[0]}`), args.join(' '));
    assert.ok(r.stdout.includes(`  ${words.join(' ')}`), `${args.join(' ')} shows its own line:\n${r.stdout}`);
  }
  for (const args of badRuns) {
    const r = resultOf(args);
    assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /Usage: smartpush-guard/, args.join(' '));
  }
  for (const args of extra.slice(0, 6)) {
    const r = resultOf(args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /^Usage: smartpush-guard /, args.join(' '));
  }
  for (const words of commands.filter((w) => w[0] !== 'help')) {
    const args = [...words, '--no-such-option'];
    const failure = await main(args).then(
      (code) => ({ code, message: `returned ${code}` }),
      (error: unknown) => describeFailure(error, args),
    );
    assert.equal(failure.code, 2, `${args.join(' ')}: ${failure.message}`);
    assert.match(failure.message, new RegExp(`Unknown option '--no-such-option'[^]*Usage: smartpush-guard ${words[0]}`), args.join(' '));
  }
  assert.match(resultOf(['help', 'policy', 'explain']).stdout, /policy explain/);
  assert.doesNotMatch(resultOf(['help', 'policy', 'explain']).stdout, /store migrate/, 'one command\'s help, not everything');
  for (const args of extra.slice(6)) {
    const r = resultOf(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, /Unknown command: bogus/);
  }
});

test('secrets init creates the missing secret files with mode 0600 and never overwrites one', () => {
  const dir = join(tempDir(), 'var');
  const first = run(['secrets', 'init', '--dir', dir]);
  assert.equal(first.status, 0, first.stderr);
  const files = ['session-keys.json', 'encryption-keys.json', 'admin-token'];
  for (const name of files) {
    const path = join(dir, name);
    assert.equal(statSync(path).mode & 0o777, 0o600, name);
    assert.match(first.stdout, new RegExp(`created .*${name.replace('.', '\\.')} \\(`));
  }
  assert.ok(JSON.parse(readFileSync(join(dir, 'session-keys.json'), 'utf8'))['1'].length >= 32);
  assert.ok(readFileSync(join(dir, 'admin-token'), 'utf8').trim().length >= 32);
  const before = files.map((name) => readFileSync(join(dir, name), 'utf8'));
  const second = run(['secrets', 'init', '--dir', dir]);
  assert.equal(second.status, 0, second.stderr);
  assert.doesNotMatch(second.stdout, /created/);
  assert.equal((second.stdout.match(/^kept /gm) ?? []).length, 3);
  assert.deepEqual(files.map((name) => readFileSync(join(dir, name), 'utf8')), before, 'nothing was overwritten');
  // Secrets never reach the output.
  for (const text of before) assert.ok(!(first.stdout + second.stdout).includes(text.trim()));
});

test('secrets init never makes new encryption keys beside an existing store (its sealed data would be lost)', () => {
  const dir = join(tempDir(), 'var');
  assert.equal(run(['secrets', 'init', '--dir', dir]).status, 0);
  writeFileSync(join(dir, 'guard.db'), 'SQLite format 3\0 (stands in for a store with sealed TOTP secrets)');
  rmSync(join(dir, 'encryption-keys.json'));
  const r = run(['secrets', 'init', '--dir', dir]);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /encryption-keys\.json is missing but .*guard\.db exists: new encryption keys would make its sealed TOTP secrets and code hashes unreadable\. Restore the key file from your backup/);
  assert.ok(!existsSync(join(dir, 'encryption-keys.json')), 'no new key file');
});

test('secrets init --config creates the files that config names; then config check says ok', () => {
  const dir = tempDir();
  const config = join(dir, 'guard.yaml');
  writeFileSync(
    config,
    readFileSync('config/demo.yaml', 'utf8')
      .replace('logo: smartpush-logo.svg', `logo: ${join(process.cwd(), 'config', 'smartpush-logo.svg')}`)
      .replace('../policies/smartpush.yaml', join(process.cwd(), 'policies', 'smartpush.yaml'))
      .replace('{ file: ../var/session-keys.json }', '{ file: secrets/session.json }')
      .replace('{ file: ../var/encryption-keys.json }', '{ file: secrets/enc.json }'),
  );
  const missing = run(['config', 'check', config], { GUARD_ADMIN_TOKEN: '' });
  assert.equal(missing.status, 1, missing.stdout);
  assert.match(missing.stderr, /session\.keys: .*secrets\/session\.json: cannot read secret file \(ENOENT\)/);
  assert.match(missing.stderr, /factors\.encryption_keys: .*secrets\/enc\.json: cannot read secret file \(ENOENT\)/);
  assert.match(missing.stderr, /secrets init/);
  assert.doesNotMatch(missing.stdout, /ok/);
  const init = run(['secrets', 'init', '--config', config]);
  assert.equal(init.status, 0, init.stderr);
  assert.match(init.stdout, /created .*secrets\/session\.json/);
  assert.match(init.stdout, /created .*secrets\/enc\.json/);
  assert.equal(statSync(join(dir, 'secrets', 'enc.json')).mode & 0o777, 0o600);
  assert.ok(!existsSync(join(dir, 'var')), 'only the files the config names');
  const ok = run(['config', 'check', config], { GUARD_ADMIN_TOKEN: '' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /: ok \(.*2 secrets readable\)/);
});

test('config check: a missing variable, an unparsable key file or a short token is one clear line and exit 1', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'session.json'), JSON.stringify({ '1': 's'.repeat(40) }));
  writeFileSync(join(dir, 'enc.json'), '{"1": "not base64 of 32 bytes!"}');
  writeFileSync(join(dir, 'token'), 'short');
  const config = join(dir, 'guard.yaml');
  writeFileSync(
    config,
    readFileSync('config/demo.yaml', 'utf8')
      .replace('logo: smartpush-logo.svg', `logo: ${join(process.cwd(), 'config', 'smartpush-logo.svg')}`)
      .replace('../policies/smartpush.yaml', join(process.cwd(), 'policies', 'smartpush.yaml'))
      .replace('{ file: ../var/session-keys.json }', '{ env: SPG_TEST_SESSION_KEYS }')
      .replace('{ file: ../var/encryption-keys.json }', `{ file: enc.json }`)
      .replace(/^admin:\n/m, 'admin:\n  tokens: [{ name: ops, token: { file: token } }]\n'),
  );
  const r = run(['config', 'check', config], { GUARD_ADMIN_TOKEN: '', SPG_TEST_SESSION_KEYS: '' });
  assert.equal(r.status, 1, r.stdout);
  const lines = r.stderr.trim().split('\n');
  assert.ok(lines.some((l) => /session\.keys: environment variable SPG_TEST_SESSION_KEYS is not set/.test(l)), r.stderr);
  assert.ok(lines.some((l) => /factors\.encryption_keys \(enc\.json\): encryption keys: key 1 must be/.test(l)), r.stderr);
  assert.ok(lines.some((l) => /admin\.tokens\[0\]\.token \(token\): the admin token must be at least 32 characters/.test(l)), r.stderr);
  assert.ok(!r.stderr.includes('not base64 of 32 bytes'), 'the secret is not echoed');
  const fixed = run(['config', 'check', config], { GUARD_ADMIN_TOKEN: '', SPG_TEST_SESSION_KEYS: JSON.stringify({ '1': 'k'.repeat(40) }) });
  assert.equal(fixed.status, 1);
  assert.doesNotMatch(fixed.stderr, /session\.keys/);
});
