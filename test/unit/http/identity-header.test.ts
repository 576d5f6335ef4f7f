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
 * form of a header: the same header must always give the same identity and the same upstream Cookie
 * header, whatever was read before it, whichever scheme the request came over, and however long the
 * header is.
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
  return { identity, mia, noah };
}

const request = (cookie: string | undefined): IncomingMessage => ({ headers: cookie === undefined ? {} : { cookie } }) as IncomingMessage;
const client = (proto: 'http' | 'https'): ClientFacts => ({ proto }) as ClientFacts;

test('the same Cookie header gives the same identity and upstream Cookie every time, and another header its own', async () => {
  const { identity, mia, noah } = await setUp();
  const miaHeader = `theme=dark; spg_session=${mia.cookieValue}; sessionid=planted`;
  const noahHeader = `spg_session=${noah.cookieValue}; theme=light`;
  for (let round = 0; round < 3; round++) {
    for (const [header, user, bound] of [
      [miaHeader, 'mia', 'sessionid=mia-app; theme=dark'],
      [noahHeader, 'noah', 'sessionid=noah-app; theme=light'],
    ] as const) {
      const who = identity.resolveKnown?.(request(header), client('http'));
      assert.equal(who?.session?.user, user, `round ${round}: ${user}'s header names ${user}`);
      assert.equal(identity.upstreamCookieHeader(header, who ?? { user: { authenticated: false }, session: null }), bound);
    }
  }
});

test('one header read over http and over https names the cookie of each scheme', async () => {
  const { identity, mia, noah } = await setUp();
  // A browser that has both (e.g. a deployment moved to https): each scheme reads only its own name.
  const header = `spg_session=${mia.cookieValue}; __Host-spg_session=${noah.cookieValue}`;
  assert.equal(identity.resolveKnown?.(request(header), client('http'))?.session?.user, 'mia');
  assert.equal(identity.resolveKnown?.(request(header), client('https'))?.session?.user, 'noah');
  assert.equal(identity.resolveKnown?.(request(header), client('http'))?.session?.user, 'mia');
});

test('a Cookie header too long to be remembered is still read, and the same way each time', async () => {
  const { identity, mia } = await setUp();
  const header = `filler=${'x'.repeat(20_000)}; spg_session=${mia.cookieValue}; sessionid=planted`;
  for (let i = 0; i < 2; i++) {
    const who = identity.resolveKnown?.(request(header), client('http'));
    assert.equal(who?.session?.user, 'mia');
    assert.equal(identity.upstreamCookieHeader(header, who ?? { user: { authenticated: false }, session: null }), `sessionid=mia-app; filler=${'x'.repeat(20_000)}`);
  }
});

test('a header without the session cookie is anonymous, before and after one with it', async () => {
  const { identity, mia } = await setUp();
  assert.equal(identity.resolveKnown?.(request('theme=dark'), client('http'))?.session, null);
  assert.equal(identity.resolveKnown?.(request(`theme=dark; spg_session=${mia.cookieValue}`), client('http'))?.session?.user, 'mia');
  assert.equal(identity.resolveKnown?.(request('theme=dark'), client('http'))?.session, null);
  assert.equal(identity.resolveKnown?.(request(undefined), client('http'))?.session, null);
});
