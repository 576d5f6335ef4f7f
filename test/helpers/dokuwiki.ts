import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';

/**
 * A real DokuWiki (Debian's `dokuwiki` package, served by `php -S` through the example's own
 * examples/dokuwiki/wiki.sh) in a folder of the test's own. `.ci/run` installs the package.
 * Locally, without the package, tests skip with a notice; with CI=true that is an error.
 */

export const WIKI_PASSWORD = 'dokuwiki-test';

export interface Wiki {
  readonly url: string;
  /** Request targets the wiki has logged so far (php -S logs each one to stderr). */
  targets(): string[];
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export function dokuwikiInstalled(): boolean {
  return existsSync('/usr/share/dokuwiki/doku.php');
}

/** null when DokuWiki is not installed (and CI is not set). */
export async function startWiki(dir: string): Promise<Wiki | null> {
  if (!dokuwikiInstalled()) {
    if (process.env['CI'] === 'true') throw new Error('DokuWiki is not installed, but CI=true: .ci/run installs dokuwiki and php8.2-cgi');
    console.warn('\n*** DokuWiki (apt-get install --no-install-recommends dokuwiki php8.2-cgi) is NOT installed — these tests are SKIPPED ***\n');
    return null;
  }
  const port = await freePort();
  const child: ChildProcess = spawn('sh', [join(process.cwd(), 'examples', 'dokuwiki', 'wiki.sh'), dir, `127.0.0.1:${port}`], {
    env: { ...process.env, WIKI_PASSWORD },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-1_000_000)));
  const targets = (): string[] => [...log.matchAll(/\[\d{3}\]: [A-Z]+ (\S+)/g)].map((m) => m[1]!);
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  };
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`wiki.sh exited with ${child.exitCode}: ${log.slice(-4000)}`);
    try {
      const response = await fetch(`${url}/doku.php`, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) return { url, targets, stop };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error(`DokuWiki did not answer on ${url}: ${log.slice(-4000)}`);
}
