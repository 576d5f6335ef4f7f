import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startStack, withStack, type Stack } from '../helpers/stack.ts';
import {
  BINDING_POLICY,
  CookieJar,
  boundUpstreamCookie,
  apiSignIn,
  cookiePairs,
  echoedCookie,
  form,
  sameOriginForm,
  me,
  parseSetCookie,
  postJson,
  send,
  setCookieFor,
  upstreamSession,
  withRecordedStack,
} from '../helpers/browser-like.ts';

/**
 * THREATS T6, session fixation and cookie tossing. A session id planted before sign-in (by a
 * sibling subdomain, a shared computer or an injected header) must never become the signed-in
 * session; over https the sidecar's cookie is __Host- prefixed so siblings cannot plant it at all;
 * and the upstream's own session cookie, which the sidecar binds server-side, never reaches the
 * upstream on a client's say-so.
 */

const MERCHANT = 'merchant@example.com';
const OWNER = 'owner@example.com';
const PASSWORD = 'smartpush-demo';

let stack: Stack;
before(async () => {
  stack = await startStack({ policy: BINDING_POLICY });
});
after(async () => {
  await stack.close();
});

describe('the session id changes at sign-in', () => {
  test('a planted garbage spg_session is ignored and replaced (JSON API)', async () => {
    const planted = 'Fe26.2*1*planted-by-attacker';
    const reply = await postJson(`${stack.url}/_guard/api/login`, { email: MERCHANT, password: PASSWORD }, { cookie: `spg_session=${planted}` });
    assert.equal(reply.status, 200);
    const issued = setCookieFor(reply.setCookies, 'spg_session');
    assert.ok(issued);
    assert.notEqual(parseSetCookie(issued).value, planted);
    assert.equal((await me(stack.url, `spg_session=${planted}`)).status, 401);
  });

  test('a planted *valid* session (the attacker\'s own) is not re-used: the victim gets a new id and the planted one stays the attacker\'s', async () => {
    const attacker = new CookieJar();
    await apiSignIn(stack.url, attacker, OWNER);
    const planted = attacker.get('spg_session') ?? '';
    assert.ok(planted);

    // The victim's browser carries the planted cookie and signs in through the legacy form.
    const victim = new CookieJar({ spg_session: planted });
    const reply = victim.take(
      await send(`${stack.url}/login`, {
        method: 'POST',
        headers: { ...sameOriginForm(stack.url), cookie: victim.header() },
        body: form({ email: MERCHANT, password: PASSWORD }),
      }),
    );
    assert.equal(reply.status, 303);
    const issued = setCookieFor(reply.setCookies, 'spg_session');
    assert.ok(issued, 'sign-in must issue a new session cookie');
    assert.notEqual(parseSetCookie(issued).value, planted);
    assert.notEqual(victim.get('spg_session'), planted);

    const victimProfile = await me(stack.url, victim);
    assert.equal(victimProfile.json()['email'], MERCHANT);
    // The planted cookie did not become the victim's session.
    const plantedProfile = await me(stack.url, `spg_session=${planted}`);
    if (plantedProfile.status === 200) assert.equal(plantedProfile.json()['email'], OWNER, 'the planted session now belongs to the victim');
  });

  test('two sign-ins of the same account get two different cookies and two working sessions', async () => {
    const a = new CookieJar();
    const b = new CookieJar();
    await apiSignIn(stack.url, a);
    await apiSignIn(stack.url, b);
    assert.notEqual(a.get('spg_session'), b.get('spg_session'));
    const [boundA, boundB] = [await boundUpstreamCookie(stack.url, a), await boundUpstreamCookie(stack.url, b)];
    assert.ok(boundA && boundB, 'each session has its own bound upstream session');
    assert.notEqual(boundA, boundB);
    assert.equal((await me(stack.url, a)).status, 200);
    assert.equal((await me(stack.url, b)).status, 200);
  });

  test('signing in again in a signed-in browser issues a new id', async () => {
    const jar = new CookieJar();
    await apiSignIn(stack.url, jar);
    const first = jar.get('spg_session');
    const again = jar.take(await postJson(`${stack.url}/_guard/api/login`, { email: MERCHANT, password: PASSWORD }, { cookie: jar.header() ?? '' }));
    assert.equal(again.status, 200);
    const issued = setCookieFor(again.setCookies, 'spg_session');
    assert.ok(issued);
    assert.notEqual(parseSetCookie(issued).value, first);
  });
});

describe('__Host- cookies', () => {
  test('over http, a planted __Host-spg_session (even a valid sealed value) is ignored', async () => {
    const jar = new CookieJar();
    await apiSignIn(stack.url, jar);
    const value = jar.get('spg_session') ?? '';
    const reply = await me(stack.url, `__Host-spg_session=${value}; sp_session=${(await boundUpstreamCookie(stack.url, jar)) ?? ''}`);
    assert.equal(reply.status, 401);
    assert.equal(reply.json()['error'], 'login_required');
    // And it is never forwarded.
    const echo = await send(`${stack.url}/debug/request`, { headers: { accept: 'application/json', cookie: `__Host-spg_session=${value}; spg_session=x; __Host-spg_csrf=y` } });
    assert.deepEqual(cookiePairs(echoedCookie(echo)).filter(([name]) => name.includes('spg_')), []);
  });

  test('with an https public_url the session cookie is __Host-spg_session, Secure, Path=/, no Domain, and only that name counts', async () => {
    await withStack({ config: { public_url: 'https://app.example.com' } }, async (https) => {
      const reply = await postJson(`${https.url}/_guard/api/login`, { email: MERCHANT, password: PASSWORD });
      assert.equal(reply.status, 200, reply.text);
      assert.equal(setCookieFor(reply.setCookies, 'spg_session'), undefined, 'the unprefixed cookie must not be set over https');
      const issued = setCookieFor(reply.setCookies, '__Host-spg_session');
      assert.ok(issued, JSON.stringify(reply.setCookies));
      const attrs = parseSetCookie(issued).attributes.map((a) => a.toLowerCase());
      assert.ok(attrs.includes('secure'), issued);
      assert.ok(attrs.includes('path=/'), issued);
      assert.ok(attrs.includes('httponly'), issued);
      assert.ok(!attrs.some((a) => a.startsWith('domain')), issued);
      const value = parseSetCookie(issued).value;

      assert.equal((await me(https.url, `__Host-spg_session=${value}`)).status, 200);
      // A sibling subdomain can set a plain spg_session, never a __Host- one: the plain name is ignored.
      assert.equal((await me(https.url, `spg_session=${value}`)).status, 401);

      const page = await send(`${https.url}/_guard/login`, { headers: { accept: 'text/html' } });
      const csrf = page.setCookies.find((c) => parseSetCookie(c).name.endsWith('spg_csrf'));
      assert.ok(csrf);
      assert.equal(parseSetCookie(csrf).name, '__Host-spg_csrf');
      assert.ok(parseSetCookie(csrf).attributes.map((a) => a.toLowerCase()).includes('secure'));
    });
  });
});

describe('the upstream session cookie needs a full sidecar session', () => {
  test('sent without a sidecar session, it never reaches the upstream (public route)', async () => {
    const sp = await upstreamSession(stack.upstreamUrl);
    for (const cookie of [`sp_session=${sp}`, `a=1; sp_session=${sp}; b=2`, `sp_session=${sp}; spg_session=not-a-session`]) {
      const echo = await send(`${stack.url}/debug/request`, { headers: { accept: 'application/json', cookie } });
      assert.equal(echo.status, 200);
      const cookieHeader = echoedCookie(echo) ?? '';
      assert.ok(!cookieHeader.includes(sp), `the upstream received ${JSON.stringify(cookieHeader)} for ${JSON.stringify(cookie)}`);
    }
  });

  // Cookie parsers that follow RFC 2109/2965 (Tomcat's legacy processor, Jetty in RFC2965 mode)
  // also split on ','; ASP.NET Core compares cookie names case-insensitively.
  for (const variant of ['a=1,sp_session=VALUE', 'a=1, sp_session=VALUE', 'SP_SESSION=VALUE', 'Sp_Session=VALUE']) {
    test(`sent without a sidecar session as ${JSON.stringify(variant)}, it never reaches the upstream`, async () => {
      const sp = await upstreamSession(stack.upstreamUrl);
      const cookie = variant.replace('VALUE', sp);
      const echo = await send(`${stack.url}/debug/request`, { headers: { accept: 'application/json', cookie } });
      assert.equal(echo.status, 200);
      const cookieHeader = echoedCookie(echo) ?? '';
      assert.ok(!cookieHeader.includes(sp), `the upstream received ${JSON.stringify(cookieHeader)} for ${JSON.stringify(cookie)}`);
    });
  }

  test('with an expired or revoked sidecar session, it does not reach the upstream either', async () => {
    const jar = new CookieJar();
    await apiSignIn(stack.url, jar, OWNER);
    const sp = (await boundUpstreamCookie(stack.url, jar)) ?? '';
    assert.ok(sp, 'the session had a bound upstream cookie (control)');
    await stack.guard.sessions.revokeUser(OWNER);
    // The browser may still hold a copy (from before the cookie stayed server-side, or stolen).
    const echo = await send(`${stack.url}/debug/request`, { headers: { accept: 'application/json', cookie: `${jar.header() ?? ''}; sp_session=${sp}` } });
    assert.equal(echo.status, 200);
    assert.ok(!(echoedCookie(echo) ?? '').includes(sp));
  });

  for (const forged of ['sp_session=attacker', ' sp_session =attacker', 'sp_session=attacker; sp_session=attacker2', 'x=1,sp_session=attacker', 'SP_SESSION=attacker']) {
    test(`with a full session, a client-sent ${JSON.stringify(forged)} is replaced by the bound value`, async () => {
      const jar = new CookieJar();
      await apiSignIn(stack.url, jar);
      const bound = (await boundUpstreamCookie(stack.url, jar)) ?? '';
      assert.ok(bound);
      const own = `spg_session=${jar.get('spg_session') ?? ''}`;
      const echo = await send(`${stack.url}/debug/request`, { headers: { accept: 'application/json', cookie: `${forged}; ${own}` } });
      assert.equal(echo.status, 200);
      const header = echoedCookie(echo) ?? '';
      assert.deepEqual(cookiePairs(header).filter(([name]) => name === 'sp_session'), [['sp_session', bound]], `forged ${JSON.stringify(forged)}`);
      assert.ok(!header.includes('attacker'), `the upstream received ${JSON.stringify(header)} for ${JSON.stringify(forged)}`);
    });
  }

  test('a websocket hand-shake without a sidecar session does not carry the upstream cookie either', async () => {
    await withRecordedStack({ policy: BINDING_POLICY }, async (rs) => {
      const sp = await upstreamSession(rs.demoUrl);
      await new Promise<void>((resolve) => {
        const ws = new WebSocket(`${rs.url.replace('http', 'ws')}/ws`, { headers: { cookie: `sp_session=${sp}` } });
        ws.on('error', () => resolve());
        ws.on('close', () => resolve());
        ws.on('open', () => {
          ws.close();
          resolve();
        });
      });
      const upgrades = rs.recorder.requests.filter((r) => r.upgrade);
      assert.equal(upgrades.length, 1, 'the public hand-shake should have been forwarded (control)');
      assert.ok(!String(upgrades[0]?.headers.cookie ?? '').includes(sp), `the upstream received ${String(upgrades[0]?.headers.cookie)}`);
    });
  });
});
