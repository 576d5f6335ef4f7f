import { cryptoRandom } from '../../src/core/random.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startDemoApp } from '../../demo/app.ts';
import { configSchema, type ConfigInput } from '../../src/config/schema.ts';
import type { LoadedConfig } from '../../src/config/load.ts';
import { systemClock, type Clock } from '../../src/core/clock.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startGuard, type RunningGuard, type StartOptions } from '../../src/server/start.ts';
import { newEncryptionKeys } from '../../src/factors/secret-box.ts';

/**
 * The one way a test starts a stack: the sidecar in process, in front of the demo app (or a given
 * upstream) on ephemeral ports, with its logs captured as parsed JSON lines. One options object says
 * what differs: the upstream, the policy, config keys, the clock, where ephemeral state lives.
 *
 * The other starters are presets of this one: `startClockedStack`/`withClockedStack`
 * (two-factor.ts: a ManualClock and an API client), `withRiskStack` (step-up.ts: a `risk:` block),
 * `startRecordedStack` (browser-like.ts: a recording hop as upstream), and `startReplicas`
 * (replicas.ts: several sidecars on one Redis, built from the same `stackFiles`/`baseConfig`).
 *
 * Deliberately separate, because they test something this one cannot:
 * - guard-process.ts runs `bin/smartpush-guard.js serve` as a real child process (kill -9, exit
 *   codes, damaged files, `--workers`), configured by a YAML file as an operator writes it;
 * - django.ts, php-app.ts, dokuwiki.ts, nginx.ts, caddy.ts start real third-party apps and proxies;
 * - username-app.ts is an upstream (a username-account app), not a sidecar: pass its URL as `upstreamUrl`.
 */

/** How the sidecar talks to the bundled demo app's login (as in config/demo.yaml). */
export const DEMO_LOGIN = {
  upstream: { path: '/login', encoding: 'form', fields: { email: 'email', password: 'password' } },
  success: { status: [302, 303], location: '^/dashboard', cookie: 'sp_session' },
  logout: { path: '/logout', method: 'GET' },
  profile: { path: '/api/me', email_field: 'email', phone_field: 'phone' },
  landing: '/dashboard',
  min_response_time: '0ms',
} as const;

/** Risk thresholds that no sign-in reaches (risk scoring stays out of tests that are not about it). */
export const LOW_RISK = { levels: { medium: 1000, high: 2000 } } as const;

/** The demo policy every stack runs unless a test gives its own. */
export const DEMO_POLICY_FILE = join(process.cwd(), 'policies', 'smartpush.yaml');

export const OPEN_POLICY = `version: 1
rules:
  - name: everything-public
    paths: ["/**"]
    access: public
`;

export interface Stack {
  readonly guard: RunningGuard;
  readonly url: string;
  readonly adminUrl: string;
  readonly upstreamUrl: string;
  readonly policyFile: string;
  /** The outbox file every code and notification of this stack goes to. */
  readonly outboxFile: string;
  /** The stack's own temp folder and its files (session keys, encryption keys, SQLite file, outbox). */
  readonly files: StackFiles;
  /** The clock the sidecar runs on (the system clock unless the options gave one). */
  readonly clock: Clock;
  readonly logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * Where state lives: `memory` (the default, `store.kind: embedded`): ephemeral state (sessions,
 * flows, counters) in this process and durable records in the stack's SQLite file; or a Redis
 * server (`store.kind: redis`: everything in Redis), under a key prefix unique to the stack unless
 * one is given, so stacks sharing one Redis never meet.
 */
export type StoreKind = 'memory' | { readonly redis: string; readonly prefix?: string };

export interface StackOptions {
  /** Policy YAML text (default: the demo policy file). */
  readonly policy?: string;
  /** An upstream URL to use instead of starting the demo app. */
  readonly upstreamUrl?: string;
  /** Config keys merged over the defaults (shallowly; session and factors keep the stack's keys, upstream its url, policy its file). */
  readonly config?: Partial<ConfigInput>;
  /** The sidecar's clock (default: the system clock). A ManualClock lets the test move time. */
  readonly clock?: Clock;
  /** Where ephemeral state lives (default `memory`). A test's own store object goes in `start.store`. */
  readonly store?: StoreKind;
  /** Anything else `startGuard` takes: watchPolicy, a durable store or audit recorder of the test's, a faulty ephemeral store. */
  readonly start?: StartOptions;
}

/** The secrets and files of one test deployment, in a fresh temp folder. */
export interface StackFiles {
  readonly dir: string;
  readonly sessionKeysFile: string;
  readonly encryptionKeysFile: string;
  readonly sqliteFile: string;
  readonly outboxFile: string;
}

/** A fresh temp folder with new session keys and encryption keys (a new deployment). */
export function stackFiles(prefix = 'spg-test-'): StackFiles {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const sessionKeysFile = join(dir, 'session-keys.json');
  writeFileSync(sessionKeysFile, JSON.stringify({ '1': randomBytes(32).toString('base64url') }), { mode: 0o600 });
  const encryptionKeysFile = join(dir, 'encryption-keys.json');
  writeFileSync(encryptionKeysFile, newEncryptionKeys(cryptoRandom), { mode: 0o600 });
  return { dir, sessionKeysFile, encryptionKeysFile, sqliteFile: join(dir, 'guard.db'), outboxFile: join(dir, 'outbox.jsonl') };
}

/**
 * The config every test stack starts from, before a test's own keys: ephemeral ports, the demo
 * app's login, the stack's files, outbox channels (codes are read from the file), and low risk.
 */
export function baseConfig(files: StackFiles, upstreamUrl: string, policyFile: string) {
  return {
    version: 1,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    upstream: { url: upstreamUrl },
    policy: policyFile,
    session: { keys: { file: files.sessionKeysFile } },
    login: DEMO_LOGIN,
    store: { sqlite: files.sqliteFile },
    factors: { encryption_keys: { file: files.encryptionKeysFile } },
    channels: { outbox_file: files.outboxFile, email: { kind: 'outbox' }, sms: { kind: 'outbox' } },
    // Most tests sign in from "new devices" all the time: thresholds no sign-in reaches keep risk low.
    // Risk tests pass their own `risk` block.
    risk: LOW_RISK,
  } as const;
}

/** A key prefix no other test's keys share, for stacks on one Redis. */
export function uniqueRedisPrefix(): string {
  return `spg:test-${randomBytes(4).toString('hex')}:`;
}

export function memoryLogger(level = 'info'): { logger: ReturnType<typeof createLogger>; logs: Array<Record<string, unknown>> } {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: createLogger(level, sink), logs };
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const files = stackFiles();
  const { dir } = files;
  const demo = options.upstreamUrl ? undefined : await startDemoApp({ host: '127.0.0.1', port: 0 });
  const upstreamUrl = options.upstreamUrl ?? (demo as { url: string }).url;
  let policyFile = DEMO_POLICY_FILE;
  if (options.policy !== undefined) {
    policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, options.policy);
  }
  const base = baseConfig(files, upstreamUrl, policyFile);
  const store = options.store ?? 'memory';
  const storeConfig =
    store === 'memory' ? base.store : { ...base.store, kind: 'redis' as const, redis: { url: store.redis, prefix: store.prefix ?? uniqueRedisPrefix() } };
  // Parsed inside the try below: a config the schema refuses must also close the demo app.
  const parseConfig = (): ReturnType<typeof configSchema.parse> =>
    configSchema.parse({
      ...base,
      store: storeConfig,
      ...options.config,
      // A test's own session settings keep the stack's keys unless it names other ones.
      session: { ...base.session, ...options.config?.session },
      // A test's own factors settings keep the stack's keys unless it names other ones.
      factors: { ...base.factors, ...options.config?.factors },
      upstream: { ...options.config?.upstream, url: upstreamUrl },
      policy: policyFile,
    });
  const { logger, logs } = memoryLogger();
  const clock = options.clock ?? options.start?.clock ?? systemClock;
  // A fresh temp directory each time: a new deployment, so the store may be created.
  let guard: Awaited<ReturnType<typeof startGuard>>;
  try {
    const loaded: LoadedConfig = { config: parseConfig(), file: join(dir, 'config.yaml'), policyPath: policyFile };
    guard = await startGuard(loaded, { logger, watchPolicy: false, initStore: true, ...options.start, clock });
  } catch (error) {
    // A refused start (the config tests) must not leave the demo app keeping the test process alive.
    await demo?.close();
    throw error;
  }
  return {
    guard,
    url: guard.url,
    adminUrl: guard.adminUrl,
    upstreamUrl,
    policyFile,
    outboxFile: files.outboxFile,
    files,
    clock,
    logs,
    close: async () => {
      await guard.close();
      await demo?.close();
    },
  };
}

/** Runs `fn` with a fresh stack and always closes it. */
export async function withStack<T>(options: StackOptions, fn: (stack: Stack) => Promise<T>): Promise<T> {
  const stack = await startStack(options);
  try {
    return await fn(stack);
  } finally {
    await stack.close();
  }
}

/**
 * Signs in through the sidecar's JSON API and returns the Cookie header a browser would then send
 * (the sidecar session plus the released upstream cookies).
 */
export async function signIn(url: string, email = 'merchant@example.com', password = 'smartpush-demo'): Promise<string> {
  const response = await fetch(`${url}/_guard/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (response.status !== 200) throw new Error(`sign-in failed with ${response.status}: ${await response.text()}`);
  return response.headers
    .getSetCookie()
    .map((c) => c.split(';', 1)[0] as string)
    .filter((c) => !c.endsWith('='))
    .join('; ');
}
