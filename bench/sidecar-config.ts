/**
 * The sidecar configuration of the benchmark, built with the real schema (as test/helpers/stack.ts
 * does) and shaped like config/demo.yaml: login replayed to the upstream's `POST /login` (the
 * demo app, or bench/upstream.ts which speaks the same protocol), profile at `/api/me`, outbox
 * channels, access log at info. Unlike the demo, login answers are not padded (`min_response_time:
 * 0ms`), so the CPU-per-login case measures work, not sleeping.
 * Secrets come from environment variables generated per process; every file the sidecar writes
 * (SQLite store, outbox) goes to a per-sidecar state folder, never to the demo's var/ files.
 *
 * When the config schema gains a required section, this is the one place to add it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedConfig } from '../src/config/load.ts';
import { configSchema } from '../src/config/schema.ts';

const SESSION_KEYS_ENV = 'SPG_BENCH_SESSION_KEYS';
const ENCRYPTION_KEYS_ENV = 'SPG_BENCH_ENCRYPTION_KEYS';

/** With `redisUrl`, all state goes to that Redis (store.kind: redis), as several replicas run. */
export function benchSidecarConfig(upstreamUrl: string, policyFile: string, stateDir: string, redisUrl?: string): LoadedConfig {
  mkdirSync(stateDir, { recursive: true });
  process.env[SESSION_KEYS_ENV] ??= JSON.stringify({ '1': randomBytes(32).toString('base64url') });
  process.env[ENCRYPTION_KEYS_ENV] ??= JSON.stringify({ '1': randomBytes(32).toString('base64') });
  const config = configSchema.parse({
    version: 1,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    upstream: { url: upstreamUrl },
    policy: policyFile,
    log: { level: 'info' },
    session: { keys: { env: SESSION_KEYS_ENV } },
    login: {
      upstream: { path: '/login', encoding: 'form', fields: { email: 'email', password: 'password' } },
      // Both upstreams (bench/upstream.ts and the demo app) answer an accepted login with 302 to /dashboard.
      success: { status: [302], location: '^/dashboard', cookie: 'sp_session' },
      logout: { path: '/logout', method: 'GET' },
      profile: { path: '/api/me', email_field: 'email' },
      landing: '/dashboard',
      // No padding of login answers: the bench measures the sidecar's CPU per login, not the padding.
      min_response_time: '0ms',
    },
    store: {
      sqlite: join(stateDir, 'guard.db'),
      ...(redisUrl ? { kind: 'redis', redis: { url: redisUrl, prefix: 'spg:bench:' } } : {}),
    },
    factors: { encryption_keys: { env: ENCRYPTION_KEYS_ENV } },
    channels: { outbox_file: join(stateDir, 'outbox.jsonl'), email: { kind: 'outbox' }, sms: { kind: 'outbox' } },
    // The bench signs in from a "new device" every time and measures the proxy, not risk scoring:
    // thresholds no sign-in reaches keep every sign-in low risk (no email code step).
    risk: { levels: { medium: 1000, high: 2000 } },
  });
  // No config file exists: `file` only anchors relative paths, and every path above is absolute.
  return { config, file: join(stateDir, 'config.yaml'), policyPath: policyFile };
}
