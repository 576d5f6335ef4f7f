import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { PasskeyCredential, PasskeyStore } from '../../src/factors/passkey/store.ts';

/**
 * The contract every PasskeyStore backend meets (memory, SQLite, Redis). User names are unique per
 * test, so a shared Redis is not disturbed across tests or runs.
 */
export type MakePasskeyStore = () => Promise<{ store: PasskeyStore; cleanup?(): Promise<void> }>;

const T0 = Date.UTC(2026, 0, 1);

export function passkey(user: string, id: string, overrides: Partial<PasskeyCredential> = {}): PasskeyCredential {
  return { user, id, publicKey: `pk-${id}`, counter: 0, transports: ['internal'], name: `Key ${id}`, createdAt: T0, lastUsedAt: null, ...overrides };
}

export function runPasskeyStoreContract(name: string, make: MakePasskeyStore): void {
  async function withStore(fn: (store: PasskeyStore, user: (label: string) => string) => Promise<void>): Promise<void> {
    const { store, cleanup } = await make();
    const run = randomUUID().slice(0, 8);
    try {
      await fn(store, (label) => `${label}.${run}@example.com`);
    } finally {
      if (cleanup) await cleanup();
    }
  }

  describe(`PasskeyStore contract: ${name}`, () => {
    test('an account without passkeys lists none', () =>
      withStore(async (store, user) => {
        assert.deepEqual(await store.list(user('nobody')), []);
        assert.equal(await store.get(user('nobody'), 'x'), null);
        assert.equal(await store.remove(user('nobody'), 'x'), false);
        assert.equal(await store.removeAll(user('nobody')), 0);
        assert.equal(await store.use(user('nobody'), 'x', 1, T0), 'missing');
      }));

    test('several passkeys per account, listed oldest first, each account its own', () =>
      withStore(async (store, user) => {
        const ann = user('ann');
        const bob = user('bob');
        const second = passkey(ann, 'b-id', { createdAt: T0 + 2, transports: ['usb', 'nfc'], name: 'YubiKey 5' });
        const first = passkey(ann, 'z-id', { createdAt: T0 + 1 });
        assert.equal(await store.add(second), true);
        assert.equal(await store.add(first), true);
        assert.equal(await store.add(passkey(bob, 'b-id')), true, 'the same id may exist for another account');
        assert.deepEqual(await store.list(ann), [first, second]);
        assert.deepEqual(await store.get(ann, 'b-id'), second);
        assert.deepEqual(await store.list(bob), [passkey(bob, 'b-id')]);
      }));

    test('adding an id the account already has changes nothing', () =>
      withStore(async (store, user) => {
        const ann = user('ann');
        assert.equal(await store.add(passkey(ann, 'k1', { name: 'first' })), true);
        assert.equal(await store.add(passkey(ann, 'k1', { name: 'second', publicKey: 'other' })), false);
        assert.equal((await store.get(ann, 'k1'))?.name, 'first');
        assert.equal((await store.get(ann, 'k1'))?.publicKey, 'pk-k1');
      }));

    test('remove takes one passkey; removeAll takes the rest and counts them', () =>
      withStore(async (store, user) => {
        const ann = user('ann');
        for (const id of ['k1', 'k2', 'k3']) await store.add(passkey(ann, id));
        assert.equal(await store.remove(ann, 'k2'), true);
        assert.equal(await store.remove(ann, 'k2'), false);
        assert.deepEqual((await store.list(ann)).map((c) => c.id), ['k1', 'k3']);
        assert.equal(await store.removeAll(ann), 2);
        assert.deepEqual(await store.list(ann), []);
      }));

    test('use moves the counter forward only, and records when it was used', () =>
      withStore(async (store, user) => {
        const ann = user('ann');
        await store.add(passkey(ann, 'k1', { counter: 5 }));
        assert.equal(await store.use(ann, 'k1', 5, T0 + 10), 'counter_not_increased', 'the same counter again: a clone or a replay');
        assert.equal(await store.use(ann, 'k1', 4, T0 + 10), 'counter_not_increased', 'a lower counter');
        assert.deepEqual(await store.get(ann, 'k1'), passkey(ann, 'k1', { counter: 5 }), 'a refused use changes nothing');
        assert.equal(await store.use(ann, 'k1', 6, T0 + 20), 'ok');
        assert.deepEqual(await store.get(ann, 'k1'), passkey(ann, 'k1', { counter: 6, lastUsedAt: T0 + 20 }));
        assert.equal(await store.use(ann, 'k2', 7, T0), 'missing');
      }));

    test('an authenticator without a counter (always 0) is accepted; once it counted, 0 is refused', () =>
      withStore(async (store, user) => {
        const ann = user('ann');
        await store.add(passkey(ann, 'k1'));
        assert.equal(await store.use(ann, 'k1', 0, T0 + 1), 'ok');
        assert.equal(await store.use(ann, 'k1', 0, T0 + 2), 'ok');
        assert.equal((await store.get(ann, 'k1'))?.lastUsedAt, T0 + 2);
        assert.equal(await store.use(ann, 'k1', 1, T0 + 3), 'ok');
        assert.equal(await store.use(ann, 'k1', 0, T0 + 4), 'counter_not_increased');
      }));

    test('of parallel uses with the same counter exactly one is accepted', () =>
      withStore(async (store, user) => {
        const ann = user('ann');
        await store.add(passkey(ann, 'k1', { counter: 1 }));
        const answers = await Promise.all(Array.from({ length: 8 }, () => store.use(ann, 'k1', 2, T0)));
        assert.equal(answers.filter((a) => a === 'ok').length, 1);
        assert.equal(answers.filter((a) => a === 'counter_not_increased').length, 7);
      }));
  });
}
