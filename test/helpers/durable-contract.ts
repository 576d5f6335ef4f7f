import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { DurableStore, Enrollment } from '../../src/store/durable.ts';

/**
 * The contract every DurableStore backend must meet (DESIGN §4: "memory/SQLite and Redis implement
 * the same tests"). It uses only the interface, so a Redis backend runs the very same suite. Every
 * test uses user names unique to its run, so a shared database is not disturbed across tests or
 * runs. `make` is called once per test; its `cleanup` closes the store (it runs even after the
 * close test below, so `close` must be idempotent).
 */
export type MakeDurableStore = () => Promise<{ store: DurableStore; cleanup?(): Promise<void> }>;

const T0 = Date.UTC(2026, 0, 1);
/**
 * keepUntil for used TOTP steps. Far in the future: a backend may prune steps whose keepUntil has
 * passed by *its* clock (real time for SQLite and Redis), which would make a replay look allowed.
 */
const KEEP = Date.UTC(2100, 0, 1);

export function totpEnrollment(user: string, overrides: Partial<Enrollment> = {}): Enrollment {
  return {
    user,
    method: 'totp',
    destination: null,
    totp: {
      secret: { keyId: '1', data: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygp' },
      parameters: { algorithm: 'SHA1', digits: 6, period: 30 },
    },
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

export function smsEnrollment(user: string, overrides: Partial<Enrollment> = {}): Enrollment {
  return { user, method: 'sms', destination: '+4915112345678', totp: null, createdAt: T0, updatedAt: T0, ...overrides };
}

export function emailEnrollment(user: string, overrides: Partial<Enrollment> = {}): Enrollment {
  return { user, method: 'email', destination: user, totp: null, createdAt: T0, updatedAt: T0, ...overrides };
}

const hashes = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-hash-${i}`);

export function runDurableStoreContract(name: string, make: MakeDurableStore): void {
  interface Ctx {
    readonly store: DurableStore;
    /** A user name unique to this run (lower-case email, as the flows use). */
    user(label: string): string;
  }

  async function withStore(fn: (ctx: Ctx) => Promise<void>): Promise<void> {
    const { store, cleanup } = await make();
    const run = randomUUID().slice(0, 8);
    try {
      await fn({ store, user: (label) => `${label}.${run}@example.com` });
    } finally {
      if (cleanup) await cleanup();
    }
  }

  describe(`DurableStore contract: ${name}`, () => {
    test('ping resolves on a healthy store', () =>
      withStore(async ({ store }) => {
        await store.ping();
      }));

    test('after close, ping rejects (readiness fails closed) and close can be repeated', () =>
      withStore(async ({ store }) => {
        await store.close();
        await assert.rejects(store.ping());
        await store.close();
      }));

    test('an unknown user has no enrollment, no codes and nothing to disable', () =>
      withStore(async ({ store, user }) => {
        const u = user('nobody');
        assert.equal(await store.getEnrollment(u), null);
        assert.equal(await store.remainingRecoveryCodes(u), 0);
        assert.equal(await store.consumeRecoveryCode(u, 'x', T0), false);
        assert.equal(await store.setDestination(u, '+4915100000000', T0), false);
        assert.equal(await store.disable(u), false);
      }));

    test('enrollments round-trip exactly for totp, sms and email', () =>
      withStore(async ({ store, user }) => {
        const totp = totpEnrollment(user('totp'), {
          totp: {
            secret: { keyId: '7', data: 'c2VhbGVkLXNlY3JldC1ieXRlcw' },
            parameters: { algorithm: 'SHA512', digits: 8, period: 60 },
          },
          createdAt: T0 + 1,
          updatedAt: T0 + 2,
        });
        const sms = smsEnrollment(user('sms'), { createdAt: T0 + 3, updatedAt: T0 + 4 });
        const email = emailEnrollment(user('zoë'), { destination: 'zoë@exämple.com', createdAt: T0 + 5, updatedAt: T0 + 6 });
        for (const e of [totp, sms, email]) await store.enable(e, hashes(e.method, 3));
        assert.deepEqual(await store.getEnrollment(totp.user), totp);
        assert.deepEqual(await store.getEnrollment(sms.user), sms);
        assert.deepEqual(await store.getEnrollment(email.user), email);
        const sha256 = totpEnrollment(user('sha256'), {
          totp: { secret: { keyId: '1', data: 'eA' }, parameters: { algorithm: 'SHA256', digits: 6, period: 30 } },
        });
        await store.enable(sha256, []);
        assert.deepEqual(await store.getEnrollment(sha256.user), sha256);
        assert.equal(await store.remainingRecoveryCodes(sha256.user), 0, 'enabling with no recovery codes is allowed');
      }));

    test('enable replaces a previous enrollment and all of its recovery codes', () =>
      withStore(async ({ store, user }) => {
        const u = user('replace');
        const old = hashes('old', 10);
        await store.enable(smsEnrollment(u), old);
        assert.equal(await store.consumeRecoveryCode(u, old[0]!, T0), true);
        const next = totpEnrollment(u, { createdAt: T0 + 1000, updatedAt: T0 + 1000 });
        const fresh = hashes('new', 8);
        await store.enable(next, fresh);
        assert.deepEqual(await store.getEnrollment(u), next, 'the new enrollment replaced the old one entirely');
        assert.equal(await store.remainingRecoveryCodes(u), 8, 'only the new codes count');
        for (const h of old.slice(1)) assert.equal(await store.consumeRecoveryCode(u, h, T0), false, 'an old code no longer works');
        assert.equal(await store.consumeRecoveryCode(u, fresh[3]!, T0), true, 'a new code works');
        assert.equal(await store.remainingRecoveryCodes(u), 7);
        // Re-enabling with a code that was used before makes it unused again (it is a new set).
        await store.enable(next, [fresh[3]!]);
        assert.equal(await store.remainingRecoveryCodes(u), 1);
        assert.equal(await store.consumeRecoveryCode(u, fresh[3]!, T0), true);
      }));

    test('disable removes the enrollment, its codes and its used steps; false the second time', () =>
      withStore(async ({ store, user }) => {
        const u = user('disable');
        const other = user('bystander');
        const codes = hashes('d', 5);
        await store.enable(totpEnrollment(u), codes);
        await store.enable(emailEnrollment(other), codes);
        assert.equal(await store.useTotpStep(u, 1000, KEEP), true);
        assert.equal(await store.useTotpStep(other, 1000, KEEP), true);
        assert.equal(await store.disable(u), true);
        assert.equal(await store.getEnrollment(u), null);
        assert.equal(await store.remainingRecoveryCodes(u), 0);
        assert.equal(await store.consumeRecoveryCode(u, codes[0]!, T0), false, 'codes went with the enrollment');
        assert.equal(await store.disable(u), false, 'nothing left to disable');
        // Enabling again must not resurrect the old codes or the used step.
        await store.enable(totpEnrollment(u), ['fresh']);
        assert.equal(await store.remainingRecoveryCodes(u), 1);
        assert.equal(await store.consumeRecoveryCode(u, codes[1]!, T0), false);
        assert.equal(await store.useTotpStep(u, 1000, KEEP), true, 'the used step was removed');
        // The other user is untouched.
        assert.deepEqual(await store.getEnrollment(other), emailEnrollment(other));
        assert.equal(await store.remainingRecoveryCodes(other), 5);
        assert.equal(await store.useTotpStep(other, 1000, KEEP), false, "another user's step stays used");
      }));

    test('setDestination changes sms and email enrollments only', () =>
      withStore(async ({ store, user }) => {
        const sms = smsEnrollment(user('sms'));
        const email = emailEnrollment(user('email'));
        const totp = totpEnrollment(user('totp'));
        for (const e of [sms, email, totp]) await store.enable(e, hashes(e.method, 2));

        assert.equal(await store.setDestination(sms.user, '+4930123456', T0 + 10), true);
        assert.deepEqual(await store.getEnrollment(sms.user), { ...sms, destination: '+4930123456', updatedAt: T0 + 10 });
        assert.equal(await store.setDestination(email.user, 'new@example.com', T0 + 20), true);
        assert.deepEqual(await store.getEnrollment(email.user), { ...email, destination: 'new@example.com', updatedAt: T0 + 20 });

        assert.equal(await store.setDestination(totp.user, '+4930123456', T0 + 30), false, 'a totp enrollment has no destination');
        assert.deepEqual(await store.getEnrollment(totp.user), totp, 'the totp enrollment is unchanged');
        assert.equal(await store.remainingRecoveryCodes(sms.user), 2, 'codes are unaffected');
      }));

    test('recovery codes: each is consumed once; unknown, foreign and used codes are refused', () =>
      withStore(async ({ store, user }) => {
        const u = user('codes');
        const other = user('other');
        const codes = hashes('rc', 10);
        await store.enable(totpEnrollment(u), codes);
        await store.enable(totpEnrollment(other), hashes('other', 10));
        assert.equal(await store.remainingRecoveryCodes(u), 10);
        assert.equal(await store.consumeRecoveryCode(u, codes[4]!, T0), true);
        assert.equal(await store.consumeRecoveryCode(u, codes[4]!, T0 + 1), false, 'a used code is refused');
        assert.equal(await store.remainingRecoveryCodes(u), 9);
        assert.equal(await store.consumeRecoveryCode(u, 'rc-hash-unknown', T0), false, 'an unknown hash is refused');
        assert.equal(await store.consumeRecoveryCode(u, '', T0), false);
        assert.equal(await store.consumeRecoveryCode(other, codes[5]!, T0), false, "another user's code is refused");
        assert.equal(await store.consumeRecoveryCode(u, 'other-hash-5', T0), false, "a code of another user's set is refused");
        assert.equal(await store.remainingRecoveryCodes(u), 9);
        assert.equal(await store.remainingRecoveryCodes(other), 10);
        for (const h of codes) await store.consumeRecoveryCode(u, h, T0 + 2);
        assert.equal(await store.remainingRecoveryCodes(u), 0, 'all used');
        assert.notEqual(await store.getEnrollment(u), null, 'using every code does not disable 2FA');
      }));

    test('atomic: 100 concurrent consumes of one recovery code succeed exactly once', () =>
      withStore(async ({ store, user }) => {
        const u = user('race-code');
        const codes = hashes('race', 5);
        await store.enable(totpEnrollment(u), codes);
        const results = await Promise.all(Array.from({ length: 100 }, (_, i) => store.consumeRecoveryCode(u, codes[2]!, T0 + i)));
        assert.equal(results.filter((r) => r).length, 1);
        assert.equal(await store.remainingRecoveryCodes(u), 4);
        const spread = await Promise.all(codes.flatMap((h) => Array.from({ length: 20 }, () => store.consumeRecoveryCode(u, h, T0))));
        assert.equal(spread.filter((r) => r).length, 4, 'each of the other 4 codes is consumed exactly once');
        assert.equal(await store.remainingRecoveryCodes(u), 0);
      }));

    test('replaceRecoveryCodes invalidates the old codes, used or not', () =>
      withStore(async ({ store, user }) => {
        const u = user('regen');
        const old = hashes('old', 10);
        const enrollment = smsEnrollment(u);
        await store.enable(enrollment, old);
        assert.equal(await store.consumeRecoveryCode(u, old[0]!, T0), true);
        const fresh = hashes('fresh', 10);
        await store.replaceRecoveryCodes(u, fresh);
        assert.equal(await store.remainingRecoveryCodes(u), 10);
        for (const h of old) assert.equal(await store.consumeRecoveryCode(u, h, T0), false, 'old codes are gone');
        assert.equal(await store.consumeRecoveryCode(u, fresh[9]!, T0), true);
        assert.equal(await store.remainingRecoveryCodes(u), 9);
        assert.deepEqual(await store.getEnrollment(u), enrollment, 'the enrollment itself is unchanged');
        await store.replaceRecoveryCodes(u, []);
        assert.equal(await store.remainingRecoveryCodes(u), 0);
        assert.equal(await store.consumeRecoveryCode(u, fresh[0]!, T0), false);
      }));

    test('replaceRecoveryCodes for a user without an enrollment is refused and stores nothing', () =>
      withStore(async ({ store, user }) => {
        const u = user('not-enrolled');
        await assert.rejects(store.replaceRecoveryCodes(u, ['orphan']));
        assert.equal(await store.remainingRecoveryCodes(u), 0);
        assert.equal(await store.consumeRecoveryCode(u, 'orphan', T0), false, 'no orphan code to use');
        await store.enable(emailEnrollment(u), []);
        assert.equal(await store.consumeRecoveryCode(u, 'orphan', T0), false, 'nor after enabling later');
      }));

    test('useTotpStep: true once per (user, step); other steps and other users are independent', () =>
      withStore(async ({ store, user }) => {
        const a = user('a');
        const b = user('b');
        const keep = KEEP;
        assert.equal(await store.useTotpStep(a, 59_000_000, keep), true);
        assert.equal(await store.useTotpStep(a, 59_000_000, keep), false, 'a replayed step is refused');
        assert.equal(await store.useTotpStep(a, 59_000_000, keep + 60_000), false, 'also with a later keepUntil');
        assert.equal(await store.useTotpStep(a, 59_000_001, keep), true, 'the next step is separate');
        assert.equal(await store.useTotpStep(a, 58_999_999, keep), true, 'the previous step is separate');
        assert.equal(await store.useTotpStep(b, 59_000_000, keep), true, 'another user is independent');
        assert.equal(await store.useTotpStep(b, 59_000_000, keep), false);
        assert.equal(await store.useTotpStep(a.toUpperCase(), 59_000_000, keep), true, 'users are compared exactly (flows lower-case them)');
      }));

    test('useTotpStep works without an enrollment (confirming a new TOTP app)', () =>
      withStore(async ({ store, user }) => {
        const u = user('enrolling');
        assert.equal(await store.useTotpStep(u, 1, KEEP), true);
        assert.equal(await store.useTotpStep(u, 1, KEEP), false);
        await store.enable(totpEnrollment(u), []);
        assert.equal(await store.useTotpStep(u, 1, KEEP), false, 'enable keeps the replay guard');
      }));

    test('atomic: 100 concurrent uses of one TOTP step succeed exactly once', () =>
      withStore(async ({ store, user }) => {
        const u = user('race-step');
        const keep = KEEP;
        const results = await Promise.all(Array.from({ length: 100 }, () => store.useTotpStep(u, 4242, keep)));
        assert.equal(results.filter((r) => r).length, 1);
        const mixed = await Promise.all(
          Array.from({ length: 300 }, (_, i) => store.useTotpStep(u, 5000 + (i % 3), keep)),
        );
        assert.equal(mixed.filter((r) => r).length, 3, 'three steps, each used exactly once');
      }));
  });
}
