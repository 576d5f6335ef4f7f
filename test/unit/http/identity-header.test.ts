import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { MemoryAudit } from '../../../src/audit/audit.ts';
import type { UpstreamAccount } from '../../../src/flows/upstream-account.ts';
import { createIdentityResolver } from '../../../src/http/identity.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { cryptoRandom } from '../../../src/core/random.ts';
import type { ClientFacts } from '../../../src/proxy/client-address.ts';
import { parseSessionKeys } from '../../../src/session/keys.ts';
import { SessionService } from '../../../src/session/sessions.ts';
import { MemoryStore } from '../../../src/store/memory.ts';
import { memoryLogger } from '../../helpers/stack.ts';

/**
 * What the identity reads from a Cookie header (src/http/identity.ts), which remembers the filtered
 * form of a header and, per connection, the last header read there: the same header must always
 * give the same identity and the same upstream Cookie header, whatever was read before it (on the
 * same connection or not: a proxy in front mixes clients on one), whichever scheme the request came
 * over, and however long the header is.
 */

const clock = new ManualClock();

async function setUp() {
  const store = new MemoryStore(clock);
  const sessions = new SessionService(store, parseSessionKeys('k'.repeat(40)), clock, cryptoRandom, { idleTimeoutMs: 600_000, absoluteLifetimeMs: 3_600_000 });
  const identity = createIdentityResolver({
    sessions,
    account: { isLoginLocation: () => false } as unknown as UpstreamAccount,
    logger: memoryLogger().logger,
    audit: new MemoryAudit(Date.now),
    clock,
    options: { upstreamCookies: ['sessionid'] },
  });
  const mia = await sessions.create({ user: 'mia', factors: { password: clock.now() }, upstreamCookies: { sessionid: 'mia-app' }, twoFactor: null });
  const noah = await sessions.create({ user: 'noah', factors: { password: clock.now() }, upstreamCookies: { sessionid: 'noah-app' }, twoFactor: null });
  return { identity, sessions, mia, noah };
}

/** Every test runs with requests built without a connection, and with all of them on one connection. */
const VIA = ['no connection', 'one connection'] as const;
let connection: object | undefined;
const request = (cookie: string | undefined): IncomingMessage => ({ headers: cookie === undefined ? {} : { cookie }, socket: connection }) as IncomingMessage;
/** A fresh copy of a header, as each request's parser makes it (not the same string object). */
const copy = (header: string): string => Buffer.from(header, 'latin1').toString('latin1');
const client = (proto: 'http' | 'https'): ClientFacts => ({ proto }) as ClientFacts;

for (const via of VIA) test(`the same Cookie header gives the same identity and upstream Cookie every time, and another header its own (${via})`, async () => {
  connection = via === 'one connection' ? {} : undefined;
  const { identity, mia, noah } = await setUp();
  const miaHeader = `theme=dark; spg_session=${mia.cookieValue}; sessionid=planted`;
  const noahHeader = `spg_session=${noah.cookieValue}; theme=light`;
  for (let round = 0; round < 3; round++) {
    for (const [header, user, bound] of [
      [miaHeader, 'mia', 'sessionid=mia-app; theme=dark'],
      [noahHeader, 'noah', 'sessionid=noah-app; theme=light'],
    ] as const) {
      const sent = copy(header);
      const who = identity.resolveKnown?.(request(sent), client('http'));
      assert.equal(who?.session?.user, user, `round ${round}: ${user}'s header names ${user}`);
      assert.equal(identity.upstreamCookieHeader(sent, who ?? { user: { authenticated: false }, session: null }, connection), bound);
    }
  }
});

for (const via of VIA) test(`one header read over http and over https names the cookie of each scheme (${via})`, async () => {
  connection = via === 'one connection' ? {} : undefined;
  const { identity, mia, noah } = await setUp();
  // A browser that has both (e.g. a deployment moved to https): each scheme reads only its own name.
  const header = `spg_session=${mia.cookieValue}; __Host-spg_session=${noah.cookieValue}`;
  assert.equal(identity.resolveKnown?.(request(header), client('http'))?.session?.user, 'mia');
  assert.equal(identity.resolveKnown?.(request(header), client('https'))?.session?.user, 'noah');
  assert.equal(identity.resolveKnown?.(request(header), client('http'))?.session?.user, 'mia');
});

for (const via of VIA) test(`a Cookie header too long to be remembered is still read, and the same way each time (${via})`, async () => {
  connection = via === 'one connection' ? {} : undefined;
  const { identity, mia } = await setUp();
  const header = `filler=${'x'.repeat(20_000)}; spg_session=${mia.cookieValue}; sessionid=planted`;
  for (let i = 0; i < 2; i++) {
    const who = identity.resolveKnown?.(request(header), client('http'));
    assert.equal(who?.session?.user, 'mia');
    assert.equal(identity.upstreamCookieHeader(header, who ?? { user: { authenticated: false }, session: null }, connection), `sessionid=mia-app; filler=${'x'.repeat(20_000)}`);
  }
});

for (const via of VIA) test(`a header without the session cookie is anonymous, before and after one with it (${via})`, async () => {
  connection = via === 'one connection' ? {} : undefined;
  const { identity, mia } = await setUp();
  assert.equal(identity.resolveKnown?.(request('theme=dark'), client('http'))?.session, null);
  assert.equal(identity.resolveKnown?.(request(`theme=dark; spg_session=${mia.cookieValue}`), client('http'))?.session?.user, 'mia');
  assert.equal(identity.resolveKnown?.(request('theme=dark'), client('http'))?.session, null);
  assert.equal(identity.resolveKnown?.(request(undefined), client('http'))?.session, null);
});

for (const via of VIA) test(`a header read before still names a session only while it lives (${via})`, async () => {
  connection = via === 'one connection' ? {} : undefined;
  const { identity, sessions, mia } = await setUp();
  const header = `spg_session=${mia.cookieValue}`;
  assert.equal(identity.resolveKnown?.(request(copy(header)), client('http'))?.session?.user, 'mia');
  await sessions.revoke(mia.record.id);
  assert.equal(identity.resolveKnown?.(request(copy(header)), client('http'))?.session, null, 'a revoked session is not named again');
});

test('the header remembered on a connection is not used for another header on it', async () => {
  connection = {};
  const { identity, mia, noah } = await setUp();
  // Each carries a planted upstream session cookie, so even an anonymous request's header is filtered.
  const miaHeader = `spg_session=${mia.cookieValue}; sessionid=planted; theme=dark`;
  const noahHeader = `spg_session=${noah.cookieValue}; sessionid=planted; theme=light`;
  const who = identity.resolveKnown?.(request(miaHeader), client('http'));
  assert.equal(who?.session?.user, 'mia');
  // Asked for another header than the one last read on the connection: filtered from what is asked.
  assert.equal(identity.upstreamCookieHeader(noahHeader, { user: { authenticated: false }, session: null }, connection), 'theme=light');
  assert.equal(identity.upstreamCookieHeader(miaHeader, who ?? { user: { authenticated: false }, session: null }, connection), 'sessionid=mia-app; theme=dark');
  // Same length, one character apart: still another header.
  const forged = miaHeader.replace(/.$/, 'x');
  assert.equal(forged.length, miaHeader.length);
  assert.equal(identity.upstreamCookieHeader(forged, { user: { authenticated: false }, session: null }, connection), 'theme=darx');
  assert.equal(identity.resolveKnown?.(request(noahHeader), client('http'))?.session?.user, 'noah');
});
