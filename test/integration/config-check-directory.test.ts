import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** `config check` opens the directory as `serve` does: a missing SQLite file is found before the first code is due. */

const BIN = join(process.cwd(), 'bin', 'smartpush-guard.js');

test('config check: a missing directory database fails with its path; an existing one passes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spg-check-dir-'));
  const config = join(dir, 'config.yaml');
  const write = (file: string): void =>
    writeFileSync(
      config,
      readFileSync('config/demo.yaml', 'utf8')
        .replace('logo: smartpush-logo.svg', `logo: ${join(process.cwd(), 'config', 'smartpush-logo.svg')}`)
        .replace('../policies/smartpush.yaml', join(process.cwd(), 'policies', 'smartpush.yaml'))
        .replaceAll('../var/', `${join(dir, 'var')}/`)
        .replace('  profile: { path: /api/me, email_field: email, phone_field: phone }\n', '  identifier: username\n') +
        `directory:\n  kind: sql\n  driver: sqlite\n  file: ${file}\n  query: "SELECT email FROM auth_user WHERE username = :identifier"\n`,
    );
  write('app.sqlite3');
  // config check reads every secret too: give this config its own, so only the directory can fail.
  const init = spawnSync(process.execPath, [BIN, 'secrets', 'init', '--dir', join(dir, 'var')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(init.status, 0, init.stderr);
  const missing = spawnSync(process.execPath, [BIN, 'config', 'check', config], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, GUARD_CONFIG: '' } });
  assert.equal(missing.status, 1, missing.stderr);
  assert.match(missing.stderr, /app\.sqlite3: cannot open the database read-only .* the file must exist/);

  const db = new Database(join(dir, 'app.sqlite3'));
  db.exec('CREATE TABLE auth_user (username TEXT, email TEXT)');
  db.close();
  const ok = spawnSync(process.execPath, [BIN, 'config', 'check', config], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, GUARD_CONFIG: '' } });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /: ok/);
});
