import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningGuard } from '../../src/server/start.ts';
import { startWikiBehindGuard, WIKI_PASSWORD, type Wiki } from '../helpers/dokuwiki.ts';
import { GuardClient, expectStatus, lastCode, rawRequest } from '../helpers/two-factor.ts';

/**
 * examples/dokuwiki/ against a real DokuWiki (Debian's package), driven through the sidecar only:
 * the example's own config and policy (only ports, secrets and files moved to a temporary folder),
 * a real sign-in replayed to DokuWiki, and the query-routed decisions on ?do=….
 */

const ADMIN = 'admin@wiki.example';
let wiki: Wiki | null = null;
let guard: RunningGuard | undefined;
let outbox = '';

before(async () => {
  const started = await startWikiBehindGuard();
  if (!started) return;
  ({ wiki, guard, outbox } = started);
});

after(async () => {
  await guard?.close();
  await wiki?.stop();
});

const html = { accept: 'text/html' };

test('anonymous: pages are public, ?do=admin and editing need a session, ?do=login is the sidecar\'s', async () => {
  if (!guard) return; // allowed-skip: announced by startWiki; CI=true fails there instead
  const page = await rawRequest(`${guard.url}/doku.php?id=start`, { headers: html });
  assert.equal(page.status, 200, page.text.slice(0, 300));
  assert.match(page.text, /DokuWiki behind smartpush-guard/, 'the wiki itself answered');
  for (const target of ['/doku.php?do=admin', '/doku.php?do=ADMIN&page=usermanager', '/doku.php?id=start&do=edit', '/doku.php?do=adm-in']) {
    const r = await rawRequest(`${guard.url}${target}`, { headers: { accept: 'application/json' } });
    assert.equal(r.status, 401, `${target}: ${r.status}`);
    assert.equal(r.body['error'], 'login_required', target);
  }
  const login = await rawRequest(`${guard.url}/doku.php?do=login&id=start`, { headers: html });
  assert.ok([302, 303].includes(login.status), `${login.status}`);
  assert.equal(login.headers.location, '/_guard/login');
});

test('query tricks never reach the wiki: repeated or array-form actions, ";", credentials in the query', async () => {
  if (!guard) return; // allowed-skip: announced by startWiki
  const refused = ['/doku.php?do=show&do=admin', '/doku.php?do[admin]=1', '/doku.php?id=start;do=admin', '/doku.php?do=admin%00'];
  for (const target of refused) {
    const r = await rawRequest(`${guard.url}${target}`, { headers: { accept: 'application/json' } });
    assert.equal(r.status, 400, `${target}: ${r.status} ${r.text.slice(0, 200)}`);
  }
  const credentials = await rawRequest(`${guard.url}/doku.php?id=start&u=${encodeURIComponent(ADMIN)}&p=${WIKI_PASSWORD}`, { headers: html });
  assert.equal(credentials.status, 403);
  assert.ok(!credentials.setCookies.some((c) => c.startsWith('DW') && !c.includes('=deleted;')), 'no DokuWiki sign-in happened');
  // The wiki's own request log: none of these reached it.
  const seen = wiki!.targets();
  assert.ok(seen.includes('/doku.php?id=start'), `the log is read (the public page is in it): ${seen.join(' ')}`);
  for (const target of refused) assert.ok(!seen.includes(target), `${target} reached the wiki`);
  assert.ok(!seen.some((t) => t.includes('&u=')), `credentials reached the wiki: ${seen.join(' ')}`);
  // DokuWiki reads its action from X-DokuWiki-Do before the query: the example strips the header.
  const headerDirect = await rawRequest(`${wiki!.url}/doku.php?id=start`, { headers: { ...html, 'x-dokuwiki-do': 'index' } });
  assert.match(headerDirect.text, /<title>Sitemap/, 'DokuWiki itself obeys the header (the reason for the strip)');
  const header = await rawRequest(`${guard.url}/doku.php?id=start`, { headers: { ...html, 'x-dokuwiki-do': 'index' } });
  assert.equal(header.status, 200);
  assert.doesNotMatch(header.text, /<title>Sitemap/, 'the header reached DokuWiki');
  // HTTP Basic credentials sign in at DokuWiki (asked directly, it sets its auth cookie), so the
  // example strips Authorization: through the sidecar nobody is signed in.
  const basicAuth = `Basic ${Buffer.from(`admin_wiki.example:${WIKI_PASSWORD}`).toString('base64')}`;
  const signsIn = (setCookies: string[]): boolean => setCookies.some((c) => c.startsWith('DW') && !/^DW\w+=deleted;/.test(c));
  const direct = await rawRequest(`${wiki!.url}/doku.php?id=start`, { headers: { ...html, authorization: basicAuth } });
  assert.ok(signsIn(direct.setCookies), 'DokuWiki itself accepts Basic credentials (the reason for the strip)');
  const basic = await rawRequest(`${guard.url}/doku.php?id=start`, { headers: { ...html, authorization: basicAuth } });
  assert.ok(!signsIn(basic.setCookies), `Basic credentials signed in at DokuWiki: ${basic.setCookies.join(' / ')}`);
  assert.doesNotMatch(basic.text, /Wiki Admin/);
});

test('sign-in replayed to DokuWiki; ?do=admin asks for an email code, then shows the real admin page', async () => {
  if (!guard) return; // allowed-skip: announced by startWiki
  const wrong = await new GuardClient(guard.url).login(ADMIN, 'not-the-password');
  assert.equal(wrong.status, 401, wrong.text);
  assert.equal(wrong.body['error'], 'invalid_credentials');

  const client = new GuardClient(guard.url);
  const login = expectStatus(await client.login(ADMIN, WIKI_PASSWORD), 200, 'sign-in');
  assert.equal(login.body['status'], 'authenticated', login.text);
  const page = await client.request('/doku.php?id=start', { headers: html });
  assert.equal(page.status, 200);
  assert.match(page.text, /Wiki Admin/, 'DokuWiki shows the signed-in user');

  const admin = await client.get('/doku.php?do=admin');
  assert.equal(admin.status, 401, admin.text);
  assert.equal(admin.body['error'], 'step_up_required');
  assert.equal(admin.body['method'], 'email');
  assert.ok(!wiki!.targets().includes('/doku.php?do=admin'), 'the admin page was asked for before the step-up');
  const start = expectStatus(await client.post('/_guard/api/step-up/start'), 200, 'step-up start');
  assert.equal(start.body['status'], 'code_sent', start.text);
  expectStatus(await client.post('/_guard/api/step-up/verify', { code: lastCode(outbox, ADMIN) }), 200, 'step-up verify');
  const adminPage = await client.request('/doku.php?do=admin', { headers: html });
  assert.equal(adminPage.status, 200);
  assert.match(adminPage.text, /User Manager/, 'DokuWiki\'s own administration page');
  assert.ok(wiki!.targets().includes('/doku.php?do=admin'));

  // DokuWiki's sign-out link is the sidecar's: the session ends.
  const logout = await client.request('/doku.php?do=logout', { headers: html });
  assert.ok([302, 303].includes(logout.status), `${logout.status}`);
  assert.equal(logout.headers.location, '/_guard/logout');
});
