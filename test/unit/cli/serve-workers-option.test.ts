import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { ConfigError, parseConfig } from '../../../src/config/load.ts';
import { workersOf } from '../../../src/cli/serve.ts';
import { UsageError } from '../../../src/cli/policy.ts';

/** How many workers `serve` runs: --workers, else `workers:` (GUARD_WORKERS over the file), else one per core. */

const BASE = 'version: 1\nupstream: { url: "http://127.0.0.1:8081" }\npolicy: p.yaml\nsession: { keys: { env: K } }\nlogin:\n  upstream: { path: /login, encoding: form, fields: { email: email, password: password } }\n  success: { status: [302], cookie: sp_session }\nfactors: { encryption_keys: { env: E } }\nchannels: { email: { kind: outbox }, sms: { kind: outbox } }\n';

function loaded(extra = '', env: Record<string, string> = {}) {
  return parseConfig(BASE + extra, '/tmp/config.yaml', env);
}

test('the default is one worker per core; workers: and GUARD_WORKERS set it; --workers wins', () => {
  assert.equal(workersOf(undefined, loaded()), availableParallelism());
  assert.equal(workersOf(undefined, loaded('workers: 3\n')), 3);
  assert.equal(workersOf(undefined, loaded('workers: 3\n', { GUARD_WORKERS: '5' })), 5);
  assert.equal(workersOf('1', loaded('workers: 3\n', { GUARD_WORKERS: '5' })), 1);
  assert.equal(workersOf('12', loaded()), 12);
});

test('a bad --workers is a usage error; a bad workers: or GUARD_WORKERS a config error naming it', () => {
  for (const bad of ['0', '-1', 'two', '1.5', '', '2000']) {
    assert.throws(() => workersOf(bad, loaded()), (e) => e instanceof UsageError && /--workers must be a whole number from 1 to 1024/.test(e.message), bad);
  }
  assert.throws(() => loaded('workers: 0\n'), (e) => e instanceof ConfigError && /workers/.test(e.message));
  assert.throws(() => loaded('', { GUARD_WORKERS: 'many' }), (e) => e instanceof ConfigError && /GUARD_WORKERS|workers/.test(e.message));
});
