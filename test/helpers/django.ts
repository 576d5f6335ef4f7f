import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A real, stock Django admin for integration tests: `startproject` in a temp dir with the one
 * settings change the example documents (ALLOWED_HOSTS), migrated, users created through
 * `manage.py shell -c`, served by `runserver --noreload` on a free loopback port, always killed.
 * Debian's python3-django is what CI installs; without it the tests skip loudly (fail with CI=true).
 */

/** A Python that has Django: GUARD_TEST_PYTHON, else `python3`, else Debian's own /usr/bin/python3. */
export function djangoPython(): string | null {
  const candidates = [process.env['GUARD_TEST_PYTHON'], 'python3', '/usr/bin/python3'].filter((c): c is string => Boolean(c));
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import django; print(django.get_version())'], { encoding: 'utf8', timeout: 20_000 });
    if (probe.status === 0) return python;
  }
  return null;
}

/** Whether Django tests can run; without it, a loud skip locally and a failure in CI. */
export function djangoOrSkip(): { python: string } | { skip: string } {
  const python = djangoPython();
  if (python) return { python };
  const message = 'python3-django is not installed (apt-get install python3-django): the Django integration tests cannot run';
  if (process.env['CI'] === 'true') throw new Error(`${message}, and CI=true requires them`);
  process.stderr.write(`\n*** SKIPPED: ${message} ***\n\n`);
  return { skip: message };
}

export interface DjangoUser {
  readonly username: string;
  readonly password: string;
  readonly email: string;
  readonly staff?: boolean;
  readonly superuser?: boolean;
}

export interface DjangoApp {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** The SQLite file Django keeps its users and sessions in. */
  readonly db: string;
  /** Runs Python in the project (`manage.py shell -c`) and returns what it printed. */
  shell(code: string): string;
  /** Django's output so far (for failure messages). */
  output(): string;
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function run(python: string, args: readonly string[], cwd: string): string {
  const result = spawnSync(python, args, { cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
  if (result.status !== 0) throw new Error(`${python} ${args.join(' ')} failed (${String(result.status ?? result.signal)}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** Creates the project, migrates, adds the users and starts `runserver`. */
export async function startDjango(python: string, users: readonly DjangoUser[]): Promise<DjangoApp> {
  const dir = mkdtempSync(join(tmpdir(), 'spg-django-'));
  run(python, ['-m', 'django', 'startproject', 'legacy', dir], dir);
  const settingsFile = join(dir, 'legacy', 'settings.py');
  const settings = readFileSync(settingsFile, 'utf8');
  if (!settings.includes('ALLOWED_HOSTS = []')) throw new Error('startproject no longer writes ALLOWED_HOSTS = []');
  writeFileSync(settingsFile, settings.replace('ALLOWED_HOSTS = []', "ALLOWED_HOSTS = ['127.0.0.1', 'localhost']"));
  run(python, ['manage.py', 'migrate', '--noinput', '-v', '0'], dir);
  const shell = (code: string): string => run(python, ['manage.py', 'shell', '-c', code], dir);
  if (users.length > 0) {
    const create = users
      .map(
        (u) =>
          `U.objects.create_user(${JSON.stringify(u.username)}, ${JSON.stringify(u.email)}, ${JSON.stringify(u.password)}, is_staff=${u.staff === false ? 'False' : 'True'}, is_superuser=${u.superuser === false ? 'False' : 'True'})`,
      )
      .join('; ');
    shell(`from django.contrib.auth.models import User as U; ${create}`);
  }
  const port = await freePort();
  const child = spawn(python, ['manage.py', 'runserver', `127.0.0.1:${port}`, '--noreload'], {
    cwd: dir,
    env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  let exited = false;
  child.once('exit', () => {
    exited = true;
    running.delete(child);
  });
  const url = `http://127.0.0.1:${port}`;
  const close = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      for (let i = 0; i < 50 && !exited; i++) await sleep(100);
      if (!exited) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready when the login page answers; bounded, so a broken Django cannot hang the suite.
  for (let attempt = 0; ; attempt++) {
    if (exited || attempt >= 300) {
      await close();
      throw new Error(`runserver did not come up on ${url}:\n${output}`);
    }
    try {
      const response = await fetch(`${url}/admin/login/`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return { url, port, dir, db: join(dir, 'db.sqlite3'), shell, output: () => output, close };
}

/** Django's sessions of a user, counted in its own database. */
export function djangoSessionsOf(app: DjangoApp, username: string): number {
  const out = app.shell(
    'from django.contrib.sessions.models import Session; from django.contrib.auth.models import User; ' +
      `uid = str(User.objects.get(username=${JSON.stringify(username)}).pk); ` +
      "print(sum(1 for s in Session.objects.all() if s.get_decoded().get('_auth_user_id') == uid))",
  );
  return Number(out.trim());
}
