import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.ts';
import { type Random } from '../../../src/core/random.ts';
import { MemoryStore } from '../../../src/store/memory.ts';
import type { EphemeralStore } from '../../../src/store/ephemeral.ts';
import { SessionService, type SessionOptions } from '../../../src/session/sessions.ts';
import { parseSessionKeys, SessionKeyError, type SessionKeys } from '../../../src/session/keys.ts';
import type { StoreEvents } from '../../../src/store/events.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const OLD = 'old-password-0123456789abcdefghijklmnop';
const NEW = 'new-password-0123456789abcdefghijklmnop';
const OTHER = 'another-deployment-password-0123456789';

/** Deterministic randomness: each call yields distinct bytes (a big-endian counter up front). */
class CounterRandom implements Random {
  private counter = 0;
  bytes(length: number): Buffer {
    this.counter++;
    const out = Buffer.alloc(length, 0xa5);
    if (length >= 4) out.writeUInt32BE(this.counter, 0);
    else out[0] = this.counter & 0xff;
    return out;
  }
}

const keysOf = (passwords: Record<string, string>): SessionKeys => parseSessionKeys(JSON.stringify(passwords));

const DEFAULTS: SessionOptions = { idleTimeoutMs: 15 * MINUTE, absoluteLifetimeMs: 8 * HOUR };

function setup(options: Partial<SessionOptions> = {}, passwords: Record<string, string> = { '1': OLD }) {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  const random = new CounterRandom();
  const opts: SessionOptions = { ...DEFAULTS, ...options };
  const service = (keys: Record<string, string> = passwords, s: EphemeralStore = store) =>
    new SessionService(s, keysOf(keys), clock, random, opts);
  return { clock, store, random, opts, sessions: service(), service };
}

function login(sessions: SessionService, clock: ManualClock, user = 'alice@example.com') {
  return sessions.create({
    user,
    factors: { password: clock.now(), secondFactor: clock.now() },
    upstreamCookies: { sp_session: `upstream-${user}` },
    twoFactor: 'totp',
  });
}

/** The key id iron-session wrote into a seal: `Fe26.2*<id>*salt*iv*...~2`. */
const sealKeyId = (cookie: string): string | undefined => cookie.split('*')[1];

describe('SessionService: create and resolve', () => {
  test('a created session resolves to its record', async () => {
    const { clock, sessions } = setup();
    const { record, cookieValue } = await sessions.create({
      user: 'alice@example.com',
      factors: { password: clock.now() },
      upstreamCookies: { sp_session: 'abc' },
      twoFactor: null,
      deviceId: 'dev-1',
    });
    assert.ok(cookieValue.startsWith('Fe26.2*'), 'an iron seal');
    assert.ok(!cookieValue.includes(record.id), 'the session id is sealed, not readable in the cookie');
    const resolved = await sessions.resolve(cookieValue);
    assert.deepEqual(resolved, record);
    assert.equal(resolved?.user, 'alice@example.com');
    assert.deepEqual(resolved?.upstreamCookies, { sp_session: 'abc' });
    assert.equal(resolved?.deviceId, 'dev-1');
    assert.equal(resolved?.generation, 0);
  });

  test('a fresh service instance (cold verified-cookie cache) resolves the cookie by unsealing it', async () => {
    const { clock, sessions, service } = setup();
    const { record, cookieValue } = await login(sessions, clock);
    assert.deepEqual(await service().resolve(cookieValue), record);
  });

  test('each create gives a new, 256-bit session id and a new cookie (T6)', async () => {
    const { clock, sessions } = setup();
    const created = await Promise.all(Array.from({ length: 5 }, () => login(sessions, clock)));
    const ids = new Set(created.map((c) => c.record.id));
    const cookies = new Set(created.map((c) => c.cookieValue));
    assert.equal(ids.size, 5);
    assert.equal(cookies.size, 5);
    for (const { record } of created) assert.equal(Buffer.from(record.id, 'base64url').length, 32);
    // Each cookie names its own session.
    for (const { record, cookieValue } of created) assert.equal((await sessions.resolve(cookieValue))?.id, record.id);
  });

  test('missing, empty, garbage and oversized cookies resolve to null', async () => {
    const { sessions } = setup();
    for (const value of [undefined, '', 'abc', 'Fe26.2*', 'Fe26.2*1*a*b*c*d*e*f~2', `Fe26.2*${'A'.repeat(5000)}`]) {
      assert.equal(await sessions.resolve(value), null, `cookie ${JSON.stringify(value?.slice(0, 30))}`);
    }
  });

  test('a tampered cookie resolves to null', async () => {
    const { clock, sessions, service } = setup();
    const { cookieValue } = await login(sessions, clock);
    const parts = cookieValue.split('*');
    const variants: string[] = [];
    for (const index of [2, 3, 4, 7]) {
      const part = parts[index] as string;
      const flipped = (part[0] === 'A' ? 'B' : 'A') + part.slice(1);
      variants.push([...parts.slice(0, index), flipped, ...parts.slice(index + 1)].join('*'));
    }
    variants.push(cookieValue.slice(0, -10));
    variants.push(cookieValue.replace('Fe26.2*1*', 'Fe26.2*2*'));
    for (const variant of variants) {
      assert.notEqual(variant, cookieValue);
      assert.equal(await sessions.resolve(variant), null, `tampered: ${variant.slice(0, 40)}…`);
      assert.equal(await service().resolve(variant), null);
    }
    assert.ok(await sessions.resolve(cookieValue), 'the genuine cookie still works');
  });

  test('a cookie sealed with another key resolves to null even though its record exists', async () => {
    const { clock, sessions, service } = setup();
    const foreign = service({ '1': OTHER }); // same store, different key
    const { record, cookieValue } = await login(foreign, clock);
    assert.equal((await foreign.resolve(cookieValue))?.id, record.id, 'control: the record is there');
    assert.equal(await sessions.resolve(cookieValue), null);
  });
});

describe('SessionService: key rotation', () => {
  test('old cookies survive adding a key, new ones use it, and dropping the old key ends them', async () => {
    const { clock, service } = setup();
    const before = service({ '1': OLD });
    const old = await login(before, clock, 'alice@example.com');
    assert.equal(sealKeyId(old.cookieValue), '1');

    const during = service({ '1': OLD, '2': NEW });
    assert.equal((await during.resolve(old.cookieValue))?.id, old.record.id, 'a cookie sealed with key 1 still resolves');
    const fresh = await login(during, clock, 'bob@example.com');
    assert.equal(sealKeyId(fresh.cookieValue), '2', 'new cookies are sealed with the newest key');
    assert.equal(await service({ '1': OLD }).resolve(fresh.cookieValue), null, 'key 1 alone cannot open a key-2 seal');

    const after = service({ '2': NEW });
    assert.equal(await after.resolve(old.cookieValue), null, 'the dropped key no longer opens old cookies');
    assert.equal((await after.resolve(fresh.cookieValue))?.id, fresh.record.id);
  });

  test('the newest key is chosen numerically (10 after 9)', async () => {
    const { clock, service } = setup();
    const { cookieValue } = await login(service({ '9': OLD, '10': NEW }), clock);
    assert.equal(sealKeyId(cookieValue), '10');
  });
});

describe('SessionService: idle timeout and absolute lifetime', () => {
  test('used just before the idle timeout it stays alive and lastSeenAt moves; a full idle period ends it', async () => {
    const { clock, sessions, service, opts } = setup();
    const { record, cookieValue } = await login(sessions, clock);
    clock.advance(opts.idleTimeoutMs - 1);
    const touched = await sessions.resolve(cookieValue);
    assert.ok(touched, 'alive 1 ms before the idle timeout');
    assert.equal(touched.lastSeenAt, clock.now(), 'lastSeenAt refreshed');
    assert.equal(touched.createdAt, record.createdAt);

    // The touch was written to the store: a cold instance sees it and the idle timer restarted.
    clock.advance(opts.idleTimeoutMs - 1);
    const again = await service().resolve(cookieValue);
    assert.ok(again, 'alive again because the previous use was recorded');

    clock.advance(opts.idleTimeoutMs);
    assert.equal(await sessions.resolve(cookieValue), null, 'a full idle period without use ends it');
    clock.advance(1);
    assert.equal(await sessions.resolve(cookieValue), null, 'and it stays ended');
  });

  test('touch granularity: a use within 30 s of the last recorded one is not written, a later one is', async () => {
    // The code writes lastSeenAt only every min(30 s, idle/10), so a read is not always a write.
    const { clock, sessions, opts } = setup();
    const { record, cookieValue } = await login(sessions, clock);
    clock.advance(20_000);
    assert.equal((await sessions.resolve(cookieValue))?.lastSeenAt, record.createdAt, 'not written at 20 s');
    clock.advance(15_000);
    assert.equal((await sessions.resolve(cookieValue))?.lastSeenAt, clock.now(), 'written at 35 s');
    const recorded = clock.now();
    clock.advance(opts.idleTimeoutMs - 1);
    assert.ok(await sessions.resolve(cookieValue));
    // Never alive more than one idle period after the last recorded use.
    clock.set(recorded + (opts.idleTimeoutMs - 1) + opts.idleTimeoutMs);
    assert.equal(await sessions.resolve(cookieValue), null);
  });

  test('a session used every few minutes still ends at its absolute lifetime', async () => {
    const { clock, sessions } = setup({ idleTimeoutMs: 15 * MINUTE, absoluteLifetimeMs: HOUR });
    const { record, cookieValue } = await login(sessions, clock);
    while (clock.now() + 5 * MINUTE < record.createdAt + HOUR) {
      clock.advance(5 * MINUTE);
      assert.ok(await sessions.resolve(cookieValue), `alive at ${(clock.now() - record.createdAt) / MINUTE} min`);
    }
    clock.set(record.createdAt + HOUR - 1);
    assert.ok(await sessions.resolve(cookieValue), 'alive 1 ms before the lifetime ends');
    clock.set(record.createdAt + HOUR);
    assert.equal(await sessions.resolve(cookieValue), null, 'ended at the absolute lifetime despite constant use');
    clock.advance(MINUTE);
    assert.equal(await sessions.resolve(cookieValue), null);
  });
});

describe('SessionService: revocation', () => {
  test('revoke(sid) ends the session on the very next resolve, although its cookie is still cached as verified', async () => {
    const { clock, sessions } = setup();
    const { record, cookieValue } = await login(sessions, clock);
    assert.ok(await sessions.resolve(cookieValue));
    await sessions.revoke(record.id);
    // The verified-cookie cache still vouches for the seal; the record must decide.
    const cache = (sessions as unknown as { verified: { has(key: string): boolean } }).verified;
    assert.equal(cache.has(cookieValue), true, 'precondition: the cookie is in the verified cache');
    assert.equal(await sessions.resolve(cookieValue), null);
  });

  test('a revoke that lands while a resolve is refreshing lastSeenAt is not undone by that refresh', async () => {
    // Logout on one request while another request of the same browser is in flight (or on another
    // replica): the in-flight resolve read the record before the revoke and writes it back after.
    const clock = new ManualClock();
    const inner = new MemoryStore(clock);
    let afterRead: (() => Promise<void>) | null = null;
    // The store, with a hook that runs right after a read (where another request can interleave).
    const store: EphemeralStore = {
      get: (k) => inner.get(k),
      getMany: async (keys) => {
        const values = await inner.getMany(keys);
        const hook = afterRead;
        afterRead = null;
        if (hook) await hook();
        return values;
      },
      set: (k, v, ttl) => inner.set(k, v, ttl),
      setIfAbsent: (k, v, ttl) => inner.setIfAbsent(k, v, ttl),
      setIfPresent: (k, v, ttl) => inner.setIfPresent(k, v, ttl),
      getOrSet: (k, v, ttl) => inner.getOrSet(k, v, ttl),
      decrementIfPresent: (k) => inner.decrementIfPresent(k),
      delete: (k) => inner.delete(k),
      compareAndDelete: (k, v) => inner.compareAndDelete(k, v),
      increment: (k, by, ttl, expiry) => inner.increment(k, by, ttl, expiry),
      takeSlot: (k, max, window) => inner.takeSlot(k, max, window),
      addMember: (k, m, v, ttl) => inner.addMember(k, m, v, ttl),
      members: (k) => inner.members(k),
      removeMember: (k, m) => inner.removeMember(k, m),
      ttl: (k) => inner.ttl(k),
      ping: () => inner.ping(),
      close: () => inner.close(),
    };
    const sessions = new SessionService(store, keysOf({ '1': OLD }), clock, new CounterRandom(), DEFAULTS);
    const { record, cookieValue } = await login(sessions, clock);
    clock.advance(5 * MINUTE); // the next resolve will write lastSeenAt
    afterRead = () => sessions.revoke(record.id);
    await sessions.resolve(cookieValue); // this request was already in flight when the logout happened
    assert.equal(await sessions.resolve(cookieValue), null, 'the logged-out session came back to life');
  });

  test('revokeUser ends every session of that user and no one else’s', async () => {
    const { clock, sessions, service } = setup();
    const a1 = await login(sessions, clock, 'alice@example.com');
    const a2 = await login(service(), clock, 'alice@example.com');
    const b = await login(sessions, clock, 'bob@example.com');
    await sessions.revokeUser('alice@example.com');
    assert.equal(await sessions.resolve(a1.cookieValue), null);
    assert.equal(await sessions.resolve(a2.cookieValue), null);
    assert.equal(await service().resolve(a1.cookieValue), null, 'on every instance');
    assert.equal((await sessions.resolve(b.cookieValue))?.id, b.record.id);
  });

  test('revokeUser(user, keep) keeps the session that made the change', async () => {
    const { clock, sessions } = setup();
    const keep = await login(sessions, clock);
    const other = await login(sessions, clock);
    const current = await sessions.resolve(keep.cookieValue);
    assert.ok(current);
    await sessions.revokeUser('alice@example.com', current);
    assert.equal((await sessions.resolve(keep.cookieValue))?.id, keep.record.id, 'kept');
    assert.equal(await sessions.resolve(other.cookieValue), null, 'the other one ended');
    // A later revokeUser without keep ends the kept one too.
    await sessions.revokeUser('alice@example.com');
    assert.equal(await sessions.resolve(keep.cookieValue), null);
  });

  test('a session created after revokeUser is alive', async () => {
    const { clock, sessions } = setup();
    await login(sessions, clock);
    await sessions.revokeUser('alice@example.com');
    await sessions.revokeUser('alice@example.com');
    clock.advance(1);
    const fresh = await login(sessions, clock);
    assert.equal((await sessions.resolve(fresh.cookieValue))?.id, fresh.record.id);
    clock.advance(5 * MINUTE);
    assert.ok(await sessions.resolve(fresh.cookieValue), 'and stays alive');
  });

  test('revokeUser ends a session created after an earlier revokeUser, however long ago that was', async () => {
    const { clock, sessions, opts } = setup({ idleTimeoutMs: 30 * MINUTE, absoluteLifetimeMs: 12 * HOUR });
    await sessions.revokeUser('alice@example.com'); // e.g. a password change long ago
    clock.advance(2 * HOUR);
    const later = await login(sessions, clock); // a login after that change
    const revokeAt = later.record.createdAt + opts.absoluteLifetimeMs - HOUR; // still within its lifetime
    while (clock.now() + 20 * MINUTE <= revokeAt) {
      clock.advance(20 * MINUTE); // in constant use
      assert.ok(await sessions.resolve(later.cookieValue));
    }
    clock.set(revokeAt);
    assert.ok(await sessions.resolve(later.cookieValue), 'precondition: still alive');
    await sessions.revokeUser('alice@example.com'); // e.g. an admin ends all of alice's sessions
    assert.equal(await sessions.resolve(later.cookieValue), null, 'revokeUser did not end the session');
  });
});

describe('parseSessionKeys', () => {
  function throwsKeyError(text: string, message: RegExp, secret?: string): void {
    assert.throws(
      () => parseSessionKeys(text),
      (error: unknown) => {
        assert.ok(error instanceof SessionKeyError, 'a SessionKeyError');
        assert.match(error.message, message);
        if (secret) assert.ok(!error.message.includes(secret), 'the message does not echo the secret');
        return true;
      },
    );
  }

  test('a plain password of 32+ characters is key 1 (surrounding whitespace trimmed)', () => {
    const keys = parseSessionKeys(`  ${OLD}\n`);
    assert.deepEqual(keys.passwords, { '1': OLD });
    assert.equal(keys.csrfKey.length, 32);
  });

  test('a JSON object of id → password; the CSRF key derives from the numerically newest one', () => {
    const keys = parseSessionKeys(JSON.stringify({ '9': OLD, '10': NEW }));
    assert.deepEqual(keys.passwords, { '9': OLD, '10': NEW });
    assert.deepEqual(keys.csrfKey, parseSessionKeys(NEW).csrfKey);
    assert.notDeepEqual(keys.csrfKey, parseSessionKeys(OLD).csrfKey);
  });

  test('a short password is refused', () => {
    throwsKeyError('short-password', /password 1 is shorter than 32 characters/, 'short-password');
    throwsKeyError(JSON.stringify({ '1': OLD, '2': 'x'.repeat(31) }), /password 2 is shorter than 32 characters/, 'x'.repeat(31));
    throwsKeyError('   ', /password 1 is shorter than 32/);
  });

  test('bad JSON is refused with a hint of the expected shape', () => {
    const text = `{"1": "${OLD}"`;
    throwsKeyError(text, /not valid JSON/, OLD);
    throwsKeyError(text, /expected \{"1": /);
  });

  test('a bad id is refused', () => {
    throwsKeyError(JSON.stringify({ a: OLD }), /id "a" must be a positive integer/);
    throwsKeyError(JSON.stringify({ '0': OLD }), /id "0" must be a positive integer/);
    throwsKeyError(JSON.stringify({ '-1': OLD }), /id "-1" must be a positive integer/);
    throwsKeyError(JSON.stringify({ '01': OLD }), /id "01" must be a positive integer/);
  });

  test('a non-string password is refused', () => {
    throwsKeyError('{"1": 12345678901234567890123456789012345}', /password 1 must be a string/);
    throwsKeyError(JSON.stringify({ '1': [OLD] }), /password 1 must be a string/, OLD);
    throwsKeyError(JSON.stringify({ '1': null }), /password 1 must be a string/);
  });

  test('an empty key object is refused', () => {
    throwsKeyError('{}', /at least one password/);
    throwsKeyError(' { } \n', /at least one password/);
  });
});

/** An in-process event bus standing in for Redis pub/sub between replicas; it can lose messages. */
class Bus implements StoreEvents {
  private readonly subscribers: Array<{ listener: (m: string) => void; onLive: (live: boolean) => void }> = [];
  delivering = true;
  published: string[] = [];
  async publish(_channel: string, message: string): Promise<void> {
    this.published.push(message);
    if (this.delivering) for (const s of this.subscribers) s.listener(message);
  }
  subscribe(_channel: string, listener: (m: string) => void, onLive: (live: boolean) => void): void {
    this.subscribers.push({ listener, onLive });
    onLive(true);
  }
  setLive(live: boolean): void {
    for (const s of this.subscribers) s.onLive(live);
  }
  async close(): Promise<void> {}
}

/** Counts the store reads session resolution makes. */
function countingStore(store: EphemeralStore): { store: EphemeralStore; reads: () => number } {
  let reads = 0;
  const wrapped = Object.create(store) as EphemeralStore;
  wrapped.getMany = (keys) => {
    reads++;
    return store.getMany(keys);
  };
  return { store: wrapped, reads: () => reads };
}

describe('SessionService: replicas cache session records for at most a second', () => {
  function replicas() {
    const clock = new ManualClock();
    const shared = new MemoryStore(clock);
    const random = new CounterRandom();
    const bus = new Bus();
    const make = () => {
      const counted = countingStore(shared);
      const service = new SessionService(counted.store, keysOf({ '1': OLD }), clock, random, { ...DEFAULTS, events: bus });
      return { service, reads: counted.reads };
    };
    return { clock, bus, a: make(), b: make() };
  }

  test('a fresh record is served from the cache; after a second it is read again', async () => {
    const { clock, a, b } = replicas();
    const { cookieValue } = await login(a.service, clock);
    assert.ok(await b.service.resolve(cookieValue));
    assert.ok(await b.service.resolve(cookieValue));
    assert.equal(b.reads(), 1, 'the second resolve within the second must not read the store');
    clock.advance(1000);
    assert.ok(await b.service.resolve(cookieValue));
    assert.equal(b.reads(), 2, 'a copy one second old is read again');
  });

  test('logout on A reaches B at once through the event', async () => {
    const { clock, a, b } = replicas();
    const { record, cookieValue } = await login(a.service, clock);
    assert.ok(await b.service.resolve(cookieValue));
    await a.service.revoke(record.id);
    assert.equal(await b.service.resolve(cookieValue), null);
  });

  test('revoking a user on A reaches B at once through the event', async () => {
    const { clock, a, b } = replicas();
    const { cookieValue } = await login(a.service, clock);
    assert.ok(await b.service.resolve(cookieValue));
    await a.service.revokeUser('alice@example.com');
    assert.equal(await b.service.resolve(cookieValue), null);
  });

  test('a lost event is covered by the time bound: B stops accepting within a second', async () => {
    const { clock, bus, a, b } = replicas();
    const { record, cookieValue } = await login(a.service, clock);
    assert.ok(await b.service.resolve(cookieValue));
    bus.delivering = false;
    await a.service.revoke(record.id);
    assert.ok(await b.service.resolve(cookieValue), 'within the bound B may still use its copy');
    clock.advance(999);
    assert.ok(await b.service.resolve(cookieValue));
    clock.advance(1);
    assert.equal(await b.service.resolve(cookieValue), null, 'one second after its read, B must read again');
  });

  test('while the subscription is down nothing is cached, and the cache starts empty when it is back', async () => {
    const { clock, bus, a, b } = replicas();
    const { record, cookieValue } = await login(a.service, clock);
    assert.ok(await b.service.resolve(cookieValue));
    bus.setLive(false);
    bus.delivering = false;
    assert.ok(await b.service.resolve(cookieValue));
    assert.equal(b.reads(), 2, 'no cache while the subscription is down');
    await a.service.revoke(record.id);
    assert.equal(await b.service.resolve(cookieValue), null);
    bus.setLive(true);
    assert.equal(await b.service.resolve(cookieValue), null);
  });

  test('without an event channel every resolve reads the store', async () => {
    const clock = new ManualClock();
    const counted = countingStore(new MemoryStore(clock));
    const service = new SessionService(counted.store, keysOf({ '1': OLD }), clock, new CounterRandom(), DEFAULTS);
    const { cookieValue } = await login(service, clock);
    await service.resolve(cookieValue);
    await service.resolve(cookieValue);
    assert.equal(counted.reads(), 2);
  });
});

describe('SessionService: resolveKnown (the hot path without waiting)', () => {
  test('answers what resolve answers, or undefined where resolve has something to do', async () => {
    const { clock, sessions, service } = setup();
    const { record, cookieValue } = await login(sessions, clock);
    const known = sessions.resolveKnown(cookieValue);
    assert.deepEqual(known, await sessions.resolve(cookieValue), 'a fresh session: the same record');
    assert.equal(known?.id, record.id);

    assert.equal(service().resolveKnown(cookieValue), undefined, 'a cookie this instance never verified: only resolve can unseal it');
    assert.equal(sessions.resolveKnown('Fe26.2*1*not-a-seal'), undefined);

    clock.advance(5 * MINUTE);
    assert.equal(sessions.resolveKnown(cookieValue), undefined, 'lastSeenAt is due to be written: resolve does it');
    const touched = await sessions.resolve(cookieValue);
    assert.equal(touched?.lastSeenAt, clock.now());
    assert.equal(sessions.resolveKnown(cookieValue)?.lastSeenAt, clock.now(), 'touched: known again');

    clock.advance(16 * MINUTE);
    assert.equal(await sessions.resolve(cookieValue), null);
    assert.equal(sessions.resolveKnown(cookieValue), null, 'idle: its record expired with it, no session, known at once');
  });

  test('a revoked session, and every session of a user whose generation moved, is no session', async () => {
    const { clock, sessions } = setup();
    const a = await login(sessions, clock);
    const b = await login(sessions, clock, 'bob@example.com');
    await sessions.revoke(a.record.id);
    assert.equal(sessions.resolveKnown(a.cookieValue), null);
    await sessions.revokeUser('bob@example.com');
    assert.equal(sessions.resolveKnown(b.cookieValue), undefined, 'an older generation: resolve ends it');
    assert.equal(await sessions.resolve(b.cookieValue), null);
  });

  test('a store that cannot answer at once (Redis, the workers’ shared store) leaves it to resolve', async () => {
    const { clock, store, random, opts } = setup();
    // Without peekMany, as a store in another process.
    const remote = new Proxy(store, {
      get: (target, name) => {
        if (name === 'peekMany') return undefined;
        const value: unknown = Reflect.get(target, name, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }) as EphemeralStore;
    const sessions = new SessionService(remote, keysOf({ '1': OLD }), clock, random, opts);
    const { cookieValue } = await login(sessions, clock);
    assert.equal(sessions.resolveKnown(cookieValue), undefined);
    assert.ok(await sessions.resolve(cookieValue));
  });
});
