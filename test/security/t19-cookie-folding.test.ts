/**
 * THREATS T19 — Cookie-name folding.
 *
 * PHP url-decodes cookie names, skips leading spaces and turns ' ', '.' and '[' into '_', and keeps
 * the FIRST pair of a name; ASP.NET and others ignore case. The sidecar dropped a client's
 * `sp_session` but let `sp.session`, `sp session` and `sp[session` through, before the bound
 * cookie: PHP then read the attacker's value as its session.
 *
 * Every client cookie whose name folds to the upstream's session cookie is dropped, the bound pair
 * comes first, and (shared decision 1) the upstream's session cookie never reaches the browser at
 * all: not at sign-in, not from a proxied response. Checked against PHP itself (its built-in
 * server) and the demo app.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, DEMO_LOGIN, type Stack } from '../helpers/stack.ts';
import { phpAvailable, startPhpApp, type PhpApp } from '../helpers/php-app.ts';
import { BINDING_POLICY, CookieJar, apiSignIn, cookiePairs, echoedCookie, send, setCookieFor, upstreamSession } from '../helpers/browser-like.ts';
import { foldCookieName } from '../../src/proxy/cookie-names.ts';

/** Client spellings of `sp_session` that some upstream reads as `sp_session`. */
const FOLDED_SPELLINGS = [
  'sp.session',
  'sp session',
  'sp[session',
  'SP.SESSION',
  'Sp[Session',
  'sp%5Fsession',
  'sp%5fsession',
  'sp%2Esession',
  'sp%20session',
  'sp+session',
  'sp%5Bsession',
  '%73p_session',
  'SP_SESSION',
];

const PHP_POLICY = `version: 1
default:
  access: authenticated
rules:
  - name: public
    paths: ["/public/**"]
    access: public
`;

interface PhpSeen {
  sp_session: string | null;
  cookie: string | null;
}

const hasPhp = phpAvailable();

describe('against PHP (first pair wins, . space [ fold to _)', { skip: !hasPhp && 'php is not installed' }, () => {
  let php: PhpApp;
  let stack: Stack;
  before(async () => {
    php = await startPhpApp();
    const { profile: _profile, logout: _logout, ...login } = DEMO_LOGIN;
    stack = await startStack({ policy: PHP_POLICY, upstreamUrl: php.url, config: { login: { ...login, success: { status: [302], location: '^/dashboard', cookie: 'sp_session' } } } });
  });
  after(async () => {
    await stack?.close();
    await php?.close();
  });

  const seen = async (path: string, cookie: string): Promise<PhpSeen> => {
    const r = await send(`${stack.url}${path}`, { headers: { accept: 'application/json', cookie } });
    assert.equal(r.status, 200, r.text);
    return r.json() as unknown as PhpSeen;
  };

  test('signed in: PHP reads the bound session, whatever spelling of its name the client adds', async () => {
    const jar = new CookieJar();
    const signedIn = await apiSignIn(stack.url, jar);
    assert.equal(signedIn.status, 200, signedIn.text);
    const own = jar.header() ?? '';
    const baseline = await seen('/whoami', own);
    assert.match(baseline.sp_session ?? '', /^php[0-9a-f]{32}$/, 'the bound session reaches PHP (control)');
    const problems: string[] = [];
    for (const name of FOLDED_SPELLINGS) {
      for (const cookie of [`${name}=attacker; ${own}`, `${own}; ${name}=attacker`, `a=1; ${name}=attacker; ${own}; ${name}=attacker2`]) {
        const got = await seen('/whoami', cookie);
        if (got.sp_session !== baseline.sp_session) problems.push(`${JSON.stringify(cookie)}: PHP read ${String(got.sp_session)}`);
        if ((got.cookie ?? '').includes('attacker')) problems.push(`${JSON.stringify(cookie)}: PHP received ${String(got.cookie)}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test('signed in: the bound pair is the first pair of the Cookie header the upstream receives', async () => {
    const jar = new CookieJar();
    await apiSignIn(stack.url, jar);
    const got = await seen('/whoami', `theme=dark; lang=en; ${jar.header() ?? ''}`);
    const pairs = cookiePairs(got.cookie ?? '');
    assert.equal(pairs[0]?.[0], 'sp_session', String(got.cookie));
    assert.deepEqual(pairs.slice(1), [['theme', 'dark'], ['lang', 'en']], 'the other cookies follow, in order');
  });

  test('anonymous: no spelling of the session cookie reaches PHP on a public route', async () => {
    const problems: string[] = [];
    for (const name of [...FOLDED_SPELLINGS, 'sp_session']) {
      const got = await seen('/public/x', `${name}=php${'a'.repeat(32)}; theme=dark`);
      if (got.sp_session !== null) problems.push(`${name}: PHP read ${got.sp_session}`);
      if (got.cookie !== 'theme=dark') problems.push(`${name}: PHP received ${String(got.cookie)}`);
    }
    assert.deepEqual(problems, []);
  });

  test("the browser never receives the upstream's session cookie: not at sign-in, not from a proxied response", async () => {
    const signedIn = await send(`${stack.url}/_guard/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'merchant@example.com', password: 'smartpush-demo' }),
    });
    assert.equal(signedIn.status, 200);
    assert.deepEqual(signedIn.setCookies.filter((c) => foldCookieName(c.split('=', 1)[0] ?? '') === 'sp_session'), [], JSON.stringify(signedIn.setCookies));
    const set = await send(`${stack.url}/public/set`, { headers: { accept: 'application/json' } });
    assert.equal(set.status, 200);
    assert.deepEqual(set.setCookies.map((c) => c.split(';', 1)[0]), ['theme=dark'], 'other upstream cookies still pass; no spelling of the session cookie does');
  });
});

describe('against the demo app', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ policy: BINDING_POLICY });
  });
  after(async () => {
    await stack.close();
  });

  test('signed in: no folded spelling of sp_session reaches the upstream, the bound pair comes first', async () => {
    const jar = new CookieJar();
    await apiSignIn(stack.url, jar);
    const problems: string[] = [];
    let bound: string | undefined;
    for (const name of FOLDED_SPELLINGS) {
      const echo = await send(`${stack.url}/debug/request`, { headers: { accept: 'application/json', cookie: `${name}=attacker; ${jar.header() ?? ''}` } });
      const header = echoedCookie(echo) ?? '';
      const first = cookiePairs(header)[0];
      if (first?.[0] !== 'sp_session') problems.push(`${name}: first pair ${JSON.stringify(first)}`);
      bound ??= first?.[1];
      if (first?.[1] !== bound) problems.push(`${name}: a different session ${JSON.stringify(first)}`);
      if (header.includes('attacker')) problems.push(`${name}: upstream received ${header}`);
    }
    assert.deepEqual(problems, []);
    // The demo app still works end to end with the cookie kept server-side.
    const dashboard = await send(`${stack.url}/dashboard`, { headers: { accept: 'text/html', cookie: jar.header() ?? '' } });
    assert.equal(dashboard.status, 200);
    assert.match(dashboard.text, /Mia Merchant/);
    assert.equal(setCookieFor(dashboard.setCookies, 'sp_session'), undefined);
  });

  test('anonymous: a valid upstream session under a folded name does not reach the upstream', async () => {
    const sp = await upstreamSession(stack.upstreamUrl);
    for (const name of FOLDED_SPELLINGS) {
      const echo = await send(`${stack.url}/debug/request`, { headers: { accept: 'application/json', cookie: `${name}=${sp}` } });
      assert.ok(!(echoedCookie(echo) ?? '').includes(sp), `${name}: ${String(echoedCookie(echo))}`);
    }
  });
});

test('foldCookieName folds as PHP and case-insensitive frameworks read names', () => {
  for (const name of [...FOLDED_SPELLINGS, ' sp_session', '+sp_session', 'sp_session ']) assert.equal(foldCookieName(name), 'sp_session', name);
  for (const name of ['sp-session', 'spsession', 'sp__session', 'sp_sessions', 'sp%ZZsession']) assert.notEqual(foldCookieName(name), 'sp_session', name);
});
