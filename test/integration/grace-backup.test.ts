import { cryptoRandom } from '../../src/core/random.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../src/config/schema.ts';
import type { LoadedConfig } from '../../src/config/load.ts';
import { newEncryptionKeys } from '../../src/factors/secret-box.ts';
import { runBackup } from '../../src/cli/store-backup.ts';
import { runRestore } from '../../src/cli/store-restore.ts';
import { SqliteDurableStore } from '../../src/store/sqlite.ts';
import { SqliteGraceStore } from '../../src/store/sqlite-grace.ts';
import { DEMO_LOGIN } from '../helpers/stack.ts';
import { systemClock } from '../../src/core/clock.ts';

/**
 * `store backup` / `store restore` carry the require_2fa grace records (issue 17): a restored store
 * gives nobody a fresh grace period. Embedded store to a backup folder and back into a new one.
 */

function embedded(dir: string, keysFile: string, db: string): LoadedConfig {
  const sessionKeys = join(dir, 'session-keys.json');
  writeFileSync(sessionKeys, JSON.stringify({ '1': randomBytes(32).toString('base64url') }), { mode: 0o600 });
  const config = configSchema.parse({
    version: 1,
    upstream: { url: 'http://127.0.0.1:9' },
    session: { keys: { file: sessionKeys } },
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    login: { ...DEMO_LOGIN, success: { ...DEMO_LOGIN.success, status: [302, 303] } },
    channels: { outbox_file: join(dir, 'outbox.jsonl'), email: { kind: 'outbox' }, sms: { kind: 'outbox' } },
    store: { sqlite: db },
    factors: { encryption_keys: { file: keysFile } },
    policy: 'policy.yaml',
  });
  return { config, file: join(dir, 'config.yaml'), policyPath: join(dir, 'policy.yaml') };
}

test('store backup and restore keep the grace records (first prompt, skips, ended)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spg-grace-backup-'));
  const keysFile = join(dir, 'encryption-keys.json');
  writeFileSync(keysFile, newEncryptionKeys(cryptoRandom), { mode: 0o600 });
  const source = SqliteDurableStore.open(join(dir, 'guard.db'), { clock: systemClock, create: true });
  const grace = new SqliteGraceStore(source);
  await grace.skip('zoe@example.com', 1000, 3);
  await grace.end('sam@example.com', 2000);
  await source.close();

  const lines: string[] = [];
  const out = (text: string): void => void lines.push(text);
  assert.equal(await runBackup(join(dir, 'backup'), { loaded: embedded(dir, keysFile, 'guard.db'), openRedis: () => Promise.reject(new Error('no redis')), out }), 0);
  const manifest = JSON.parse(readFileSync(join(dir, 'backup', 'manifest.json'), 'utf8')) as { counts: { twoFactorGrace?: number } };
  assert.equal(manifest.counts.twoFactorGrace, 2);
  assert.match(lines.join(''), /2FA grace periods +2/);

  const target = embedded(dir, keysFile, 'restored.db');
  assert.equal(await runRestore(join(dir, 'backup'), { force: false }, { loaded: target, openRedis: () => Promise.reject(new Error('no redis')), out }), 0);
  const restored = SqliteDurableStore.open(join(dir, 'restored.db'), { clock: systemClock });
  try {
    const back = new SqliteGraceStore(restored);
    assert.deepEqual(await back.get('zoe@example.com'), { user: 'zoe@example.com', firstPromptAt: 1000, skips: 1, endedAt: null });
    assert.deepEqual(await back.get('sam@example.com'), { user: 'sam@example.com', firstPromptAt: 2000, skips: 0, endedAt: 2000 });
  } finally {
    await restored.close();
  }
});
