import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';

/**
 * A real Caddy (Debian's package) on a free loopback port, with its state in a folder of the
 * test's own and its admin endpoint off. `.ci/run` installs caddy; locally its absence skips with
 * a notice, and with CI=true it fails the run.
 */

export const CADDY = '/usr/bin/caddy';

export interface Caddy {
  readonly url: string;
  output(): string;
  stop(): Promise<void>;
}

export function caddyOrSkip(): { ok: true } | { skip: string } {
  if (existsSync(CADDY)) return { ok: true };
  const message = `${CADDY} is not installed (apt-get install caddy): the Caddy tests cannot run`;
  if (process.env['CI'] === 'true') throw new Error(`${message}, and CI=true requires them`);
  process.stderr.write(`\n*** SKIPPED: ${message} ***\n\n`);
  return { skip: message };
}

/** Starts Caddy with `sites` (Caddyfile site blocks); `$PORT` becomes its port. */
export async function startCaddy(sites: string): Promise<Caddy> {
  const dir = mkdtempSync(join(tmpdir(), 'spg-caddy-'));
  const port = await freePort();
  const file = join(dir, 'Caddyfile');
  writeFileSync(file, `{\n\tadmin off\n\tauto_https off\n}\n\n${sites.replaceAll('$PORT', String(port))}\n`);
  const env = { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') };
  const check = spawnSync(CADDY, ['validate', '--config', file, '--adapter', 'caddyfile'], { encoding: 'utf8', env });
  if (check.status !== 0) throw new Error(`caddy validate refused the config:\n${check.stderr}`);
  const child: ChildProcess = spawn(CADDY, ['run', '--config', file, '--adapter', 'caddyfile'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-200_000)));
  child.stderr?.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-200_000)));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  };
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`caddy exited with ${child.exitCode}: ${out}`);
    try {
      await fetch(`${url}/_guard/assets/guard.css`, { signal: AbortSignal.timeout(1000), redirect: 'manual' });
      return { url, output: () => out, stop };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  await stop();
  throw new Error(`caddy did not answer on ${url}: ${out}`);
}
