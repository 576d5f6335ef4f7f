import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { UpstreamAccount, type UpstreamAccountConfig } from '../../../src/flows/upstream-account.ts';
import { runLoginCommand } from '../../../src/cli/login-probe.ts';
import { UsageError } from '../../../src/cli/policy.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { configSchema } from '../../../src/config/schema.ts';
import { upstreamAccountConfig } from '../../../src/server/options.ts';

/**
 * The login replay against a small framework-like app: its login page sets pre-login cookies and
 * a CSRF token in a hidden field, its POST checks both (403 otherwise), and its logout needs the
 * token from a signed-in page. Also `login probe`, which explains the same replay.
 */

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}
const seen: Seen[] = [];
const sessions = new Set<string>();
let counter = 0;

const app = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString('utf8')));
  req.on('end', () => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    const cookies = Object.fromEntries((req.headers.cookie ?? '').split(/;\s*/).filter(Boolean).map((p) => p.split('=') as [string, string]));
    const signedIn = cookies['sid'] !== undefined && sessions.has(cookies['sid']);
    if (req.url === '/hang') return; // never answers
    if (req.method === 'GET' && req.url?.startsWith('/login')) {
      res.writeHead(200, { 'content-type': 'text/html', 'set-cookie': ['csrf=c1; Path=/', 'PHPSESSID=pre1; Path=/'] });
      res.end(`<form method="post" action="/login"><input type="hidden" name="token" value="t1"><input name="user"><input type="password" name="pass"><input type="hidden" name="next" value="/from-page"></form>`);
      return;
    }
    if (req.method === 'POST' && req.url === '/login') {
      const json = req.headers['content-type'] === 'application/json';
      const form = json ? new Map(Object.entries(JSON.parse(body) as Record<string, string>)) : new Map(new URLSearchParams(body));
      if (cookies['csrf'] !== 'c1' || form.get('token') !== 't1') {
        res.writeHead(403).end('CSRF verification failed');
        return;
      }
      if (form.get('pass') !== 'pw') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<p class="error">Wrong</p>');
        return;
      }
      const sid = `s${++counter}`;
      sessions.add(sid);
      res.writeHead(302, { location: form.get('next') ?? '/', 'set-cookie': [`sid=${sid}; Path=/; HttpOnly`, 'csrf=c2; Path=/'] }).end();
      return;
    }
    if (req.method === 'GET' && req.url === '/home') {
      if (!signedIn) return void res.writeHead(302, { location: '/login?next=/home' }).end();
      res.writeHead(200, { 'content-type': 'text/html' }).end('<form id="out" method="post" action="/logout"><input type="hidden" name="token" value="t9"></form>');
      return;
    }
    if (req.method === 'POST' && req.url === '/logout') {
      if (!signedIn || new URLSearchParams(body).get('token') !== 't9') return void res.writeHead(403).end('no');
      sessions.delete(cookies['sid'] as string);
      res.writeHead(302, { location: '/login', 'set-cookie': 'sid=; Max-Age=0; Path=/' }).end();
      return;
    }
    if (req.method === 'POST' && req.url === '/logout-quietly') {
      // Ends the session but says nothing about the cookie.
      if (signedIn) sessions.delete(cookies['sid'] as string);
      return void res.writeHead(200).end('bye');
    }
    if (req.method === 'POST' && req.url === '/logout-broken') return void res.writeHead(200).end('nothing happened');
    res.writeHead(404).end();
  });
});

let base: URL;
before(async () => {
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  base = new URL(`http://127.0.0.1:${(app.address() as AddressInfo).port}`);
});
after(() => {
  app.closeAllConnections();
  app.close();
});

const clock = new ManualClock();
function account(overrides: Partial<UpstreamAccountConfig> = {}, login: Partial<UpstreamAccountConfig['login']> = {}): UpstreamAccount {
  return new UpstreamAccount({
    upstream: base,
    defaultHost: 'app.example.com',
    defaultProto: 'https',
    login: {
      path: '/login',
      encoding: 'form',
      fields: { identifier: 'user', password: 'pass' },
      form: { fetch: true, page: '/login?next=/home', hiddenFields: 'auto' },
      extraFields: {},
      extraHeaders: {},
      ...login,
    },
    timeoutMs: 2_000,
    success: { status: [302], cookies: ['sid'] },
    failure: { status: [200], body: /class="error"/ },
    sessionCookies: ['sid', 'PHPSESSID'],
    logout: { path: '/logout', method: 'POST', form: { fetch: true, page: '/home', hiddenFields: 'auto' }, extraFields: {} },
    clock,
    ...overrides,
  });
}
const context = { forwardedFor: '198.51.100.7', requestId: 'r1', host: 'shop.example.com:8443', proto: 'https' as const, userAgent: 'UA/1' };

describe('the login replay', () => {
  test("GETs the page in its own jar, carries the pre-login cookies and the form's token, with the browser's Host and X-Forwarded-*", async () => {
    const a = account({}, { extraFields: { remember: '1' }, extraHeaders: { 'X-Requested-With': 'XMLHttpRequest' }, returnField: { name: 'next', value: '/landing' } });
    const from = seen.length;
    const result = await a.checkPassword('mia', 'pw', context);
    a.close();
    assert.ok(result.ok, JSON.stringify(result));
    const [get, post] = seen.slice(from);
    assert.equal(get?.method, 'GET');
    assert.equal(get?.url, '/login?next=/home');
    assert.equal(post?.method, 'POST');
    assert.match(post?.headers.cookie ?? '', /csrf=c1/);
    assert.match(post?.headers.cookie ?? '', /PHPSESSID=pre1/);
    assert.deepEqual([...new URLSearchParams(post?.body)], [
      ['token', 't1'],
      ['next', '/landing'],
      ['remember', '1'],
      ['user', 'mia'],
      ['pass', 'pw'],
    ]);
    for (const r of [get, post]) {
      assert.equal(r?.headers.host, 'shop.example.com:8443');
      assert.equal(r?.headers['x-forwarded-host'], 'shop.example.com:8443');
      assert.equal(r?.headers['x-forwarded-proto'], 'https');
      assert.equal(r?.headers['x-forwarded-for'], '198.51.100.7');
    }
    assert.equal(post?.headers['x-requested-with'], 'XMLHttpRequest');
    assert.equal(post?.headers.origin, 'https://shop.example.com:8443');
    // Both session cookies are bound: the one the answer set and the pre-login one.
    assert.deepEqual(result.upstreamCookies, { sid: `s${counter}`, PHPSESSID: 'pre1' });
  });

  test('JSON encoding sends the same fields as JSON', async () => {
    const a = account({}, { encoding: 'json' });
    const from = seen.length;
    const result = await a.checkPassword('mia', 'pw', context);
    a.close();
    assert.ok(result.ok);
    assert.deepEqual(JSON.parse(seen[from + 1]?.body ?? ''), { token: 't1', next: '/from-page', user: 'mia', pass: 'pw' });
  });

  test('a wrong password is rejected; without the page fetch the CSRF 403 is an upstream error with its status', async () => {
    const a = account();
    assert.deepEqual(await a.checkPassword('mia', 'nope', context), { ok: false, reason: 'rejected' });
    a.close();
    const bare = account({}, { form: undefined });
    const result = await bare.checkPassword('mia', 'pw', context);
    bare.close();
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason, 'upstream_error');
    assert.equal(!result.ok && result.reason === 'upstream_error' && result.status, 403);
  });

  test('a login page without the form is an upstream error naming the problem', async () => {
    const a = account({}, { form: { fetch: true, page: '/home', hiddenFields: 'auto' } });
    const result = await a.checkPassword('mia', 'pw', context);
    a.close();
    assert.ok(!result.ok && result.reason === 'upstream_error', JSON.stringify(result));
    assert.match(result.detail, /GET \/home answered 302/);
  });

  test('an upstream that does not answer in time is unavailable, not a wrong password', async () => {
    const a = account({ timeoutMs: 200 }, { path: '/hang', form: undefined });
    const result = await a.checkPassword('mia', 'pw', context);
    a.close();
    assert.ok(!result.ok && result.reason === 'unavailable', JSON.stringify(result));
  });
});

describe('the logout replay', () => {
  const signedIn = async (a: UpstreamAccount): Promise<Record<string, string>> => {
    const result = await a.checkPassword('mia', 'pw', context);
    assert.ok(result.ok);
    return result.upstreamCookies;
  };

  test("carries the CSRF token from the app's own page and is verified by the cookie's deletion", async () => {
    const a = account();
    const cookies = await signedIn(a);
    assert.deepEqual(await a.logout(cookies, context), { ok: true, how: 'cookie_deleted' });
    assert.equal(sessions.has(cookies['sid'] as string), false);
    a.close();
  });

  test('without the token the app refuses: reported as failed, with its status', async () => {
    const a = account({ logout: { path: '/logout', method: 'POST', extraFields: {} } });
    const cookies = await signedIn(a);
    const result = await a.logout(cookies, context);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.status, 403);
    assert.ok(sessions.has(cookies['sid'] as string));
    a.close();
  });

  test('a logout that leaves the cookie alone is checked: refused afterwards is done, still working is a failure', async () => {
    const quiet = account({ logout: { path: '/logout-quietly', method: 'POST', extraFields: {}, check: '/home' } });
    assert.deepEqual(await quiet.logout(await signedIn(quiet), context), { ok: true, how: 'session_refused' });
    quiet.close();
    const broken = account({ logout: { path: '/logout-broken', method: 'POST', extraFields: {}, check: '/home' } });
    const result = await broken.logout(await signedIn(broken), context);
    assert.ok(!result.ok);
    assert.match(result.detail, /the old session still works/);
    broken.close();
  });
});

describe('login probe', () => {
  const configFile = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'spg-probe-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      `version: 1
upstream: { url: "${base.origin}" }
policy: policy.yaml
session: { keys: { file: keys.json } }
login:
  upstream:
    path: /login
    fields: { identifier: user, password: pass }
    form: { page: "/login?next=/home" }
  success: { status: [302], cookie: sid }
  failure: { status: [200], body: 'class="error"' }
  logout: { path: /logout, method: POST, form: { page: /home } }
factors: { encryption_keys: { file: enc.json } }
channels: { email: { kind: outbox }, sms: { kind: outbox } }
`,
    );
    return file;
  };
  const io = (input: string) => {
    const stdout = new PassThrough();
    let text = '';
    stdout.on('data', (c: Buffer) => (text += c.toString('utf8')));
    return { io: { stdin: Readable.from([input]), stdout, stderr: new PassThrough() }, output: () => text };
  };

  test('explains each step, masks every secret, signs the probe out again; exit 0', async () => {
    const run = io('pw\n');
    const code = await runLoginCommand(['probe', '--config', configFile(), '--user', 'mia'], run.io);
    const out = run.output();
    assert.equal(code, 0, out);
    assert.match(out, /1\. Fetch the login page/);
    assert.match(out, /cookies: +csrf, PHPSESSID/);
    assert.match(out, /fields copied: token, next/);
    assert.match(out, /pass=\*{8}/);
    assert.match(out, /user=mia/);
    assert.match(out, /✓ success\.status in \[302\] \(got 302\)/);
    assert.match(out, /Result: success/);
    assert.match(out, /Logout: done \(cookie deleted\)/);
    assert.doesNotMatch(out, /\bpw\b/, 'the password was printed');
    assert.doesNotMatch(out, /\bt1\b|\bc1\b|pre1|\bs\d+\b/, 'a token or cookie value was printed');
  });

  test('a wrong password says which failure predicate matched; exit 1', async () => {
    const run = io('wrong\n');
    assert.equal(await runLoginCommand(['probe', '--config', configFile(), '--user', 'mia'], run.io), 1);
    assert.match(run.output(), /✓ failure\.body matches/);
    assert.match(run.output(), /Result: wrong password/);
  });

  test('--help, and usage errors', async () => {
    const run = io('');
    assert.equal(await runLoginCommand(['probe', '--help'], run.io), 0);
    assert.match(run.output(), /Usage: smartpush-guard login probe --config FILE --user U/);
    await assert.rejects(runLoginCommand(['probe', '--config', configFile()], io('pw\n').io), UsageError);
    await assert.rejects(runLoginCommand(['probe', '--config', configFile(), '--user', 'mia'], io('\n').io), /no password given/);
  });
});

describe('the login config, mapped once', () => {
  const parse = (login: Record<string, unknown>) =>
    upstreamAccountConfig(
      configSchema.parse({
        version: 1,
        upstream: { url: 'http://127.0.0.1:1' },
        public_url: 'https://shop.example.com',
        policy: 'p.yaml',
        session: { keys: { env: 'K' } },
        login,
        factors: { encryption_keys: { env: 'E' }, methods: ['email'] },
        channels: { email: { kind: 'outbox' } },
      }),
      clock,
    );

  test('query routes, a list of session cookies, the return field and the public Host', () => {
    const mapped = parse({
      upstream: { path: '/doku.php', query: { do: 'login' }, fields: { identifier: 'u', password: 'p' }, form: {}, return_field: 'id' },
      success: { cookie: ['DokuWiki', 'DW7fa'] },
      session_cookies: ['DokuWiki', 'DW7fa', 'PHPSESSID'],
      logout: { path: '/doku.php', query: { do: 'logout' } },
      landing: '/start',
    });
    assert.equal(mapped.login.path, '/doku.php?do=login');
    assert.equal(mapped.logout?.path, '/doku.php?do=logout');
    assert.deepEqual(mapped.login.form, { fetch: true, page: undefined, selector: undefined, hiddenFields: 'auto' });
    assert.deepEqual(mapped.login.returnField, { name: 'id', value: '/start' });
    assert.deepEqual(mapped.success.cookies, ['DokuWiki', 'DW7fa']);
    assert.deepEqual(mapped.sessionCookies, ['DokuWiki', 'DW7fa', 'PHPSESSID']);
    assert.equal(mapped.defaultHost, 'shop.example.com');
    assert.equal(mapped.defaultProto, 'https');
  });

  test('existing configs keep working: fields.email is the identifier, one cookie name, no form fetch', () => {
    const mapped = parse({ upstream: { path: '/login', fields: { email: 'email', password: 'password' } }, success: { cookie: 'sp_session' } });
    assert.deepEqual(mapped.login.fields, { identifier: 'email', password: 'password' });
    assert.deepEqual(mapped.sessionCookies, ['sp_session']);
    assert.equal(mapped.login.form, undefined);
    assert.equal(mapped.failure, undefined);
  });

  test('bad values are refused with a clear message', () => {
    assert.throws(() => parse({ upstream: { path: '/l', extra_headers: { Host: 'x' } }, success: { cookie: 's' } }), /written by the sidecar/);
    assert.throws(() => parse({ upstream: { path: '/l', fields: { identifier: 'a', email: 'b' } }, success: { cookie: 's' } }), /give one of them/);
    assert.throws(() => parse({ upstream: { path: '/l' }, success: { cookie: 's' }, failure: {} }), /at least one of status, location or body/);
    assert.throws(() => parse({ upstream: { path: '/l' }, success: { cookie: 's', location: '(' } }), /valid regular expression/);
  });
});

describe("which redirects lead to the app's login page (rotation ends the session only on those)", () => {
  test('a path-routed app: its login path, with or without a return address', () => {
    const a = account();
    assert.equal(a.isLoginLocation('/login'), true);
    assert.equal(a.isLoginLocation('/login?next=/reports'), true);
    assert.equal(a.isLoginLocation('https://app.example.com/login'), true);
    assert.equal(a.isLoginLocation('/dashboard'), false);
    assert.equal(a.isLoginLocation(''), false);
  });

  test('an app routed by query string: one script serves every page, so only the login route\'s own parameters count', () => {
    const a = account({}, { path: '/doku.php?do=login', form: undefined });
    assert.equal(a.isLoginLocation('/doku.php?do=login'), true);
    assert.equal(a.isLoginLocation('/doku.php?id=start&do=LOGIN'), true);
    // A save in DokuWiki answers 302 to the page it saved: the same script, not the login page.
    assert.equal(a.isLoginLocation('/doku.php?id=playground'), false);
    assert.equal(a.isLoginLocation('/doku.php'), false);
    assert.equal(a.isLoginLocation('/doku.php?do=logout'), false);
  });
});
