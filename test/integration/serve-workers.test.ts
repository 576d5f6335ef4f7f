import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDemoApp } from '../../demo/app.ts';
import { freePort } from '../helpers/free-port.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { ADMIN_TOKEN, deployment, serve, type Deployment, type Serving } from '../helpers/guard-process.ts';
import { enableEmail, expectStatus, GuardClient, lastCode, MERCHANT, OWNER, rawRequest, type ApiReply } from '../helpers/two-factor.ts';

/**
 * `serve --workers 2` as a real cluster (issue 16): the demo app's configuration (its login, its
 * policy, regulation 3 wrong passwords in 2m) with the embedded store. Every request of these tests
 * is made on a fresh connection, which the primary hands to the workers in turn, so one browser's
 * requests land on both workers. The state must behave exactly as in one process: no test waits
 * for something "within a second".
 */

interface LogLine {
  readonly worker?: number;
  readonly msg?: string;
  readonly slot?: number;
  readonly pid?: number;
  readonly path?: string;
  readonly [key: string]: unknown;
}

function logLines(s: Serving): LogLine[] {
  const out: LogLine[] = [];
  for (const line of s.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // a line still being written
    }
  }
  return out;
}

/** Waits (bounded) until the log holds what `found` looks for; the log is flushed at least every second. */
async function waitForLog<T>(s: Serving, what: string, found: (lines: LogLine[]) => T | undefined, boundMs = 30_000): Promise<T> {
  for (let waited = 0; waited < boundMs; waited += 50) {
    const value = found(logLines(s));
    if (value !== undefined) return value;
    await sleep(50);
  }
  throw new Error(`not in the log within ${boundMs} ms: ${what}\n${s.output().slice(-4000)}`);
}

/** The pid of the worker in `slot` ready after `afterPid` (the primary logs each start). */
function readyPid(lines: LogLine[], slot: number, except: readonly number[] = []): number | undefined {
  const ready = lines.filter((l) => l.msg === 'worker ready' && l.slot === slot && typeof l.pid === 'number' && !except.includes(l.pid));
  return ready[ready.length - 1]?.pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function tally(replies: readonly ApiReply[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const r of replies) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

/** `/api/me` of one browser on `n` fresh connections (both workers answer some). */
async function meOnMany(client: GuardClient, n = 10): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await client.me()).status);
  return statuses;
}

async function pagesOnMany(client: GuardClient, path: string, n: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await client.get(path)).status);
  return statuses;
}

function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('serve --workers 2 (embedded store)', () => {
  let demo: Awaited<ReturnType<typeof startDemoApp>>;
  let d: Deployment;
  let s: Serving;
  let adminUrl: string;

  before(async () => {
    demo = await startDemoApp({ host: '127.0.0.1', port: 0 });
    d = deployment({
      upstream: demo.url,
      policy: readFileSync(join(process.cwd(), 'policies', 'smartpush.yaml'), 'utf8'),
      extra: 'regulation:\n  account: { max_failures: 3, window: 2m, ban: 5m }\n  address: { max_failures: 20, window: 2m, ban: 5m }\npolicy_reload: { settle: 100ms }\n',
    });
    // Fixed free ports: a restarted worker 1 listens on the admin port again.
    const [port, adminPort] = [await freePort(), await freePort()];
    s = await serve(d, ['--init-store', '--workers', '2'], { GUARD_PORT: String(port), GUARD_ADMIN_PORT: String(adminPort) });
    adminUrl = s.adminUrl;
    await waitForLog(s, 'both workers ready', (lines) => (lines.some((l) => l.msg === 'every worker is ready') ? true : undefined));
  });

  after(async () => {
    if (s && s.child.exitCode === null) await s.stop();
    await demo?.close();
  });

  test('one sign-in, used through many connections: both workers serve the session', async () => {
    const client = new GuardClient(s.url);
    expectStatus(await client.login(MERCHANT), 200, 'sign-in');
    assert.deepEqual(await meOnMany(client, 12), Array(12).fill(200));
    const workers = await waitForLog(s, 'both workers served /api/me', (lines) => {
      const served = new Set(lines.filter((l) => l.msg === 'request' && l.path === '/api/me' && l['status'] === 200).map((l) => l.worker));
      return served.size === 2 ? [...served].sort() : undefined;
    });
    assert.deepEqual(workers, [1, 2]);
    expectStatus(await client.logout(), 200, 'logout');
  });

  test('enabling 2FA, then a sign-in with the code: every request on a fresh connection (the workers take turns)', async () => {
    const enrolling = new GuardClient(s.url);
    expectStatus(await enrolling.login(MERCHANT), 200, 'first sign-in');
    await enableEmail(enrolling, { outboxFile: d.outbox });
    const status = expectStatus(await enrolling.status(), 200, '2fa status');
    assert.equal(status.body['enabled'], true, status.text);

    const client = new GuardClient(s.url);
    const login = expectStatus(await client.login(MERCHANT), 200, 'password');
    assert.equal(login.body['status'], 'verification_required', login.text);
    const verified = expectStatus(await client.verify(lastCode(d.outbox, MERCHANT)), 200, 'code');
    assert.equal(verified.body['status'], 'authenticated', verified.text);
    assert.deepEqual(await meOnMany(client), Array(10).fill(200));
  });

  test('12 wrong passwords in parallel connections: exactly 3 are judged, the account is then locked on every worker', async () => {
    const replies = await Promise.all(Array.from({ length: 12 }, () => new GuardClient(s.url).login(OWNER, 'wrong-password')));
    const counts = tally(replies);
    assert.equal(counts[401] ?? 0, 3, `exactly max_failures (3) wrong passwords are judged: ${JSON.stringify(counts)}`);
    assert.equal(counts[429] ?? 0, 9, `every other attempt is refused: ${JSON.stringify(counts)}`);
    // The right password is refused on both workers (fresh connections alternate).
    for (let i = 0; i < 4; i++) assert.equal((await new GuardClient(s.url).login(OWNER)).status, 429, `attempt ${i} after the lock`);
  });

  test('logout on one worker: no worker accepts the session afterwards (no delay)', async () => {
    const client = new GuardClient(s.url);
    // MERCHANT has 2FA from the test above; sign in with the code.
    expectStatus(await client.login(MERCHANT), 200, 'password');
    expectStatus(await client.verify(lastCode(d.outbox, MERCHANT)), 200, 'code');
    const copy = client.clone();
    // Warm both workers' caches of this session.
    assert.deepEqual(await meOnMany(copy, 6), Array(6).fill(200));
    expectStatus(await client.logout(), 200, 'logout');
    assert.deepEqual(await meOnMany(copy, 10), Array(10).fill(401), 'the old cookie is refused by every worker at once');
  });

  test('revocation through the admin API (worker 1) ends the session on every worker', async () => {
    const client = new GuardClient(s.url);
    expectStatus(await client.login(MERCHANT), 200, 'password');
    expectStatus(await client.verify(lastCode(d.outbox, MERCHANT)), 200, 'code');
    assert.deepEqual(await meOnMany(client, 6), Array(6).fill(200));
    const revoked = await rawRequest(`${adminUrl}/admin/users/${encodeURIComponent(MERCHANT)}/sessions/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'ticket 7: stolen laptop' }),
    });
    expectStatus(revoked, 200, 'revoke');
    assert.deepEqual(await meOnMany(client, 10), Array(10).fill(401));
  });

  test('/metrics on the admin listener sums every worker', async () => {
    const before = metricValue(await (await fetch(`${adminUrl}/metrics`)).text(), 'spg_requests_total{rule="guard:login",decision="pass"}') ?? 0;
    for (let i = 0; i < 10; i++) assert.equal((await rawRequest(`${s.url}/_guard/login`)).status, 200);
    const text = await (await fetch(`${adminUrl}/metrics`)).text();
    assert.equal(metricValue(text, 'spg_requests_total{rule="guard:login",decision="pass"}'), before + 10, 'all ten sign-in pages, whichever worker served them');
    assert.equal(metricValue(text, 'spg_ready'), 1, 'ready (the lowest of the workers)');
    const served = await waitForLog(s, 'both workers served the sign-in page', (lines) => {
      const workers = new Set(lines.filter((l) => l.msg === 'request' && l.path === '/_guard/login').map((l) => l.worker));
      return workers.size === 2 ? workers.size : undefined;
    });
    assert.equal(served, 2);
  });

  test('a changed policy is in force on every worker; a held change is applied on every worker by SIGHUP to the primary', async () => {
    const client = new GuardClient(s.url);
    expectStatus(await client.login(MERCHANT), 200, 'password');
    expectStatus(await client.verify(lastCode(d.outbox, MERCHANT)), 200, 'code');
    assert.deepEqual(await meOnMany(client, 4), Array(4).fill(200));
    const count = (msg: string, lines: LogLine[]): Map<number | undefined, number> => {
      const byWorker = new Map<number | undefined, number>();
      for (const l of lines) if (l.msg === msg) byWorker.set(l.worker, (byWorker.get(l.worker) ?? 0) + 1);
      return byWorker;
    };
    /** Waits until both workers logged `msg` once more than before. */
    const onBoth = async (msg: string): Promise<void> => {
      const before = count(msg, logLines(s));
      await waitForLog(s, `both workers: ${msg}`, (lines) => {
        const now = count(msg, lines);
        return [1, 2].every((w) => (now.get(w) ?? 0) > (before.get(w) ?? 0)) ? true : undefined;
      });
    };
    // 1. A rule added at the end (nothing weakened): reloaded by every worker's own watcher.
    const original = readFileSync(d.policy, 'utf8');
    let reloaded = onBoth('policy reloaded');
    writeFileSync(d.policy, `${original}\n  - name: closed-for-the-test\n    paths: ["/api/me"]\n    access: deny\n`);
    await reloaded;
    assert.deepEqual(await meOnMany(client, 10), Array(10).fill(403));
    // 2. A rule put in front of the sensitive ones is held by every worker until SIGHUP confirms it.
    const held = onBoth('policy change held: it weakens sensitive rules; the previous policy stays in force until SIGHUP confirms the change');
    writeFileSync(d.policy, original.replace('rules:\n', 'rules:\n  - name: dashboard-closed\n    paths: ["/dashboard"]\n    access: deny\n\n'));
    await held;
    assert.deepEqual(await pagesOnMany(client, '/dashboard', 6), Array(6).fill(200), 'held: not in force yet');
    reloaded = onBoth('policy reloaded');
    s.child.kill('SIGHUP');
    await reloaded;
    assert.deepEqual(await pagesOnMany(client, '/dashboard', 6), Array(6).fill(403), 'confirmed by SIGHUP on every worker');
    assert.deepEqual(await meOnMany(client, 4), Array(4).fill(200), 'the rule of step 1 is gone with the rewrite');
    // Back to the original policy for the tests below (removing a deny rule weakens nothing sensitive).
    reloaded = onBoth('policy reloaded');
    writeFileSync(d.policy, original);
    await reloaded;
  });

  test('a killed worker is restarted (and logged); the sessions live on in the primary', async () => {
    const client = new GuardClient(s.url);
    expectStatus(await client.login(MERCHANT), 200, 'password');
    expectStatus(await client.verify(lastCode(d.outbox, MERCHANT)), 200, 'code');
    for (const slot of [2, 1]) {
      const pid = readyPid(logLines(s), slot);
      assert.ok(pid !== undefined, `worker ${slot}'s pid is in the log`);
      process.kill(pid, 'SIGKILL');
      await waitForLog(s, `worker ${slot} exit logged`, (lines) => lines.find((l) => l.msg === 'worker exited; restarting it' && l.slot === slot && l.pid === pid));
      const next = await waitForLog(s, `worker ${slot} restarted`, (lines) => readyPid(lines, slot, [pid]));
      assert.notEqual(next, pid);
      assert.ok(alive(next));
      assert.deepEqual(await meOnMany(client, 6), Array(6).fill(200), `the session works on every worker after worker ${slot} was restarted`);
    }
    // Worker 1 came back with the admin listener, and /metrics gathers the new workers.
    assert.equal((await rawRequest(`${adminUrl}/healthz`)).status, 200);
    const metrics = await rawRequest(`${adminUrl}/metrics`);
    assert.equal(metrics.status, 200);
    assert.equal(metricValue(metrics.text, 'spg_ready'), 1);
  });

  test('SIGTERM to the primary drains every worker and exits 0', async () => {
    const lines = logLines(s);
    const pids = [readyPid(lines, 1), readyPid(lines, 2)];
    assert.ok(pids.every((p) => p !== undefined && alive(p)), `both workers run: ${JSON.stringify(pids)}`);
    assert.equal(await s.stop(), 0);
    for (const pid of pids as number[]) assert.equal(alive(pid), false, `worker ${pid} has exited`);
    const stopped = logLines(s).filter((l) => l.msg === 'smartpush-guard stopped').map((l) => l.worker);
    assert.deepEqual(stopped.sort(), [0, 1, 2]);
  });
});

describe('serve --workers 2 on Redis', () => {
  let redis: RedisServer | null = null;
  let demo: Awaited<ReturnType<typeof startDemoApp>>;

  before(async () => {
    redis = await startRedisServer();
    if (!redis) console.warn('\n*** serve-workers: redis-server is NOT installed — the Redis case is SKIPPED ***\n');
    demo = await startDemoApp({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await redis?.stop();
    await demo?.close();
  });

  test('the workers are replicas of one Redis: a session used through many connections, an exact lockout, a clean stop', async () => {
    if (!redis) return; // allowed-skip: announced above; CI=true fails in startRedisServer instead
    const d = deployment({
      upstream: demo.url,
      policy: readFileSync(join(process.cwd(), 'policies', 'smartpush.yaml'), 'utf8'),
      extra: 'regulation:\n  account: { max_failures: 3, window: 2m, ban: 5m }\n',
    });
    const s = await serve(d, ['--workers', '2'], { GUARD_REDIS_URL: redis.url, GUARD_PORT: String(await freePort()), GUARD_ADMIN_PORT: String(await freePort()) });
    try {
      await waitForLog(s, 'both workers ready', (lines) => (lines.some((l) => l.msg === 'every worker is ready') ? true : undefined));
      const client = new GuardClient(s.url);
      expectStatus(await client.login(MERCHANT), 200, 'sign-in');
      assert.deepEqual(await meOnMany(client, 10), Array(10).fill(200));
      const replies = await Promise.all(Array.from({ length: 10 }, () => new GuardClient(s.url).login(OWNER, 'wrong-password')));
      const counts = tally(replies);
      assert.equal(counts[401] ?? 0, 3, JSON.stringify(counts));
      assert.equal(counts[429] ?? 0, 7, JSON.stringify(counts));
      const served = await waitForLog(s, 'both workers served', (lines) => {
        const workers = new Set(lines.filter((l) => l.msg === 'request' && l.path === '/api/me').map((l) => l.worker));
        return workers.size === 2 ? workers.size : undefined;
      });
      assert.equal(served, 2);
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });
});
