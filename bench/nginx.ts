/**
 * Debian's nginx as a `proxy_pass` reference: the ceiling a reverse proxy can reach on this
 * machine, next to the bare Node proxy. One worker process, keep-alive to the upstream (an
 * `upstream` block with `keepalive`, HTTP/1.1, the Connection header cleared), access log off,
 * on a free port with its own prefix under var/bench/nginx/ (no root, no system paths). Its CPU
 * is read from /proc (master + worker, clock ticks), so it fits the bench's ServerProcess.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { ServerProcess } from './server-processes.ts';

const NGINX = '/usr/sbin/nginx';
const TICKS_PER_SECOND = 100;

export function nginxAvailable(): boolean {
  return existsSync(NGINX);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** utime + stime of a process and its children (the worker), µs. */
function cpuMicrosOf(pid: number): number {
  const ticks = (p: number): number => {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      // fields[11] utime, fields[12] stime (stat fields 14 and 15, counted after the command name).
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return 0;
    }
  };
  let total = ticks(pid);
  try {
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) total += ticks(Number(child));
  } catch {
    // No children file: the master's own time only.
  }
  return (total / TICKS_PER_SECOND) * 1e6;
}

export async function startNginx(dir: string, upstreamUrl: string): Promise<ServerProcess> {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const port = await freePort();
  const upstream = new URL(upstreamUrl);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
master_process on;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  keepalive_requests 1000000;
  upstream app { server ${upstream.hostname}:${upstream.port}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
    }
  }
}
`,
  );
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', conf, '-e', join(dir, 'logs', 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited during startup (code ${child.exitCode}): ${stderr.trim()}`);
    try {
      await fetch(`${url}/`, { signal: AbortSignal.timeout(500) }).then((r) => r.arrayBuffer());
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`nginx did not answer on ${url}: ${stderr.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const pid = child.pid as number;
  // nginx has no IPC channel to notice a SIGKILLed bench: a watchdog stops it when the bench is gone.
  spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 1; done; kill -QUIT ${pid} 2>/dev/null`], {
    stdio: 'ignore',
    detached: true,
  }).unref();
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', kill);
  return {
    name: 'nginx',
    pid,
    url,
    info: { port },
    async stats() {
      const cpu = cpuMicrosOf(pid);
      return { cpu: { user: cpu, system: 0 }, memory: process.memoryUsage() };
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // SIGQUIT: graceful stop of master and worker.
      child.kill('SIGQUIT');
      const timer = setTimeout(kill, 3_000);
      await exited;
      clearTimeout(timer);
      process.off('exit', kill);
    },
  };
}
