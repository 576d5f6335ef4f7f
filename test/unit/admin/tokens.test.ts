import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminTokens } from '../../../src/admin/tokens.ts';
import { ConfigError, parseConfig } from '../../../src/config/load.ts';

/** Admin bearer tokens: config shape, GUARD_ADMIN_TOKEN, the length rule, and the comparison. */

const A = 'a'.repeat(40);
const B = 'b'.repeat(32);

const BASE = `version: 1
upstream: { url: "http://127.0.0.1:8081" }
policy: p.yaml
session: { keys: { env: K } }
login: { upstream: { path: /login }, success: { cookie: sp } }
factors: { encryption_keys: { env: E } }
channels: { email: { kind: outbox }, sms: { kind: outbox } }
risk: {}
`;

test('check(): the matching token names the actor; missing, malformed and wrong tokens are told apart', () => {
  const tokens = new AdminTokens([
    { name: 'support', token: A },
    { name: 'rotated', token: B },
  ]);
  assert.deepEqual(tokens.check(`Bearer ${A}`), { ok: true, name: 'support' });
  assert.deepEqual(tokens.check(`bearer ${B}`), { ok: true, name: 'rotated' });
  assert.deepEqual(tokens.check(undefined), { ok: false, reason: 'missing' });
  assert.deepEqual(tokens.check(''), { ok: false, reason: 'missing' });
  for (const bad of [`Basic ${A}`, 'Bearer', `Bearer ${A} ${B}`, `Bearer\t${A}`, `Bearer ${A}\u0000`]) {
    assert.deepEqual(tokens.check(bad), { ok: false, reason: 'malformed' }, JSON.stringify(bad));
  }
  for (const wrong of [A.slice(1), `${A}a`, 'c'.repeat(40), A.toUpperCase()]) {
    assert.deepEqual(tokens.check(`Bearer ${wrong}`), { ok: false, reason: 'invalid' });
  }
});

test('no token configured: every check answers disabled (fail closed)', () => {
  const none = new AdminTokens([]);
  assert.equal(none.enabled, false);
  assert.deepEqual(none.check(`Bearer ${A}`), { ok: false, reason: 'disabled' });
});

test('fromConfig reads env and file tokens and refuses short, missing or duplicate ones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spg-tokens-'));
  writeFileSync(join(dir, 'token'), `${B}\n`);
  const loaded = parseConfig(`${BASE}admin:\n  tokens:\n    - { name: ops, token: { env: OPS_TOKEN } }\n    - { name: file, token: { file: token } }\n`, join(dir, 'c.yaml'), {});
  const tokens = AdminTokens.fromConfig(loaded.config.admin, loaded.file, { OPS_TOKEN: A });
  assert.deepEqual(tokens.check(`Bearer ${A}`), { ok: true, name: 'ops' });
  assert.deepEqual(tokens.check(`Bearer ${B}`), { ok: true, name: 'file' });

  assert.throws(
    () => AdminTokens.fromConfig(loaded.config.admin, loaded.file, { OPS_TOKEN: 'short' }),
    (error: unknown) => error instanceof ConfigError && /admin\.tokens \(ops\): the admin token must be at least 32 characters \(got 5\)/.test(error.message),
  );
  assert.throws(
    () => AdminTokens.fromConfig(loaded.config.admin, loaded.file, {}),
    (error: unknown) => error instanceof ConfigError && /admin\.tokens \(ops\): environment variable OPS_TOKEN is not set/.test(error.message),
  );
  assert.throws(
    () => parseConfig(`${BASE}admin:\n  tokens:\n    - { name: x, token: { env: T } }\n    - { name: x, token: { env: U } }\n`, join(dir, 'c.yaml'), {}),
    /token names must be unique/,
  );
  assert.throws(() => parseConfig(`${BASE}admin:\n  tokens:\n    - { name: x, token: "${A}" }\n`, join(dir, 'c.yaml'), {}), /admin\.tokens\.0\.token/);
});

test('GUARD_ADMIN_TOKEN adds the token named env, replacing a configured one of that name; a short one is refused at load', () => {
  const file = join(tmpdir(), 'c.yaml');
  const plain = parseConfig(BASE, file, {});
  assert.deepEqual(plain.config.admin.tokens, []);
  const withEnv = parseConfig(`${BASE}admin:\n  tokens:\n    - { name: env, token: { env: OLD } }\n    - { name: ops, token: { env: OPS } }\n`, file, {
    GUARD_ADMIN_TOKEN: A,
  });
  assert.deepEqual(withEnv.config.admin.tokens, [
    { name: 'ops', token: { env: 'OPS' } },
    { name: 'env', token: { env: 'GUARD_ADMIN_TOKEN' } },
  ]);
  assert.equal(withEnv.config.admin.port, 9090);
  assert.throws(
    () => parseConfig(BASE, file, { GUARD_ADMIN_TOKEN: `${A} with spaces` }),
    (error: unknown) => error instanceof ConfigError && /^GUARD_ADMIN_TOKEN: the admin token may hold only letters, digits and -\._~\+\//.test(error.message),
  );
  assert.throws(
    () => parseConfig(BASE, file, { GUARD_ADMIN_TOKEN: 'too-short' }),
    (error: unknown) => error instanceof ConfigError && /^GUARD_ADMIN_TOKEN: the admin token must be at least 32 characters \(got 9\)/.test(error.message),
  );
});
