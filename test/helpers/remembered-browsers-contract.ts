import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { RecordPort } from '../../src/store/records.ts';
import type { RememberedBrowser, RememberedBrowserStore, RememberedUserRecords } from '../../src/store/remembered-browsers.ts';

/**
 * The contract every RememberedBrowserStore backend meets (memory, SQLite, Redis). User names are
 * unique to each run, so a shared database is not disturbed. `make` gives a fresh store (and,
 * for durable backends, its migration port).
 */
export type MakeRememberedStore = () => Promise<{
  store: RememberedBrowserStore;
  port?: RecordPort<RememberedUserRecords>;
  cleanup?(): Promise<void>;
}>;

const T0 = Date.UTC(2026, 0, 1);
const userName = (): string => `rb-${randomUUID()}@example.com`;

export function browser(user: string, id: string, overrides: Partial<RememberedBrowser> = {}): RememberedBrowser {
  return {
    id,
    user,
    tokenHash: `hash-${id}`,
    deviceId: `device-${id}`,
    label: 'Firefox on Linux',
    factors: 'factors-1',
    createdAt: T0,
    lastUsedAt: T0,
    expiresAt: T0 + 30 * 86_400_000,
    verifiedAt: T0,
    ...overrides,
  };
}

export function runRememberedBrowsersContract(name: string, make: MakeRememberedStore): void {
  async function withStore(fn: (store: RememberedBrowserStore, port?: RecordPort<RememberedUserRecords>) => Promise<void>): Promise<void> {
    const { store, port, cleanup } = await make();
    try {
      await fn(store, port);
    } finally {
      await cleanup?.();
    }
  }

  describe(`RememberedBrowserStore contract: ${name}`, () => {
    test('an unknown account has no records and no fingerprint', () =>
      withStore(async (store) => {
        const user = userName();
        assert.deepEqual(await store.list(user), []);
        assert.equal(await store.get(user, 'a'), null);
        assert.equal(await store.passwordFingerprint(user), null);
        assert.equal(await store.remove(user, 'a'), false);
        assert.equal(await store.removeAll(user), 0);
      }));

    test('add, get and list (oldest first); records are per account', () =>
      withStore(async (store) => {
        const user = userName();
        const other = userName();
        const a = browser(user, 'a', { createdAt: T0 + 2 });
        const b = browser(user, 'b', { createdAt: T0 + 1, label: 'Chrome on Windows' });
        await store.add(a, 10);
        await store.add(b, 10);
        await store.add(browser(other, 'a'), 10);
        assert.deepEqual(await store.get(user, 'a'), a);
        assert.deepEqual(await store.list(user), [b, a]);
        assert.equal((await store.list(other)).length, 1);
      }));

    test('the account keeps at most max records: the least recently used others go first', () =>
      withStore(async (store) => {
        const user = userName();
        await store.add(browser(user, 'a', { lastUsedAt: T0 + 5 }), 2);
        await store.add(browser(user, 'b', { lastUsedAt: T0 + 1 }), 2);
        // The new one is kept even when its lastUsedAt is the oldest.
        await store.add(browser(user, 'c', { lastUsedAt: T0 }), 2);
        assert.deepEqual((await store.list(user)).map((r) => r.id).sort(), ['a', 'c']);
      }));

    test('rotate replaces the record only while the expected hash is current (compare-and-set)', () =>
      withStore(async (store) => {
        const user = userName();
        const a = browser(user, 'a');
        await store.add(a, 10);
        const next = { ...a, tokenHash: 'hash-2', lastUsedAt: T0 + 1000 };
        assert.equal(await store.rotate(user, 'a', 'wrong', next), false);
        assert.deepEqual(await store.get(user, 'a'), a);
        assert.equal(await store.rotate(user, 'a', a.tokenHash, next), true);
        assert.deepEqual(await store.get(user, 'a'), next);
        // The old hash no longer rotates: a replayed token loses.
        assert.equal(await store.rotate(user, 'a', a.tokenHash, { ...next, tokenHash: 'hash-3' }), false);
        assert.equal(await store.rotate(user, 'missing', 'x', browser(user, 'missing')), false);
        assert.equal(await store.get(user, 'missing'), null, 'rotate never creates a record');
      }));

    test('of concurrent rotations from one hash, exactly one wins', () =>
      withStore(async (store) => {
        const user = userName();
        const a = browser(user, 'a');
        await store.add(a, 10);
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.rotate(user, 'a', a.tokenHash, { ...a, tokenHash: `n${i}` })));
        assert.equal(results.filter(Boolean).length, 1);
      }));

    test('remove one, remove all', () =>
      withStore(async (store) => {
        const user = userName();
        for (const id of ['a', 'b', 'c']) await store.add(browser(user, id), 10);
        assert.equal(await store.remove(user, 'b'), true);
        assert.equal(await store.remove(user, 'b'), false);
        assert.deepEqual((await store.list(user)).map((r) => r.id).sort(), ['a', 'c']);
        assert.equal(await store.removeAll(user), 2);
        assert.deepEqual(await store.list(user), []);
      }));

    test('the password fingerprint is kept per account and replaced', () =>
      withStore(async (store) => {
        const user = userName();
        await store.setPasswordFingerprint(user, 'fp-1');
        assert.equal(await store.passwordFingerprint(user), 'fp-1');
        await store.setPasswordFingerprint(user, 'fp-2');
        assert.equal(await store.passwordFingerprint(user), 'fp-2');
        assert.equal(await store.removeAll(user), 0, 'forgetting browsers keeps the fingerprint');
        assert.equal(await store.passwordFingerprint(user), 'fp-2');
      }));

    test('migration port: export then import restores the same records, replacing the target', () =>
      withStore(async (store, port) => {
        if (!port) return; // memory has no migration port
        const user = userName();
        await store.add(browser(user, 'b'), 10);
        await store.add(browser(user, 'a'), 10);
        await store.setPasswordFingerprint(user, 'fp');
        assert.equal(await port.hasRecords(T0), true);
        let mine: RememberedUserRecords | undefined;
        for await (const r of port.exportRecords(T0)) if (r.user === user) mine = r;
        assert.ok(mine);
        assert.deepEqual(mine.browsers.map((b) => b.id), ['a', 'b']);
        assert.equal(mine.passwordFingerprint, 'fp');
        await store.add(browser(user, 'c'), 10);
        await port.importRecords(mine);
        assert.deepEqual((await store.list(user)).map((r) => r.id).sort(), ['a', 'b']);
        assert.deepEqual(await store.get(user, 'a'), browser(user, 'a'));
        await port.importRecords({ user, browsers: [], passwordFingerprint: null });
        assert.deepEqual(await store.list(user), []);
        assert.equal(await store.passwordFingerprint(user), null);
      }));
  });
}
