import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A tiny PHP app on PHP's built-in server, for tests that need PHP's own request parsing (cookie
 * name folding, THREATS T19). Locally the tests skip with a loud notice when `php` is missing; with
 * CI=true a missing `php` is an error (.ci/run installs php-cli).
 *
 *   POST /login        merchant@example.com / smartpush-demo → 302 /dashboard + a fresh sp_session
 *   GET  /public/set   sets sp_session, SP_Session and theme cookies (what reaches the browser?)
 *   ANY  other         {sp_session: $_COOKIE['sp_session'], cookie: raw Cookie header, host}
 */

const APP = `<?php
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
header('Content-Type: application/json');
if ($path === '/login' && $_SERVER['REQUEST_METHOD'] === 'POST') {
  if (($_POST['email'] ?? '') === 'merchant@example.com' && ($_POST['password'] ?? '') === 'smartpush-demo') {
    header('Set-Cookie: sp_session=php' . bin2hex(random_bytes(16)) . '; Path=/; HttpOnly');
    header('Location: /dashboard', true, 302);
    exit;
  }
  echo json_encode(['error' => 'invalid']);
  exit;
}
if ($path === '/public/set') {
  header('Set-Cookie: sp_session=set-by-app; Path=/', false);
  header('Set-Cookie: SP_Session=set-by-app-2; Path=/', false);
  header('Set-Cookie: sp.session=set-by-app-3; Path=/', false);
  header('Set-Cookie: theme=dark; Path=/', false);
}
echo json_encode(['sp_session' => $_COOKIE['sp_session'] ?? null, 'cookie' => $_SERVER['HTTP_COOKIE'] ?? null, 'host' => $_SERVER['HTTP_HOST'] ?? null]);
`;

export interface PhpApp {
  readonly url: string;
  close(): Promise<void>;
}

/** Whether php is available; in CI its absence fails the suite instead of skipping. */
export function phpAvailable(): boolean {
  const found = spawnSync('php', ['-v'], { stdio: 'ignore' }).status === 0;
  if (!found && process.env['CI'] === 'true') throw new Error('php is not on PATH, but CI=true: the PHP cookie tests must run in CI (.ci/run installs php-cli)');
  if (!found) console.warn('\n*** php is not installed: the PHP cookie-folding tests are SKIPPED (install php-cli) ***\n');
  return found;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startPhpApp(): Promise<PhpApp> {
  const dir = mkdtempSync(join(tmpdir(), 'spg-php-'));
  writeFileSync(join(dir, 'app.php'), APP);
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn('php', ['-S', `127.0.0.1:${port}`, join(dir, 'app.php')], { stdio: 'ignore' });
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    // Bounded wait for the listener (at most 10 s); a port taken meanwhile makes php exit: try another.
    for (let i = 0; i < 200 && !exited; i++) {
      if (await accepts(port)) {
        return {
          url: `http://127.0.0.1:${port}`,
          close: () =>
            new Promise<void>((resolve) => {
              if (exited) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGTERM');
            }),
        };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!exited) child.kill('SIGKILL');
  }
  throw new Error('the PHP built-in server did not start');
}
