import { mkdtempSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startDemoApp } from '../../demo/app.ts';
import { configSchema, type ConfigInput } from '../../src/config/schema.ts';
import type { LoadedConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startGuard, type RunningGuard, type StartOptions } from '../../src/server/start.ts';
import { newEncryptionKeys } from '../../src/factors/secret-box.ts';

/**
 * A real stack for integration and security tests: the demo app (or a given upstream) on an
 * ephemeral port and the sidecar in front of it, with its logs captured as parsed JSON lines.
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
  readonly logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface StackOptions {
  /** Policy YAML text (default: the demo policy file). */
  readonly policy?: string;
  /** An upstream URL to use instead of starting the demo app. */
  readonly upstreamUrl?: string;
  /** Config keys merged over the defaults (upstream and policy are filled in). */
  readonly config?: Partial<ConfigInput>;
  readonly start?: StartOptions;
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
  const dir = mkdtempSync(join(tmpdir(), 'spg-test-'));
  const demo = options.upstreamUrl ? undefined : await startDemoApp({ host: '127.0.0.1', port: 0 });
  const upstreamUrl = options.upstreamUrl ?? (demo as { url: string }).url;
  let policyFile = join(process.cwd(), 'policies', 'smartpush.yaml');
  if (options.policy !== undefined) {
    policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, options.policy);
  }
  const keysFile = join(dir, 'session-keys.json');
  writeFileSync(keysFile, JSON.stringify({ '1': randomBytes(32).toString('base64url') }), { mode: 0o600 });
  const encryptionKeysFile = join(dir, 'encryption-keys.json');
  writeFileSync(encryptionKeysFile, newEncryptionKeys(), { mode: 0o600 });
  // Parsed inside the try below: a config the schema refuses must also close the demo app.
  const parseConfig = (): ReturnType<typeof configSchema.parse> =>
    configSchema.parse({
    version: 1,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    login: DEMO_LOGIN,
    store: { sqlite: join(dir, 'guard.db') },
    channels: { outbox_file: join(dir, 'outbox.jsonl'), email: { kind: 'outbox' }, sms: { kind: 'outbox' } },
    // Most tests sign in from "new devices" all the time: thresholds no sign-in reaches keep risk low.
    // Risk tests pass their own `risk` block.
    risk: LOW_RISK,
    ...options.config,
    // A test's own session settings keep the stack's keys unless it names other ones.
    session: { keys: { file: keysFile }, ...options.config?.session },
    // A test's own factors settings keep the stack's keys unless it names other ones.
    factors: { encryption_keys: { file: encryptionKeysFile }, ...options.config?.factors },
    upstream: { ...options.config?.upstream, url: upstreamUrl },
    policy: policyFile,
  });
  const { logger, logs } = memoryLogger();
  // A fresh temp directory each time: a new deployment, so the store may be created.
  let guard: Awaited<ReturnType<typeof startGuard>>;
  try {
    const loaded: LoadedConfig = { config: parseConfig(), file: join(dir, 'config.yaml'), policyPath: policyFile };
    guard = await startGuard(loaded, { logger, watchPolicy: false, initStore: true, ...options.start });
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
    outboxFile: join(dir, 'outbox.jsonl'),
    logs,
    close: async () => {
      await guard.close();
      await demo?.close();
    },
  };
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
