/**
 * Parent side: start each server of the benchmark as its own node process (from an esbuild bundle
 * of bench/<script>), wait for its URL over IPC, and make sure none of them outlives the run, whatever way
 * the run ends (normal end, exception, Ctrl-C). The children also exit on their own when the IPC
 * channel closes (announce-ready.ts), which covers the parent being SIGKILLed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { basename, join } from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
// @ts-expect-error: a plain .mjs script without type declarations
import { BUNDLE_OPTIONS as BUILD_OPTIONS, asciiOnly as toAscii } from '../scripts/build.mjs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { ReadyMessage, StatsMessage } from './announce-ready.ts';

export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  readonly url: string;
  readonly info: Record<string, unknown>;
  /** The child's process.memoryUsage() and process.cpuUsage(), asked over IPC. */
  stats(): Promise<Pick<StatsMessage, 'memory' | 'cpu'> | undefined>;
  /** SIGTERM, then SIGKILL after a grace period. */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=…']. */
  readonly nodeFlags?: readonly string[];
  readonly startTimeoutMs?: number;
}

const running = new Set<ChildProcess>();
const stopping = new WeakSet<ChildProcess>();
const STDERR_KEPT = 8 * 1024;

function killAllNow(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  running.clear();
}

process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    console.error(`\nbench: ${signal}, stopping the servers`);
    killAllNow();
    process.exit(130);
  });
}

export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((child) => stopChild(child)));
}

async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    running.delete(child);
    return;
  }
  stopping.add(child);
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  running.delete(child);
}

function askStats(child: ChildProcess): Promise<StatsMessage | undefined> {
  if (!child.connected) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(undefined), 2_000);
    const onMessage = (message: StatsMessage): void => {
      if (message?.type === 'stats') finish(message);
    };
    const finish = (stats: StatsMessage | undefined): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(stats);
    };
    child.on('message', onMessage);
    child.send({ type: 'stats' });
  });
}

const BUNDLE_OPTIONS = BUILD_OPTIONS as BuildOptions & { write: false };
const asciiOnly = toAscii as (code: string) => string;
const BUNDLE_DIR = fileURLToPath(new URL('../var/bench/bundles/', import.meta.url));
const bundles = new Map<string, Promise<string>>();

/**
 * Every server runs from an esbuild bundle with plain node, as `bin/smartpush-guard.js` runs the
 * sidecar in production: no TypeScript loader in the measured process (it costs ~40 MiB of RSS and
 * some CPU), and the same treatment for the baseline servers.
 */
function bundled(file: string): Promise<string> {
  let bundle = bundles.get(file);
  if (!bundle) {
    const outfile = join(BUNDLE_DIR, `${basename(file, '.ts')}.mjs`);
    // The same esbuild options and ASCII-only output as the production bundle (scripts/build.mjs).
    bundle = build({ ...BUNDLE_OPTIONS, entryPoints: [file], outfile }).then((result) => {
      const output = result.outputFiles?.[0];
      if (!output) throw new Error(`esbuild produced no output for ${file}`);
      mkdirSync(BUNDLE_DIR, { recursive: true });
      writeFileSync(outfile, asciiOnly(output.text));
      return outfile;
    });
    bundles.set(file, bundle);
  }
  return bundle;
}

export async function startServer(name: string, script: string, args: readonly string[], options: SpawnOptions = {}): Promise<ServerProcess> {
  const file = await bundled(fileURLToPath(new URL(script, import.meta.url)));
  // BENCH_CHILD_STDOUT=/tmp/out keeps what a server prints (e.g. node --trace-gc) in /tmp/out.<name>.
  const stdoutFile = process.env['BENCH_CHILD_STDOUT'];
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), file, ...args], {
    stdio: ['ignore', stdoutFile ? openSync(`${stdoutFile}.${name}`, 'w') : 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  running.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEPT);
  });

  const ready = new Promise<ReadyMessage>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name}: no ready message within ${options.startTimeoutMs ?? 60_000} ms\n${stderr}`)),
      options.startTimeoutMs ?? 60_000,
    );
    child.on('message', (message: ReadyMessage) => {
      if (message?.type !== 'ready') return;
      clearTimeout(timer);
      resolve(message);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited during startup (code ${code}, signal ${signal})\n${stderr.trim()}`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });

  let message: ReadyMessage;
  try {
    message = await ready;
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  child.once('exit', (code, signal) => {
    if (!stopping.has(child)) {
      running.delete(child);
      console.error(`bench: ${name} (pid ${child.pid}) exited unexpectedly (code ${code}, signal ${signal})\n${stderr.trim()}`);
    }
  });
  return {
    name,
    pid: child.pid as number,
    url: message.url,
    info: message.info ?? {},
    stats: () => askStats(child),
    stop: () => stopChild(child),
  };
}
