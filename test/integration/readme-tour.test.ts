import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { CookieJar, csrfFrom, form, navigation, sameOriginForm, send, type Reply } from '../helpers/browser-like.ts';
import { base32Decode, codeMessages, lastCode, outboxMessages, totpAt } from '../helpers/two-factor.ts';

/**
 * The README's "5-minute tour of the demo", followed as a newcomer would: `npm start` in a fresh
 * copy of the checkout (its own var/, the three ports moved as the README says for a second demo),
 * each numbered step done as written — its shell blocks run by bash, its browser steps as the
 * browser's requests — and what the step says is seen asserted. The step texts are read from the
 * README, so a step that no longer matches the demo fails here. Step 6 (editing the policy while
 * the demo runs) is the one not replayed: test/integration/policy-reload-atomic.test.ts covers it.
 * No step may leave a file in the checkout (the copy is compared before and after, var/ aside).
 */

const ROOT = process.cwd();
const MERCHANT = 'merchant@example.com';
const PASSWORD = 'smartpush-demo';
const SUPPORT = 'support@smartpush.example';
const PHONE = '+15555550189';
const children: ChildProcess[] = [];
const temp: string[] = [];
after(() => {
  // npm runs the demo as its child: the whole process group (started here, detached) goes.
  for (const child of children) {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

/** The tour's numbered steps, by number, as the README has them. */
function tourSteps(): Map<number, string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## A 5-minute tour of the demo');
  assert.ok(start >= 0, 'the README has the tour');
  const rest = readme.slice(start);
  const end = rest.search(/\n#{2,3} (?!A 5-minute)/);
  const section = rest.slice(0, end);
  const steps = new Map<number, string>();
  for (const match of section.matchAll(/^(\d+)\. ([\s\S]*?)(?=^\d+\. |^\S|(?![\s\S]))/gm)) steps.set(Number(match[1]), match[2] as string);
  assert.equal(steps.size, 14, `the tour has 14 steps, not ${steps.size}`);
  return steps;
}

/** The ```sh block of a step, unindented. */
function shellBlock(step: string): string {
  const block = /```sh\n([\s\S]*?)```/.exec(step);
  assert.ok(block?.[1], 'the step has a shell block');
  return block[1].replace(/^ {3,4}/gm, '');
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** A checkout as `git clone` + `npm ci` leaves it: the tracked folders, and node_modules. */
function freshCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'spg-tour-'));
  temp.push(dir);
  for (const entry of ['bin', 'config', 'demo', 'policies', 'schema', 'scripts', 'src', 'package.json', 'tsconfig.json', 'README.md']) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

/** Every file of the checkout a newcomer could trip over (var/ is the demo's, dist/ the CLI's bundle, both ignored by git). */
function checkoutFiles(dir: string): string[] {
  const files: string[] = [];
  const walk = (at: string): void => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      const rel = relative(dir, path);
      if (['var', 'dist', 'node_modules'].includes(rel)) continue;
      if (statSync(path).isDirectory()) walk(path);
      else files.push(rel);
    }
  };
  walk(dir);
  return files.sort();
}

/** `npm start` in the copy; resolves with the banner once the demo listens. */
function npmStart(dir: string, env: Record<string, string>): Promise<string> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('GUARD_')));
  const child = spawn('npm', ['start'], { cwd: dir, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push(child);
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not start:\n${seen}`)), 120_000);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (/Codes \(outbox\)/.test(seen)) {
        clearTimeout(timer);
        resolve(seen);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited (${code}):\n${seen}`));
    });
  });
}

/** The visible text of a page. */
const textOf = (html: string): string =>
  html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/\s+/g, ' ')
    .trim();

test('the README tour, step by step, against `npm start`', { timeout: 300_000 }, async () => {
  const steps = tourSteps();
  const step = (n: number): string => steps.get(n) as string;
  const dir = freshCheckout();
  const before = checkoutFiles(dir);
  const [guardPort, adminPort, appPort] = [await freePort(), await freePort(), await freePort()];
  const url = `http://127.0.0.1:${guardPort}`;
  /** The README's addresses, moved to this run's ports (the README's own way to run a second demo). */
  const moved = (text: string): string => text.replaceAll('127.0.0.1:8080', `127.0.0.1:${guardPort}`).replaceAll('127.0.0.1:9090', `127.0.0.1:${adminPort}`);
  const outbox = join(dir, 'var', 'outbox.jsonl');
  const bash = (script: string): string => execFileSync('bash', ['-c', moved(script)], { cwd: dir, encoding: 'utf8', env: { ...process.env, npm_config_offline: 'true' } });

  // 1. npm start: secrets once into var/ (0600), the store, the outbox, the URLs printed.
  assert.match(step(1), /^`npm start`/);
  const banner = await npmStart(dir, { GUARD_PORT: String(guardPort), GUARD_ADMIN_PORT: String(adminPort), GUARD_DEMO_APP_PORT: String(appPort) });
  assert.ok(banner.includes(`Open            ${url}/dashboard`), banner);
  for (const file of ['session-keys.json', 'encryption-keys.json']) {
    assert.ok(step(1).includes(file));
    assert.equal(statSync(join(dir, 'var', file)).mode & 0o777, 0o600, file);
  }
  assert.ok(existsSync(join(dir, 'var', 'guard.db')), 'var/guard.db');

  // 2. /dashboard without a session: 303 to the sign-in page.
  const location = /`303 See Other` to `([^`]+)`/.exec(step(2))?.[1];
  assert.ok(location, 'step 2 names where it redirects');
  const jar = new CookieJar();
  const get = async (path: string, headers: Record<string, string> = {}): Promise<Reply> => jar.take(await send(`${url}${path}`, { headers: { ...navigation(), cookie: jar.header(), ...headers } }));
  const post = async (path: string, fields: Record<string, string>): Promise<Reply> =>
    jar.take(await send(`${url}${path}`, { method: 'POST', headers: { ...sameOriginForm(url), cookie: jar.header() }, body: form(fields) }));
  const dashboard = await get('/dashboard');
  assert.equal(dashboard.status, 303);
  assert.equal(dashboard.location, location);

  // 3. Sign in: a new browser is asked for the email code (the page names where it went), then the dashboard.
  const signIn = async (password = PASSWORD): Promise<Reply> => {
    const page = await get('/_guard/login?return_to=%2Fdashboard');
    return post('/_guard/login', { _csrf: csrfFrom(page.text), return_to: '/dashboard', email: MERCHANT, password });
  };
  let reply = await signIn();
  assert.equal(reply.status, 303);
  assert.match(reply.location ?? '', /^\/_guard\/verify/);
  let page = await get(reply.location as string);
  const masked = /`(m•••@example\.com)`/.exec(step(3))?.[1];
  assert.ok(masked && textOf(page.text).includes(`We sent a 6-digit code by email to ${masked}.`), textOf(page.text));
  assert.match(step(3), /tail -n 1 var\/outbox\.jsonl/);
  reply = await post('/_guard/verify', { _csrf: csrfFrom(page.text), return_to: '/dashboard', action: 'verify', code: lastCode(outbox, MERCHANT) });
  assert.equal(reply.location, '/dashboard');
  assert.ok(jar.get('spg_session') && jar.get('spg_device'), 'the sidecar session and the device cookie');
  assert.equal(jar.get('sp_session'), undefined, "the app's cookie never reaches the browser");
  page = await get('/dashboard');
  assert.equal(page.status, 200);

  // 4. The API as a script, with the README's own shell block; it leaves no file behind.
  const script = shellBlock(step(4));
  assert.doesNotMatch(script, /-c jar\b|-b jar\b/, 'no cookie jar file in the checkout');
  const output = bash(script);
  assert.match(output, /"status":"verification_required"/);
  assert.match(output, /"status":"authenticated"/);
  assert.match(output, /"email":"merchant@example\.com"/);
  assert.match(output, /\{"error":"login_required","message":"[^"]*","login_url":/);
  assert.equal((await send(`${url}//api/me`)).status, 400, 'the ambiguous path');
  assert.deepEqual(checkoutFiles(dir), before, 'step 4 left a file in the checkout');

  // 5. The policy explains itself.
  const explain = /`(npx smartpush-guard policy explain [^`]+)`/.exec(step(5))?.[1];
  assert.ok(explain);
  assert.match(bash(explain), /decision:\s+step_up_required \(email_code\)/);

  // 7. The dashboard's "Sign out" button: the app's logout form goes on, the sidecar's session ends.
  assert.match(step(7), /"Sign out" button/);
  page = await get('/dashboard');
  assert.match(page.text, /<form method="post" action="\/logout"><button type="submit">Sign out<\/button><\/form>/);
  const signOut = async (): Promise<void> => {
    const out = await post('/logout', {});
    assert.equal(out.status, 303);
    const shown = await get(out.location as string);
    const said = /says "([^"]+)"/.exec(step(7))?.[1];
    assert.ok(said && textOf(shown.text).includes(said), textOf(shown.text));
    assert.equal((await get('/dashboard')).status, 303, 'signed out');
  };
  await signOut();

  // 8. Signed in again without a code (known browser); Account Management › Login & Security; enable
  // 2FA: the identity code by SMS, an authenticator app (the key read off the page).
  assert.match(step(8), /Account Management › Login & Security/);
  reply = await signIn();
  assert.equal(reply.location, '/dashboard', 'a known browser goes straight through');
  page = await get('/dashboard');
  assert.match(page.text, /<h2 id="account-management">Account Management<\/h2>/);
  assert.match(page.text, /<a href="\/_guard\/security">Login &amp; Security<\/a>/);
  page = await get('/_guard/security');
  assert.ok(step(8).includes('"Two-Factor Authentication Disabled"'));
  assert.match(textOf(page.text), /Two-Factor Authentication Disabled/);
  page = await get('/_guard/security/enable');
  const enable = async (fields: Record<string, string>): Promise<Reply> => {
    const answer = await post('/_guard/security/enable', { _csrf: csrfFrom(page.text), ...fields });
    return answer.status === 303 ? get(answer.location as string) : answer;
  };
  page = await enable({ step: 'password', password: PASSWORD });
  assert.match(step(8), /by SMS to\s+the phone the legacy app knows/);
  page = await enable({ step: 'identity', channel: 'sms', sms: '1' });
  page = await enable({ step: 'code', channel: 'sms', sms: '1', action: 'verify', code: lastCode(outbox, PHONE) });
  page = await enable({ step: 'method', method: 'totp', sms: '1' });
  const key = /<code class="key" id="totp-key">([^<]+)<\/code>/.exec(page.text)?.[1];
  assert.ok(key, `the key is on the page: ${textOf(page.text).slice(0, 300)}`);
  page = await enable({ step: 'confirm', method: 'totp', code: totpAt(base32Decode(key.replace(/\s+/g, '')), Date.now()) });
  assert.equal(page.status, 200, textOf(page.text));
  assert.match(textOf(page.text), /Two-Factor Authentication Enabled/);
  const recoveryCodes = [...page.text.matchAll(/<li><code>([^<]+)<\/code>/g)].map((m) => m[1] as string);
  assert.equal(recoveryCodes.length, 10, 'ten recovery codes');
  page = await get('/_guard/security');
  assert.match(textOf(page.text), /Two-Factor Authentication Enabled Signing in .*Verification method Authenticator app Recovery codes left 10/);

  // 9. Sign out and in: the code of the method, or a recovery code (used here: another code of the
  // app would need the next 30-second step); help and support on the page.
  await signOut();
  reply = await signIn();
  assert.match(reply.location ?? '', /^\/_guard\/verify/);
  page = await get(reply.location as string);
  const words = textOf(page.text);
  assert.ok(step(9).includes('"Lost your device? Use a recovery code"') && words.includes('Lost your device? Use a recovery code'), words);
  assert.match(page.text, /<a href="\/_guard\/help\/otp#app">Can’t use your app\?<\/a>/);
  assert.ok(step(9).includes('"Can\'t use your app?"'));
  assert.ok(words.includes(`Contact support: ${SUPPORT}`), words);
  assert.match(page.text, /<input id="recovery-code" name="code" type="text" inputmode="text"/);
  reply = await post('/_guard/verify', { _csrf: csrfFrom(page.text), return_to: '/dashboard', action: 'verify', code: recoveryCodes[0] as string });
  assert.equal(reply.location, '/dashboard');

  // 10. Turn it off: password, a code, confirm; each change announced by email.
  page = await get('/_guard/security/disable');
  const disable = async (fields: Record<string, string>): Promise<Reply> => {
    const answer = await post('/_guard/security/disable', { _csrf: csrfFrom(page.text), ...fields });
    assert.equal(answer.status, 303, textOf(answer.text));
    return get(answer.location as string);
  };
  page = await disable({ step: 'password', password: PASSWORD });
  page = await disable({ step: 'code', code: recoveryCodes[1] as string });
  page = await disable({ step: 'confirm' });
  assert.match(textOf(page.text), /Two-Factor Authentication Disabled/);
  // One message per change: the security alert (sent from a queue in the sidecar's process: waited for).
  const owner = () => outboxMessages(outbox).filter((m) => m.to === MERCHANT && m.purpose !== 'code' && m.alert !== 'new_browser');
  for (let i = 0; i < 200 && !owner().some((m) => /turned off/.test(m.subject ?? '')); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  const notices = owner().map((m) => `${m.purpose} ${m.alert ?? ''}: ${m.subject ?? ''}`);
  assert.equal(notices.filter((n) => /turned on/.test(n)).length, 1, JSON.stringify(notices));
  assert.equal(notices.filter((n) => /turned off/.test(n)).length, 1, JSON.stringify(notices));
  assert.ok(notices.filter((n) => /turned (on|off)/.test(n)).every((n) => n.startsWith('alert factor_changed')), JSON.stringify(notices));

  // 11. An export without 2FA: an email code first (/_guard/step-up), then the same request goes through.
  const exportPath = /<(http:\/\/127\.0\.0\.1:8080[^>]+)>/.exec(step(11))?.[1]?.replace('http://127.0.0.1:8080', '');
  assert.equal(exportPath, '/api/contacts/export?rows=100');
  reply = await get(exportPath as string);
  assert.equal(reply.status, 303);
  assert.match(reply.location ?? '', /^\/_guard\/step-up\?/);
  assert.ok(step(11).includes('`/_guard/step-up`'));
  page = await get(reply.location as string);
  const sent = codeMessages(outbox, MERCHANT).length;
  reply = await post('/_guard/step-up', { _csrf: csrfFrom(page.text), action: 'send', return_to: exportPath as string });
  assert.equal(codeMessages(outbox, MERCHANT).length, sent + 1, 'one email code');
  page = await get(reply.location as string);
  reply = await post('/_guard/step-up', { _csrf: csrfFrom(page.text), action: 'verify', code: lastCode(outbox, MERCHANT), return_to: exportPath as string });
  assert.equal(reply.status, 303, textOf(reply.text));
  // The invitation to enable 2FA (wherever the flow places it) never replaces the export.
  let invited = false;
  for (let hops = 0; hops < 4 && reply.location !== exportPath; hops++) {
    page = await get(reply.location as string);
    if (/Turn on two-factor authentication|Enable now/i.test(textOf(page.text))) invited = true;
    const notNow = /<form method="post" action="(\/_guard\/step-up\/nudge)"/.exec(page.text);
    if (!notNow) break;
    reply = await post(notNow[1] as string, { _csrf: csrfFrom(page.text), return_to: exportPath as string });
  }
  const csv = await get(exportPath as string);
  assert.equal(csv.status, 200);
  assert.match(String(csv.headers['content-type']), /text\/csv/);
  assert.ok(invited || /invit/.test(csv.text), 'the invitation to enable 2FA was shown');

  // 12. Wrong passwords: 2 left, 1 left, paused; then 429 with Retry-After. "Forgot password?" and support.
  await signOut();
  const said: string[] = [];
  for (const password of ['wrong-1', 'wrong-2', 'wrong-3']) {
    const refused = await signIn(password);
    assert.equal(refused.status, 303);
    said.push(textOf((await get(refused.location as string)).text));
  }
  assert.match(said[0] as string, /2 attempts left/);
  assert.ok(step(12).includes('"1 attempt left"') && (said[1] as string).includes('1 attempt left'), said[1]);
  assert.match(said[2] as string, /now paused for 5 minutes/);
  const paused = await signIn();
  assert.ok(paused.headers['retry-after'], 'Retry-After');
  const pausedPage = await get(paused.location as string);
  assert.equal(pausedPage.status, 429);
  assert.match(pausedPage.text, /<a href="\/password\/reset">Forgot password\?<\/a>/);
  assert.ok(textOf(pausedPage.text).includes(`Trouble signing in? Contact support: ${SUPPORT}.`));
  const reset = await get('/password/reset');
  assert.equal(reset.status, 200);
  assert.match(reset.text, /Reset your password/);

  // 13. Support: the README's admin calls, as written (the token from var/admin-token), lift the pause.
  const admin = bash(shellBlock(step(13)));
  assert.match(admin, /"user":"merchant@example\.com"/);
  assert.match(admin, /spg_logins_total/);
  reply = await signIn();
  assert.equal(reply.status, 303);
  assert.doesNotMatch(reply.location ?? '', /^\/_guard\/login/, 'signing in works again after the unlock');

  // 14. Simplified Chinese: the switcher at the top, or Accept-Language.
  const zh = await send(`${url}/_guard/login`, { headers: { ...navigation(), 'accept-language': 'zh-CN' } });
  assert.match(zh.text, /<html lang="zh-CN">/);
  assert.match(zh.text, /href="\/_guard\/lang\?set=en/);

  assert.deepEqual(checkoutFiles(dir), before, 'the tour left a file in the checkout');
});
