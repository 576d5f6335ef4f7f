import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryAudit } from '../../../src/audit/audit.ts';
import type { UpstreamAccount } from '../../../src/flows/upstream-account.ts';
import type { Contacts } from '../../../src/directory/index.ts';
import { createIdentityResolver } from '../../../src/http/identity.ts';
import type { Identity } from '../../../src/access/ports.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { cryptoRandom } from '../../../src/core/random.ts';
import { parseSessionKeys } from '../../../src/session/keys.ts';
import { SessionService } from '../../../src/session/sessions.ts';
import { MemoryStore } from '../../../src/store/memory.ts';
import { memoryLogger } from '../../helpers/stack.ts';

/**
 * Upstream session rotation (shared decision 2), decided by observeUpstreamResponse: a new value
 * of a bound cookie, set in answer to a request made with the bound session, is adopted; deletion
 * or a redirect to the app's login page ends the sidecar session; where the directory names the
 * session's account, another account ends it too. Cookies that are not bound are none of its business.
 */

const clock = new ManualClock();

async function setUp(options: { directorySays?: string | null } = {}) {
  const store = new MemoryStore(clock);
  const keys = parseSessionKeys('k'.repeat(40));
  const sessions = new SessionService(store, keys, clock, cryptoRandom, { idleTimeoutMs: 600_000, absoluteLifetimeMs: 3_600_000 });
  const { logger } = memoryLogger();
  const audit = new MemoryAudit(Date.now);
  const account = { isLoginLocation: (location: string) => location.startsWith('/admin/login/') } as unknown as UpstreamAccount;
  const auth = {
    identity: createIdentityResolver({
      sessions,
      account,
      logger,
      audit,
      clock,
      ...(options.directorySays !== undefined ? { contacts: { accountOfSession: async () => options.directorySays ?? null } as unknown as Contacts } : {}),
      options: { upstreamCookies: ['sessionid', 'PHPSESSID'] },
    }),
  };
  const { record, cookieValue } = await sessions.create({
    user: 'mia',
    factors: { password: clock.now() },
    upstreamCookies: { sessionid: 'old', PHPSESSID: 'php1' },
    twoFactor: null,
  });
  const who: Identity = { user: { authenticated: true, twoFactorEnabled: false }, session: record };
  /** The observation runs after the response; this waits for the store to show its effect. */
  const settled = async (): Promise<Record<string, string> | null> => {
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    return (await sessions.resolve(cookieValue))?.upstreamCookies ?? null;
  };
  return { auth, who, settled, audit };
}

test('a new value of the bound cookie is adopted; the other bound cookie is kept', async () => {
  const { auth, who, settled, audit } = await setUp();
  auth.identity.observeUpstreamResponse?.(who, { status: 302, location: '/admin/password_change/done/', setCookies: ['sessionid=new; HttpOnly; Path=/', 'csrftoken=abc; Path=/'] });
  assert.deepEqual(await settled(), { sessionid: 'new', PHPSESSID: 'php1' });
  assert.equal(audit.all().filter((e) => e.event === 'session_ended').length, 0);
});

test('an answer that leaves the bound cookies alone changes nothing', async () => {
  const { auth, who, settled } = await setUp();
  auth.identity.observeUpstreamResponse?.(who, { status: 200, location: undefined, setCookies: ['csrftoken=abc; Path=/', 'sessionid=old; Path=/'] });
  assert.deepEqual(await settled(), { sessionid: 'old', PHPSESSID: 'php1' });
});

test('a deleted bound cookie ends the sidecar session (audited)', async () => {
  const { auth, who, settled, audit } = await setUp();
  auth.identity.observeUpstreamResponse?.(who, { status: 200, location: undefined, setCookies: ['sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/'] });
  assert.equal(await settled(), null);
  assert.equal(audit.all().find((e) => e.event === 'session_ended')?.reason, 'upstream_session_ended');
});

test("a redirect to the app's login page in answer to the bound session ends it", async () => {
  const { auth, who, settled, audit } = await setUp();
  auth.identity.observeUpstreamResponse?.(who, { status: 302, location: '/admin/login/?next=/admin/', setCookies: [] });
  assert.equal(await settled(), null);
  assert.equal(audit.all().find((e) => e.event === 'session_ended')?.reason, 'upstream_login_page');
});

test('a redirect elsewhere is just a redirect', async () => {
  const { auth, who, settled } = await setUp();
  auth.identity.observeUpstreamResponse?.(who, { status: 302, location: '/admin/auth/user/', setCookies: [] });
  assert.deepEqual(await settled(), { sessionid: 'old', PHPSESSID: 'php1' });
});

test('a directory that names the session\'s account decides: the same account is adopted, another ends the session', async () => {
  const same = await setUp({ directorySays: 'mia' });
  same.auth.identity.observeUpstreamResponse?.(same.who, { status: 200, location: undefined, setCookies: ['sessionid=rotated; Path=/'] });
  assert.equal((await same.settled())?.['sessionid'], 'rotated');

  const other = await setUp({ directorySays: 'root' });
  other.auth.identity.observeUpstreamResponse?.(other.who, { status: 200, location: undefined, setCookies: ['sessionid=other; Path=/'] });
  assert.equal(await other.settled(), null);

  const unknown = await setUp({ directorySays: null });
  unknown.auth.identity.observeUpstreamResponse?.(unknown.who, { status: 200, location: undefined, setCookies: ['sessionid=r2; Path=/'] });
  assert.equal((await unknown.settled())?.['sessionid'], 'r2', 'a directory that cannot tell (SQL) does not end the session');
});
