import { cryptoRandom } from '../../src/core/random.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import { newEncryptionKeys } from '../../src/factors/secret-box.ts';
import { startGuard, type RunningGuard } from '../../src/server/start.ts';
import { LOW_RISK, memoryLogger } from './stack.ts';

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

export interface WikiBehindGuard {
  readonly wiki: Wiki;
  readonly guard: RunningGuard;
  readonly outbox: string;
  /** The sidecar's log lines (info and up). */
  readonly logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * DokuWiki with the sidecar in front, configured by examples/dokuwiki/ itself: only ports, secrets
 * and files move to a temporary folder. null where startWiki skips.
 */
export async function startWikiBehindGuard(): Promise<WikiBehindGuard | null> {
  const dir = mkdtempSync(join(tmpdir(), 'spg-dokuwiki-'));
  const wiki = await startWiki(join(dir, 'wiki'));
  if (!wiki) return null;
  const example = join(process.cwd(), 'examples', 'dokuwiki');
  const config = parse(readFileSync(join(example, 'config.yaml'), 'utf8')) as Record<string, any>;
  writeFileSync(join(dir, 'session.json'), JSON.stringify({ '1': 'w'.repeat(40) }), { mode: 0o600 });
  writeFileSync(join(dir, 'enc.json'), newEncryptionKeys(cryptoRandom), { mode: 0o600 });
  const outbox = join(dir, 'outbox.jsonl');
  Object.assign(config, {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    upstream: { ...config['upstream'], url: wiki.url },
    policy: join(example, 'policy.yaml'),
    audit: { file: join(dir, 'audit.jsonl') },
    session: { ...config['session'], keys: { file: join(dir, 'session.json') } },
    store: { sqlite: join(dir, 'guard.db') },
    factors: { ...config['factors'], encryption_keys: { file: join(dir, 'enc.json') } },
    channels: { ...config['channels'], outbox_file: outbox },
    login: { ...config['login'], min_response_time: '0ms' },
    risk: LOW_RISK,
  });
  delete (config['admin'] as Record<string, unknown>)['tokens'];
  const file = join(dir, 'config.yaml');
  writeFileSync(file, stringify(config));
  const { logger, logs } = memoryLogger('info');
  try {
    const guard = await startGuard(loadConfig(file, {}), { logger, watchPolicy: false, initStore: true });
    return {
      wiki,
      guard,
      outbox,
      logs,
      close: async () => {
        await guard.close();
        await wiki.stop();
      },
    };
  } catch (error) {
    await wiki.stop();
    throw error;
  }
}
