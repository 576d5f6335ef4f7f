import { cryptoRandom } from '../../src/core/random.ts';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newEncryptionKeys } from '../../src/factors/secret-box.ts';

/**
 * The sidecar as a real child process (`bin/smartpush-guard.js serve`) on a temporary deployment,
 * for the fault tests: kill -9, damaged and missing files. Every wait is bounded.
 */

export const BIN = join(process.cwd(), 'bin', 'smartpush-guard.js');

export interface Deployment {
  readonly dir: string;
  readonly config: string;
  readonly db: string;
  readonly keys: string;
  readonly sessionKeys: string;
  readonly audit: string;
  readonly outbox: string;
  readonly policy: string;
}

export const ADMIN_TOKEN = 'f'.repeat(40);

export interface DeploymentOptions {
  readonly upstream?: string;
  /** Extra YAML appended to the config (top-level keys). */
  readonly extra?: string;
  readonly policy?: string;
}

/** A config, its secrets and its policy in a fresh temp folder (the store is not created). */
export function deployment(options: DeploymentOptions = {}): Deployment {
  const dir = mkdtempSync(join(tmpdir(), 'spg-fault-'));
  const d: Deployment = {
    dir,
    config: join(dir, 'config.yaml'),
    db: join(dir, 'guard.db'),
    keys: join(dir, 'encryption-keys.json'),
    sessionKeys: join(dir, 'session-keys.json'),
    audit: join(dir, 'audit.jsonl'),
    outbox: join(dir, 'outbox.jsonl'),
    policy: join(dir, 'policy.yaml'),
  };
  writeFileSync(d.sessionKeys, JSON.stringify({ '1': randomBytes(32).toString('base64url') }), { mode: 0o600 });
  writeFileSync(d.keys, newEncryptionKeys(cryptoRandom), { mode: 0o600 });
  writeFileSync(d.policy, options.policy ?? 'version: 1\nrules:\n  - name: static\n    paths: ["/static/**"]\n    access: public\n');
  writeFileSync(
    d.config,
    `version: 1
listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0 }
upstream: { url: "${options.upstream ?? 'http://127.0.0.1:9'}" }
policy: policy.yaml
audit: { file: audit.jsonl }
session: { keys: { file: session-keys.json } }
login:
  upstream: { path: /login, encoding: form, fields: { email: email, password: password } }
  success: { status: [302, 303], location: "^/dashboard", cookie: sp_session }
  logout: { path: /logout, method: GET }
  profile: { path: /api/me, email_field: email, phone_field: phone }
  landing: /dashboard
  min_response_time: 0ms
store: { sqlite: guard.db }
factors: { encryption_keys: { file: encryption-keys.json } }
channels: { outbox_file: outbox.jsonl, email: { kind: outbox }, sms: { kind: outbox } }
risk: { levels: { medium: 1000, high: 2000 } }
${options.extra ?? ''}`,
  );
  return d;
}

export interface Exited {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to its end; a command that does not end within the bound is killed (status null). */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Exited {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GUARD_CONFIG: '', GUARD_ADMIN_TOKEN: ADMIN_TOKEN, ...env },
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

export interface Serving {
  readonly child: ChildProcess;
  readonly url: string;
  readonly adminUrl: string;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** SIGKILL (no flush, no shutdown hook), resolved once the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<number | null>;
}

/** Starts `serve` and resolves once it listens (rejects with its output when it exits or hangs). */
export function serve(d: Deployment, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<Serving> {
  const child = spawn(process.execPath, [BIN, 'serve', '--config', d.config, ...args], {
    env: { ...process.env, GUARD_CONFIG: '', GUARD_ADMIN_TOKEN: ADMIN_TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let seen = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitExit = (ms: number): Promise<number | null> =>
    Promise.race([exited, new Promise<null>((_, reject) => setTimeout(() => reject(new Error(`process did not exit within ${ms} ms`)), ms).unref())]);
  const running = (url: string, adminUrl: string): Serving => ({
    child,
    url,
    adminUrl,
    output: () => seen,
    kill9: async () => {
      child.kill('SIGKILL');
      await waitExit(10_000);
    },
    stop: async () => {
      child.kill('SIGTERM');
      return waitExit(20_000);
    },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start within ${timeoutMs} ms:\n${seen}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      const m = /"url":"([^"]+)","adminUrl":"([^"]+)"/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(running(m[1] as string, m[2] as string));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before listening:\n${seen}`));
    });
  });
}

/** The stderr of a refused start: exactly one line, the CLI's prefix, no stack trace. */
export function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('smartpush-guard: running from source'));
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got ${lines.length}:\n${stderr}`);
  const line = lines[0] as string;
  if (!line.startsWith('smartpush-guard: ')) throw new Error(`expected the CLI prefix: ${line}`);
  if (/\n\s+at /.test(stderr)) throw new Error(`a stack trace: ${stderr}`);
  return line;
}
