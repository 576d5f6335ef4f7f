import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, createServer } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A real, throw-away `redis-server` on a free loopback port, without persistence unless asked. Tests drive the
 * real binary (never a mock). `.ci/run` installs it in CI.
 */
export interface RedisServer {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** Kills the server (SIGKILL: like a crash, connections drop at once). Idempotent. */
  stop(): Promise<void>;
  /**
   * Starts the server again on the same port (stopping the current one first if it runs): empty,
   * or, with `appendOnly`, with what its append-only file held.
   */
  restart(): Promise<void>;
  /**
   * Freezes the server (SIGSTOP): connections stay open but nothing answers, like a network
   * partition or a stalled host. `resume` lets it go on with its data intact.
   */
  pause(): void;
  resume(): void;
}

export interface RedisServerOptions {
  /** `requirepass`: clients must AUTH with this password (the default user's). */
  readonly password?: string;
  /**
   * `appendonly yes` with `appendfsync always` (so a SIGKILL loses nothing and restart tests are
   * deterministic), in a temporary folder removed on stop.
   */
  readonly appendOnly?: boolean;
  /**
   * Cluster mode: a one-node Redis Cluster owning all 16384 slots. Redis enforces the Cluster's
   * rules on it (CROSSSLOT for multi-key commands and scripts over several slots).
   */
  readonly cluster?: boolean;
}

const BINARY = 'redis-server';
const START_TIMEOUT_MS = 10_000;

function binaryAvailable(): boolean {
  const probe = spawnSync(BINARY, ['--version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('could not get a free port');
  return address.port;
}

/** One PING over a raw socket; true on +PONG (or -NOAUTH: the server runs, it wants a password). */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let received = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (received.includes('\r\n')) done(received.startsWith('+PONG') || received.startsWith('-NOAUTH'));
    });
  });
}

/** Sends one command over a raw socket and returns the first reply (enough for short replies). */
function rawCommand(port: number, parts: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let received = '';
    socket.setTimeout(2_000, () => {
      socket.destroy();
      reject(new Error(`no reply to ${parts[0]} within 2 s`));
    });
    socket.on('error', reject);
    socket.on('connect', () => socket.write(`*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      const bulk = /^\$(\d+)\r\n/.exec(received);
      if (bulk ? received.length >= bulk[0].length + Number(bulk[1]) + 2 : received.includes('\r\n')) {
        socket.destroy();
        resolve(received);
      }
    });
  });
}

/** A fresh one-node cluster takes every slot; then waits until the node reports the cluster ok. */
async function ownAllSlots(port: number, deadline: number, output: () => string): Promise<void> {
  const info = await rawCommand(port, ['CLUSTER', 'INFO']);
  if (!/cluster_slots_assigned:16384/.test(info)) {
    const reply = await rawCommand(port, ['CLUSTER', 'ADDSLOTSRANGE', '0', '16383']);
    if (!reply.startsWith('+OK')) throw new Error(`CLUSTER ADDSLOTSRANGE failed: ${reply.trim()}\n${output()}`);
  }
  while (Date.now() < deadline) {
    if (/cluster_state:ok/.test(await rawCommand(port, ['CLUSTER', 'INFO']))) return;
    await sleep(25);
  }
  throw new Error(`the one-node cluster on port ${port} did not reach cluster_state:ok\n${output()}`);
}

/** Every child still running when the test process exits is killed, so none outlives a failed run. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function spawnServer(port: number, options: RedisServerOptions, dir: string | undefined): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--loglevel', 'warning'];
  args.push(...(options.appendOnly && dir !== undefined ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir] : ['--appendonly', 'no']));
  if (options.password !== undefined) args.push('--requirepass', options.password);
  if (options.cluster && dir !== undefined) {
    args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-announce-ip', '127.0.0.1');
  }
  const child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited = false;
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  child.once('exit', () => {
    exited = true;
    running.delete(child);
  });

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (spawnError) throw new Error(`${BINARY} could not be started: ${spawnError.message}`);
    if (exited) throw new Error(`${BINARY} exited during start-up (port ${port}):\n${output}`);
    if (await answersPing(port)) {
      if (options.cluster) await ownAllSlots(port, deadline, () => output);
      return child;
    }
    await sleep(25);
  }
  child.kill('SIGKILL');
  throw new Error(`${BINARY} did not answer PING on port ${port} within ${START_TIMEOUT_MS} ms:\n${output}`);
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/**
 * Starts a server, or returns null when `redis-server` is not installed so the caller can skip
 * (with a visible notice). In CI (`CI=true`) a missing binary is an error: the suite must not pass
 * by skipping the Redis backend.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer | null> {
  if (!binaryAvailable()) {
    if (process.env['CI'] === 'true') {
      throw new Error(`${BINARY} is not on PATH, but CI=true: the Redis tests must run in CI (.ci/run installs it)`);
    }
    return null;
  }
  const port = await freePort();
  const dir = options.appendOnly || options.cluster ? mkdtempSync(join(tmpdir(), 'spg-redis-')) : undefined;
  const removeDir = (): void => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  };
  let child: ChildProcess | undefined = await spawnServer(port, options, dir);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      if (child) await kill(child);
      child = undefined;
      removeDir();
    },
    async restart() {
      if (child) await kill(child);
      child = undefined;
      child = await spawnServer(port, options, dir);
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
  };
}
