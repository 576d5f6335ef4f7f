import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.ts';
import { cryptoRandom } from '../../../src/core/random.ts';
import { MemoryStore } from '../../../src/store/memory.ts';
import { SessionService, type SessionOptions } from '../../../src/session/sessions.ts';
import { parseSessionKeys } from '../../../src/session/keys.ts';
import { isHandle } from '../../../src/session/session-index.ts';
import { describeUserAgent, networkOf, NetworkLabels } from '../../../src/session/session-origin.ts';
import { parseCidr } from '../../../src/config/cidr.ts';
import { ActiveSessions } from '../../../src/flows/active-sessions.ts';
import type { AuditInput } from '../../../src/audit/audit.ts';
import type { LogoutResult } from '../../../src/flows/upstream-account.ts';
import { createLogger } from '../../../src/observability/logger.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const OPTIONS: SessionOptions = { idleTimeoutMs: 30 * MINUTE, absoluteLifetimeMs: 8 * HOUR };
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.71 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0';

function setup() {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  const sessions = new SessionService(store, parseSessionKeys(JSON.stringify({ '1': 'a-session-password-0123456789abcdefghij' })), clock, cryptoRandom, OPTIONS);
  const signIn = (user: string, userAgent = CHROME, address = '203.0.113.7') =>
    sessions.create({ user, factors: { password: clock.now() }, upstreamCookies: { sp: `cookie-of-${user}-${clock.now()}` }, twoFactor: null, origin: { userAgent, address } });
  return { clock, store, sessions, signIn };
}

describe('session index (injected clock)', () => {
  test('a sign-in is listed with its origin; the list is most recently seen first', async () => {
    const { clock, sessions, signIn } = setup();
    const a = await signIn('alice@example.com', CHROME, '203.0.113.7');
    clock.advance(MINUTE);
    const b = await signIn('alice@example.com', FIREFOX, '2001:db8:85a3:1:2:3:4:5');
    await signIn('bob@example.com');
    const list = await sessions.index.list('alice@example.com');
    assert.deepEqual(list.map((r) => r.id), [b.record.id, a.record.id]);
    assert.deepEqual(list[1]?.origin, { userAgent: CHROME, address: '203.0.113.7', at: a.record.createdAt });
    clock.advance(MINUTE);
    assert.ok(await sessions.resolve(a.cookieValue), 'a is used now: its lastSeenAt moves (the 30 s touch)');
    assert.deepEqual((await sessions.index.list('alice@example.com')).map((r) => r.id), [a.record.id, b.record.id]);
  });

  test('the handle is random, separate from the record id, and found only in its own account', async () => {
    const { sessions, signIn } = setup();
    const a = await signIn('alice@example.com');
    const b = await signIn('bob@example.com');
    assert.ok(isHandle(a.record.handle));
    assert.notEqual(a.record.handle, a.record.id);
    assert.ok(!a.cookieValue.includes(a.record.handle ?? '-'));
    assert.equal((await sessions.index.find('alice@example.com', a.record.handle))?.id, a.record.id);
    assert.equal(await sessions.index.find('alice@example.com', b.record.handle), null, "bob's handle names nothing in alice's list");
    assert.equal(await sessions.index.find('alice@example.com', a.record.id), null, 'the record id is not a handle');
    assert.equal(await sessions.index.end('alice@example.com', b.record.handle), null);
    assert.ok(await sessions.resolve(b.cookieValue), "bob's session was not touched");
  });

  test('ending one session by handle ends only that one, on the next request', async () => {
    const { sessions, signIn } = setup();
    const a = await signIn('alice@example.com');
    const b = await signIn('alice@example.com');
    const ended = await sessions.index.end('alice@example.com', b.record.handle);
    assert.equal(ended?.id, b.record.id);
    assert.deepEqual(ended?.upstreamCookies, b.record.upstreamCookies, 'the ended record carries the app cookies to log out with');
    assert.equal(await sessions.resolve(b.cookieValue), null);
    assert.ok(await sessions.resolve(a.cookieValue));
    assert.deepEqual((await sessions.index.list('alice@example.com')).map((r) => r.id), [a.record.id]);
    assert.equal(await sessions.index.end('alice@example.com', b.record.handle), null, 'a second end finds nothing');
  });

  test('sessions that ended any other way drop out: sign-out, idle timeout, lifetime, revokeUser', async () => {
    const { clock, store, sessions, signIn } = setup();
    const out = await signIn('alice@example.com');
    await sessions.revoke(out.record.id);
    assert.deepEqual(await sessions.index.list('alice@example.com'), []);
    assert.deepEqual(await store.members('usess:alice@example.com'), {}, 'the ended entry was removed from the map');

    const idle = await signIn('alice@example.com');
    clock.advance(OPTIONS.idleTimeoutMs);
    assert.deepEqual(await sessions.index.list('alice@example.com'), [], 'idle past the timeout');
    assert.equal(await sessions.resolve(idle.cookieValue), null);

    const old = await signIn('alice@example.com');
    for (let t = 0; t < OPTIONS.absoluteLifetimeMs; t += 20 * MINUTE) {
      clock.advance(20 * MINUTE);
      await sessions.resolve(old.cookieValue);
    }
    assert.deepEqual(await sessions.index.list('alice@example.com'), [], 'past the absolute lifetime');

    const kept = await signIn('alice@example.com');
    await signIn('alice@example.com');
    await sessions.revokeUser('alice@example.com', kept.record);
    assert.deepEqual((await sessions.index.list('alice@example.com')).map((r) => r.id), [kept.record.id], 'revokeUser keeps only the carried-over session');
  });

  test('the map expires with the sessions: after the absolute lifetime it is gone from the store', async () => {
    const { clock, store, signIn } = setup();
    await signIn('alice@example.com');
    clock.advance(OPTIONS.absoluteLifetimeMs + 61_000);
    assert.equal(await store.ttl('usess:alice@example.com'), null);
  });

  test('resolving a session writes nothing to the index (the hot path stays one read and a touch per 30 s)', async () => {
    const { clock, store, sessions, signIn } = setup();
    const a = await signIn('alice@example.com');
    const before = await store.members('usess:alice@example.com');
    let writes = 0;
    const original = store.addMember.bind(store);
    store.addMember = async (...args) => {
      writes++;
      return original(...args);
    };
    for (let i = 0; i < 10; i++) {
      clock.advance(40_000);
      assert.ok(await sessions.resolve(a.cookieValue));
    }
    assert.equal(writes, 0);
    assert.deepEqual(await store.members('usess:alice@example.com'), before);
  });

  test('many sign-ins: ended entries are pruned at sign-in, so the map stays small', async () => {
    const { store, sessions, signIn } = setup();
    for (let i = 0; i < 40; i++) {
      const s = await signIn('alice@example.com');
      await sessions.revoke(s.record.id);
    }
    assert.ok(Object.keys(await store.members('usess:alice@example.com')).length <= 17);
  });
});

describe('ActiveSessions: views and revocation with the app logout', () => {
  function withFlow(logout: (cookies: Readonly<Record<string, string>>) => LogoutResult) {
    const base = setup();
    const events: AuditInput[] = [];
    const replayed: Array<Record<string, string>> = [];
    const flow = new ActiveSessions({
      sessions: base.sessions,
      account: {
        logout: async (cookies) => {
          replayed.push({ ...cookies });
          return logout(cookies);
        },
      },
      audit: { record: (e) => events.push(e) },
      logger: createLogger('silent'),
      networks: new NetworkLabels([{ cidr: '203.0.113.0/24', label: 'Head office' }]),
    });
    return { ...base, flow, events, replayed };
  }

  test('list: the current session first and marked; browser, OS, network and place', async () => {
    const { flow, signIn } = withFlow(() => ({ ok: true, how: 'cookie_deleted' }));
    const a = await signIn('alice@example.com', CHROME, '203.0.113.7');
    const b = await signIn('alice@example.com', FIREFOX, '198.51.100.20');
    const views = await flow.list('alice@example.com', a.record.id);
    assert.equal(views.length, 2);
    assert.deepEqual(views[0], {
      handle: a.record.handle,
      current: true,
      browser: 'Chrome 120',
      os: 'Windows',
      network: '203.0.113.0/24',
      place: 'Head office',
      signedInAt: a.record.createdAt,
      lastSeenAt: a.record.lastSeenAt,
    });
    assert.equal(views[1]?.handle, b.record.handle);
    assert.equal(views[1]?.current, false);
    assert.equal(views[1]?.browser, 'Firefox 121');
    assert.equal(views[1]?.os, 'Linux');
    assert.equal(views[1]?.place, null);
  });

  test('revoke replays the app logout with that session’s cookies and audits it', async () => {
    const { flow, signIn, sessions, events, replayed } = withFlow(() => ({ ok: true, how: 'cookie_deleted' }));
    await signIn('alice@example.com');
    const b = await signIn('alice@example.com', FIREFOX);
    const done = await flow.revoke('alice@example.com', b.record.handle, { requestId: 'r1', client: '192.0.2.1' });
    assert.deepEqual(done, { handle: b.record.handle, upstream: 'ended' });
    assert.deepEqual(replayed, [b.record.upstreamCookies]);
    assert.equal(await sessions.resolve(b.cookieValue), null);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.event, 'session_revoked');
    assert.equal(events[0]?.outcome, 'success');
    assert.equal(events[0]?.details?.['by'], 'user');
    assert.equal(events[0]?.actor, undefined);
    assert.ok(!JSON.stringify(events).includes(b.record.upstreamCookies['sp'] ?? '-'), 'no upstream cookie in the audit');
    assert.ok(!JSON.stringify(events).includes(b.record.id), 'no record id in the audit');
  });

  test('an app logout that is not confirmed is reported as such; the sidecar session is still ended', async () => {
    const { flow, signIn, sessions, events } = withFlow(() => ({ ok: false, detail: 'POST /logout: 500', status: 500, location: null }));
    const b = await signIn('alice@example.com');
    const done = await flow.revoke('alice@example.com', b.record.handle, { requestId: 'r1', actor: 'admin:support', reason: 'ticket 1' });
    assert.deepEqual(done, { handle: b.record.handle, upstream: 'not_confirmed' });
    assert.equal(await sessions.resolve(b.cookieValue), null);
    assert.equal(events[0]?.outcome, 'failure');
    assert.equal(events[0]?.actor, 'admin:support');
    assert.equal(events[0]?.details?.['by'], 'support');
    assert.match(events[0]?.reason ?? '', /upstream_logout_failed/);
  });

  test('a logout that throws is "not confirmed", never "ended"', async () => {
    const { flow, signIn } = withFlow(() => {
      throw new Error('socket hang up');
    });
    const b = await signIn('alice@example.com');
    assert.equal((await flow.revoke('alice@example.com', b.record.handle, { requestId: 'r' }))?.upstream, 'not_confirmed');
  });

  test('revokeOthers ends every other session and keeps the current one', async () => {
    const { flow, signIn, sessions, replayed } = withFlow(() => ({ ok: true, how: 'cookie_deleted' }));
    const a = await signIn('alice@example.com');
    const b = await signIn('alice@example.com');
    const c = await signIn('alice@example.com');
    const bob = await signIn('bob@example.com');
    const done = await flow.revokeOthers('alice@example.com', a.record, { requestId: 'r' });
    assert.deepEqual(new Set(done.map((d) => d.handle)), new Set([b.record.handle, c.record.handle]));
    assert.equal(replayed.length, 2);
    assert.ok(await sessions.resolve(a.cookieValue));
    assert.ok(await sessions.resolve(bob.cookieValue));
    assert.equal(await sessions.resolve(b.cookieValue), null);
    assert.equal(await sessions.resolve(c.cookieValue), null);
  });
});

describe('session origin: coarse browser, OS and network', () => {
  test('user agents', () => {
    assert.deepEqual(describeUserAgent(CHROME), { browser: 'Chrome 120', os: 'Windows' });
    assert.deepEqual(describeUserAgent(FIREFOX), { browser: 'Firefox 121', os: 'Linux' });
    assert.deepEqual(
      describeUserAgent('Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1'),
      { browser: 'Safari 17', os: 'iOS' },
    );
    assert.deepEqual(
      describeUserAgent('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.61'),
      { browser: 'Edge 120', os: 'macOS' },
    );
    assert.deepEqual(describeUserAgent('Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/119.0.0.0 Mobile Safari/537.36'), {
      browser: 'Chrome 119',
      os: 'Android',
    });
    assert.deepEqual(describeUserAgent(''), { browser: null, os: null });
    assert.deepEqual(describeUserAgent(undefined), { browser: null, os: null });
  });

  test('networks', () => {
    assert.equal(networkOf('203.0.113.7'), '203.0.113.0/24');
    assert.equal(networkOf('2001:db8:85a3:0:0:8a2e:370:7334'), '2001:db8:85a3::/48');
    assert.equal(networkOf('2001:db8::1'), '2001:db8:0::/48');
    assert.equal(networkOf('::1'), '0:0:0::/48');
    assert.equal(networkOf('::ffff:192.0.2.33'), '192.0.2.0/24');
    assert.equal(networkOf('not an address'), null);
  });

  test('labels: first matching CIDR, IPv4 and IPv6', () => {
    const labels = new NetworkLabels([
      { cidr: '10.1.0.0/16', label: 'VPN' },
      { cidr: '10.0.0.0/8', label: 'Internal' },
      { cidr: '2001:db8:1::/48', label: 'Lab' },
    ]);
    assert.equal(labels.label('10.1.2.3'), 'VPN');
    assert.equal(labels.label('10.9.2.3'), 'Internal');
    assert.equal(labels.label('2001:db8:1:ff::9'), 'Lab');
    assert.equal(labels.label('192.0.2.1'), null);
    assert.equal(labels.label('nope'), null);
    assert.equal(parseCidr('10.0.0.0/33'), null);
    assert.equal(parseCidr('10.0.0.0'), null);
    assert.equal(parseCidr('2001:db8::/129'), null);
    assert.deepEqual(parseCidr('2001:db8::/32'), { address: '2001:db8::', prefix: 32, family: 'ipv6' });
    assert.throws(() => new NetworkLabels([{ cidr: 'x/1', label: 'bad' }]), RangeError);
  });
});
