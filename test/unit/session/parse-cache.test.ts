import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.ts';
import { cryptoRandom } from '../../../src/core/random.ts';
import { MemoryStore } from '../../../src/store/memory.ts';
import { SessionService, boundCookiePairs, type SessionRecord } from '../../../src/session/sessions.ts';
import { parseSessionKeys } from '../../../src/session/keys.ts';

const MINUTE = 60_000;

function setup() {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  const sessions = new SessionService(store, parseSessionKeys(JSON.stringify({ '1': 'a-session-password-0123456789abcdefghij' })), clock, cryptoRandom, {
    idleTimeoutMs: 30 * MINUTE,
    absoluteLifetimeMs: 24 * 60 * MINUTE,
  });
  const signIn = (user = 'alice@example.com') =>
    sessions.create({ user, factors: { password: clock.now() }, upstreamCookies: { sp_session: 'one', other: 'x' }, twoFactor: null });
  return { clock, store, sessions, signIn };
}

describe('session records: parsed once per record string', () => {
  test('every resolve hands out its own top-level copy; a change to one is not seen by the next', async () => {
    const { sessions, signIn } = setup();
    const { cookieValue } = await signIn();
    const a = await sessions.resolve(cookieValue);
    const b = await sessions.resolve(cookieValue);
    assert.ok(a && b);
    assert.notEqual(a, b);
    a.lastSeenAt = 1;
    a.generation = 99;
    a.upstreamCookies = { sp_session: 'changed-locally' };
    const c = await sessions.resolve(cookieValue);
    assert.notEqual(c?.lastSeenAt, 1);
    assert.notEqual(c?.generation, 99);
    assert.deepEqual(c?.upstreamCookies, { sp_session: 'one', other: 'x' });
  });

  test('nested objects of a cached record are frozen: changing them in place throws instead of leaking', async () => {
    const { sessions, signIn } = setup();
    const { cookieValue } = await signIn();
    const a = (await sessions.resolve(cookieValue)) as SessionRecord;
    assert.throws(() => {
      (a.upstreamCookies as Record<string, string>)['sp_session'] = 'x';
    }, TypeError);
    assert.throws(() => {
      (a.factors as { password: number }).password = 0;
    }, TypeError);
  });

  test('a saved change, a record rewritten in the store, a revocation: each is seen on the next request', async () => {
    const { clock, store, sessions, signIn } = setup();
    const { record, cookieValue } = await signIn();
    const a = (await sessions.resolve(cookieValue)) as SessionRecord;
    a.upstreamCookies = { ...a.upstreamCookies, sp_session: 'two' };
    assert.equal(await sessions.save(a), true);
    assert.equal((await sessions.resolve(cookieValue))?.upstreamCookies['sp_session'], 'two');
    // Another replica (or process) rewrites the record: a different string is parsed afresh.
    const raw = (await store.get(`sess:${record.id}`)) as string;
    await store.set(`sess:${record.id}`, raw.replace('"two"', '"three"'), MINUTE);
    assert.equal((await sessions.resolve(cookieValue))?.upstreamCookies['sp_session'], 'three');
    // A revocation by generation ends it although the record string is unchanged.
    await sessions.revokeUser('alice@example.com');
    assert.equal(await sessions.resolve(cookieValue), null);
    const second = await signIn();
    assert.ok(await sessions.resolve(second.cookieValue));
    await sessions.revoke(second.record.id);
    assert.equal(await sessions.resolve(second.cookieValue), null);
    // Idle timeout still applies to a cached parse.
    const third = await signIn();
    assert.ok(await sessions.resolve(third.cookieValue));
    clock.advance(31 * MINUTE);
    assert.equal(await sessions.resolve(third.cookieValue), null);
  });
});

describe('boundCookiePairs', () => {
  const allowed = new Set(['sp_session', 'sp_csrf']);
  test('only the allowed names, in the record order; a frozen map is built once, a live one every time', () => {
    const frozen = Object.freeze({ other: 'x', sp_csrf: 'c', sp_session: 's' });
    assert.equal(boundCookiePairs(frozen, allowed), 'sp_csrf=c; sp_session=s');
    assert.equal(boundCookiePairs(frozen, allowed), 'sp_csrf=c; sp_session=s');
    assert.equal(boundCookiePairs(frozen, new Set(['other'])), 'other=x', 'another filter is not served from the cache');
    const live: Record<string, string> = { sp_session: 'a' };
    assert.equal(boundCookiePairs(live, allowed), 'sp_session=a');
    live['sp_session'] = 'b';
    assert.equal(boundCookiePairs(live, allowed), 'sp_session=b');
    assert.equal(boundCookiePairs({}, allowed), '');
  });
});
