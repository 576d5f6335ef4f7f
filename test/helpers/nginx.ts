import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';

/**
 * A real nginx (Debian's package) in a folder of the test's own, on a free loopback port, in the
 * foreground (`daemon off`), so the test owns the process. `.ci/run` installs nginx; locally its
 * absence skips with a notice, and with CI=true it fails the run.
 */

export const NGINX = '/usr/sbin/nginx';

export interface Nginx {
  readonly url: string;
  readonly port: number;
  /** nginx's error log so far (for failure messages). */
  errors(): string;
  stop(): Promise<void>;
}

export function nginxOrSkip(): { ok: true } | { skip: string } {
  if (existsSync(NGINX)) return { ok: true };
  const message = `${NGINX} is not installed (apt-get install nginx): the nginx tests cannot run`;
  if (process.env['CI'] === 'true') throw new Error(`${message}, and CI=true requires them`);
  process.stderr.write(`\n*** SKIPPED: ${message} ***\n\n`);
  return { skip: message };
}

/**
 * Starts nginx with `server` (one or more `server {}` / `upstream {}` blocks for the http context)
 * where `$PORT` is replaced by the port it listens on.
 */
export async function startNginx(httpBlocks: string): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'spg-nginx-'));
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, 'tmp', sub), { recursive: true });
  const port = await freePort();
  const conf = `
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
${httpBlocks.replaceAll('$PORT', String(port))}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const test = spawnSync(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-t'], { encoding: 'utf8' });
  if (test.status !== 0) throw new Error(`nginx -t refused the config:\n${test.stderr}\n${conf}`);
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const errors = (): string => {
    try {
      return stderr + readFileSync(join(dir, 'error.log'), 'utf8');
    } catch {
      return stderr;
    }
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGQUIT');
      await once(child, 'exit');
    }
  };
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${errors()}`);
    try {
      await fetch(`${url}/`, { signal: AbortSignal.timeout(1000), redirect: 'manual' });
      return { url, port, errors, stop };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  await stop();
  throw new Error(`nginx did not answer on ${url}: ${errors()}`);
}
