import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteDurableStore } from '../../src/store/sqlite.ts';
import { ADMIN_TOKEN, deployment, oneLine, runCli, type Deployment } from '../helpers/guard-process.ts';
import { systemClock } from '../../src/core/clock.ts';

/**
 * Issue 14 item 13: start-up and CLI errors are one line naming the file and the problem, exit 1,
 * never a stack trace — for `serve`, `config check` and `admin …` alike (`demo` shares the loader).
 */

const ALIAS_BOMB = [
  'a: &a [x, x, x, x, x, x, x, x, x, x]',
  'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
  'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
  'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
  'e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]',
  'f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]',
].join('\n');

function commands(d: Deployment): string[][] {
  return [
    ['serve', '--config', d.config],
    ['config', 'check', d.config],
    ['admin', 'status', 'merchant@example.com', '--config', d.config],
  ];
}

function expectOneLine(d: Deployment, args: string[], pattern: RegExp): void {
  const r = runCli(args);
  assert.equal(r.status, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  assert.match(oneLine(r.stderr), pattern, args.join(' '));
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  void d;
}

test('a YAML alias bomb in the config', () => {
  const d = deployment();
  writeFileSync(d.config, `${readFileSync(d.config, 'utf8')}\n${ALIAS_BOMB}\n`);
  for (const args of commands(d)) expectOneLine(d, args, /config\.yaml: YAML: too many aliases/);
  // The demo reads its config through the same loader.
  const demo = runCli(['demo'], { GUARD_CONFIG: d.config, GUARD_ADMIN_TOKEN: ADMIN_TOKEN });
  assert.equal(demo.status, 1, demo.stdout + demo.stderr);
  assert.match(oneLine(demo.stderr), /config\.yaml: YAML: too many aliases/);
});

test('a config nested 20,000 levels deep', () => {
  const d = deployment();
  writeFileSync(d.config, `${readFileSync(d.config, 'utf8')}\nnested: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`);
  for (const args of commands(d)) expectOneLine(d, args, /config\.yaml(:\d+:\d+)?: YAML: the document is nested too deeply/);
});

test('a damaged database and a directory where guard.db should be', async () => {
  const d = deployment();
  writeFileSync(d.db, 'SQLite format 3\0 but then nothing a database would hold, repeated '.repeat(200));
  expectOneLine(d, ['serve', '--config', d.config], /guard\.db: the durable store is damaged/);
  expectOneLine(d, ['admin', 'status', 'merchant@example.com', '--config', d.config], /guard\.db: the durable store is damaged/);
  rmSync(d.db);
  mkdirSync(d.db);
  expectOneLine(d, ['serve', '--config', d.config], /guard\.db: store\.sqlite must be a SQLite file, but this is a directory/);
  expectOneLine(d, ['serve', '--config', d.config, '--init-store'], /but this is a directory/);
  expectOneLine(d, ['admin', 'status', 'merchant@example.com', '--config', d.config], /but this is a directory/);
});

test('an empty encryption key file, session key file and admin token file', async () => {
  const d = deployment();
  SqliteDurableStore.open(d.db, { clock: systemClock }).close();
  writeFileSync(d.keys, '');
  expectOneLine(d, ['serve', '--config', d.config], /encryption-keys\.json: secret file is empty/);
  expectOneLine(d, ['admin', 'status', 'merchant@example.com', '--config', d.config], /encryption-keys\.json: secret file is empty/);
  writeFileSync(d.keys, '{"1": ""}');
  expectOneLine(d, ['serve', '--config', d.config], /factors\.encryption_keys \(file .*encryption-keys\.json\): encryption keys: key 1 must be a base64/);
  writeFileSync(d.keys, '{}');
  writeFileSync(d.sessionKeys, '\n');
  expectOneLine(d, ['serve', '--config', d.config], /session-keys\.json: secret file is empty/);
  const token = join(d.dir, 'admin-token');
  writeFileSync(token, '');
  writeFileSync(d.config, `${readFileSync(d.config, 'utf8')}\n`.replace('admin: { host: 127.0.0.1, port: 0 }', 'admin: { host: 127.0.0.1, port: 0, tokens: [{ name: ops, token: { file: admin-token } }] }'));
  writeFileSync(d.sessionKeys, JSON.stringify({ '1': 'k'.repeat(40) }));
  writeFileSync(d.keys, '{"1": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}');
  expectOneLine(d, ['serve', '--config', d.config], /admin\.tokens \(ops\): .*admin-token: secret file is empty/);
});
