import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { GraceStore } from '../../src/store/grace.ts';

/**
 * The contract every GraceStore backend meets (memory, SQLite, Redis): the durable grace state of
 * `require_2fa` (src/store/grace.ts). Only the interface is used, and user names are unique per
 * test, so a shared database is not disturbed. `make` is called once per test.
 */
export type MakeGraceStore = () => Promise<{ store: GraceStore; cleanup?(): Promise<void> }>;

const T0 = Date.UTC(2026, 2, 2, 9);
const userName = (label = 'user'): string => `${label}-${randomUUID()}@example.com`;

export function runGraceContract(name: string, make: MakeGraceStore): void {
  async function withStore(fn: (store: GraceStore) => Promise<void>): Promise<void> {
    const { store, cleanup } = await make();
    try {
      await fn(store);
    } finally {
      await cleanup?.();
    }
  }

  describe(`GraceStore contract: ${name}`, () => {
    test('an account never prompted has no record', () =>
      withStore(async (store) => {
        assert.equal(await store.get(userName()), null);
      }));

    test('the first prompt is kept: later prompts do not move it', () =>
      withStore(async (store) => {
        const user = userName();
        assert.deepEqual(await store.prompted(user, T0), { user, firstPromptAt: T0, skips: 0, endedAt: null });
        assert.deepEqual(await store.prompted(user, T0 + 5000), { user, firstPromptAt: T0, skips: 0, endedAt: null });
        assert.deepEqual(await store.get(user), { user, firstPromptAt: T0, skips: 0, endedAt: null });
      }));

    test('skips count up to the limit and never past it; a skip without a prompt starts the record', () =>
      withStore(async (store) => {
        const user = userName();
        const first = await store.skip(user, T0, 2);
        assert.deepEqual(first, { ok: true, record: { user, firstPromptAt: T0, skips: 1, endedAt: null } });
        assert.equal((await store.skip(user, T0 + 1, 2)).ok, true);
        const third = await store.skip(user, T0 + 2, 2);
        assert.equal(third.ok, false);
        assert.equal(third.record.skips, 2);
        assert.equal((await store.get(user))?.skips, 2);
        assert.equal((await store.skip(userName(), T0, null)).ok, true, 'no limit');
      }));

    test('concurrent skips (two tabs, two replicas) never count past the limit', () =>
      withStore(async (store) => {
        const user = userName();
        await store.prompted(user, T0);
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.skip(user, T0 + i, 3)));
        assert.equal(results.filter((r) => r.ok).length, 3);
        assert.equal((await store.get(user))?.skips, 3);
      }));

    test('ending the grace period is for good: kept on a second end, and no skip counts after it', () =>
      withStore(async (store) => {
        const user = userName();
        await store.prompted(user, T0);
        await store.end(user, T0 + 10);
        await store.end(user, T0 + 20);
        assert.deepEqual(await store.get(user), { user, firstPromptAt: T0, skips: 0, endedAt: T0 + 10 });
        assert.equal((await store.skip(user, T0 + 30, null)).ok, false);
        const fresh = userName();
        await store.end(fresh, T0);
        assert.deepEqual(await store.get(fresh), { user: fresh, firstPromptAt: T0, skips: 0, endedAt: T0 }, 'ending without a prompt makes the record');
      }));

    test('export and import (store migrate/backup): every record, as it is, and an import replaces', () =>
      withStore(async (store) => {
        const a = userName('a');
        const b = userName('b');
        await store.skip(a, T0, 5);
        await store.end(b, T0 + 1);
        const exported = [];
        for await (const record of store.exportRecords(T0)) if (record.user === a || record.user === b) exported.push(record);
        assert.deepEqual(
          exported.sort((x, y) => (x.user < y.user ? -1 : 1)),
          [
            { user: a, firstPromptAt: T0, skips: 1, endedAt: null },
            { user: b, firstPromptAt: T0 + 1, skips: 0, endedAt: T0 + 1 },
          ],
        );
        await store.importRecords({ user: a, firstPromptAt: T0 - 99, skips: 4, endedAt: null });
        assert.deepEqual(await store.get(a), { user: a, firstPromptAt: T0 - 99, skips: 4, endedAt: null });
        assert.equal(await store.hasRecords(T0), true);
        await assert.rejects(store.importRecords({ user: a, firstPromptAt: T0, skips: -1, endedAt: null }), /damaged/);
      }));
  });
}
