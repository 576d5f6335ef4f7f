import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../src/config/schema.ts';
import type { LoadedConfig } from '../../src/config/load.ts';
import { startGuard, type RunningGuard } from '../../src/server/start.ts';
import { ManualClock, systemClock } from '../../src/core/clock.ts';
import type { DurableStore, Enrollment } from '../../src/store/durable.ts';
import { SqliteDurableStore } from '../../src/store/sqlite.ts';
import { baseConfig, memoryLogger, type Stack } from '../helpers/stack.ts';
import {
  GuardClient,
  MERCHANT,
  PASSWORD,
  enableTotp,
  expectStatus,
  ownerMessages,
  settleOwnerMessages,
  totpAt,
  verifyIdentity,
  withClockedStack,
  base32Decode,
} from '../helpers/two-factor.ts';

/**
 * 2FA state is durable (DESIGN §4): enrollments, sealed TOTP secrets, recovery-code hashes and used
 * TOTP steps survive a restart on the same SQLite file and keys; and a crash while enabling leaves
 * the account without 2FA (never half-enabled) with a flow that can be retried.
 */

const STEP = 30_000;

/** A second guard on the files of `stack` (same SQLite file, session and encryption keys, outbox). */
async function restartOn(stack: Stack, clock: ManualClock): Promise<{ guard: RunningGuard; logs: Array<Record<string, unknown>> }> {
  // The stack's base config without its low-risk thresholds: this guard has always run with the default risk settings.
  const { risk: _lowRisk, ...base } = baseConfig(stack.files, stack.upstreamUrl, stack.policyFile);
  const config = configSchema.parse(base);
  const loaded: LoadedConfig = { config, file: join(stack.files.dir, 'config.yaml'), policyPath: stack.policyFile };
  const { logger, logs } = memoryLogger();
  const guard = await startGuard(loaded, { logger, watchPolicy: false, clock, initStore: true });
  return { guard, logs };
}

describe('2FA survives a restart', () => {
  test('after closing the guard and starting a new one on the same SQLite file and keys, login still needs TOTP, recovery codes work, and used codes stay used', () =>
    withClockedStack({}, async (s) => {
      const client = await s.signedIn();
      const { secret, recoveryCodes } = await enableTotp(client, s.enroll);
      await client.logout();
      s.clock.advance(STEP);
      // Use one TOTP step and one recovery code before the restart.
      const usedCode = totpAt(secret, s.clock.now());
      expectStatus(await client.login(), 200, 'login before restart');
      expectStatus(await client.verify(usedCode), 200, 'totp before restart');
      await client.logout();
      expectStatus(await client.login(), 200, 'login before restart (recovery)');
      expectStatus(await client.verify(recoveryCodes[0]), 200, 'recovery code before restart');
      await client.logout();

      await s.stack.guard.close();
      const { guard } = await restartOn(s.stack, s.clock);
      try {
        const after = new GuardClient(guard.url);
        const login = await after.login();
        assert.equal(login.status, 200, login.text);
        assert.equal(login.body['status'], 'verification_required', `2FA was lost on restart: ${login.text}`);
        assert.equal(login.body['method'], 'totp');

        const replayed = await after.verify(usedCode);
        assert.equal(replayed.status, 401, `a TOTP step used before the restart worked again: ${replayed.text}`);
        const reusedRecovery = await after.verify(recoveryCodes[0]);
        assert.equal(reusedRecovery.status, 401, `a recovery code used before the restart worked again: ${reusedRecovery.text}`);

        s.clock.advance(STEP);
        const ok = await after.verify(totpAt(secret, s.clock.now()));
        assert.equal(ok.status, 200, `the sealed secret opens after the restart: ${ok.text}`);
        const status = await after.status();
        assert.deepEqual([status.body['enabled'], status.body['method'], status.body['recovery_codes_left']], [true, 'totp', 9]);
        await after.logout();

        expectStatus(await after.login(), 200, 'login (recovery)');
        const recovery = await after.verify(recoveryCodes[1]);
        assert.equal(recovery.status, 200, recovery.text);
        assert.equal((await after.status()).body['recovery_codes_left'], 8);
        assert.equal((await after.me()).status, 200);
      } finally {
        await guard.close();
      }
    }));
});

// ---------------------------------------------------------------------------------------------

/** A DurableStore whose `enable` can be made to fail, before or in the middle of its transaction. */
class CrashingDurable implements DurableStore {
  failure: 'none' | 'before' | 'midway' = 'none';
  enableCalls = 0;
  constructor(private readonly inner: SqliteDurableStore) {}
  getEnrollment(user: string) {
    return this.inner.getEnrollment(user);
  }
  async enable(enrollment: Enrollment, hashes: readonly string[]): Promise<void> {
    this.enableCalls++;
    if (this.failure === 'before') throw new Error('simulated crash: the process died before the commit');
    // A duplicate hash violates the primary key after the enrollment row and the first codes are
    // written inside the transaction: SQLite must roll all of it back.
    if (this.failure === 'midway') return this.inner.enable(enrollment, [...hashes, hashes[0] as string]);
    return this.inner.enable(enrollment, hashes);
  }
  disable(user: string) {
    return this.inner.disable(user);
  }
  setDestination(user: string, destination: string, now: number) {
    return this.inner.setDestination(user, destination, now);
  }
  replaceRecoveryCodes(user: string, hashes: readonly string[]) {
    return this.inner.replaceRecoveryCodes(user, hashes);
  }
  consumeRecoveryCode(user: string, hash: string, now: number) {
    return this.inner.consumeRecoveryCode(user, hash, now);
  }
  remainingRecoveryCodes(user: string) {
    return this.inner.remainingRecoveryCodes(user);
  }
  useTotpStep(user: string, step: number, keepUntil: number) {
    return this.inner.useTotpStep(user, step, keepUntil);
  }
  ping() {
    return this.inner.ping();
  }
  close() {
    return this.inner.close();
  }
}

describe('a crash while enabling', () => {
  for (const failure of ['before', 'midway'] as const) {
    test(`${failure === 'before' ? 'before the write' : 'in the middle of the transaction'}: no 2FA, no notification, no session change; the flow can be retried`, () => {
      const file = join(mkdtempSync(join(tmpdir(), 'spg-2fa-crash-')), 'guard.db');
      const durable = new CrashingDurable(SqliteDurableStore.open(file, { clock: systemClock }));
      return withClockedStack({ start: { durable } }, async (s) => {
        const client = await s.signedIn();
        const other = await s.signedIn();
        await verifyIdentity(client, s.enroll);
        const method = expectStatus(await client.enableMethod('totp'), 200, 'method');
        const secret = base32Decode(method.body['secret'] as string);

        durable.failure = failure;
        const crashed = await client.enableConfirm(totpAt(secret, s.clock.now()));
        assert.equal(durable.enableCalls, 1, 'the durable write was attempted');
        assert.equal(crashed.status, 500, crashed.text);
        assert.equal(crashed.body['error'], 'internal_error');
        assert.doesNotMatch(crashed.text, /simulated|sqlite|constraint|recovery_codes/i, 'no internals in the answer');
        assert.equal(crashed.body['recovery_codes'], undefined, 'no recovery codes are shown for a failed enable');

        assert.equal(await durable.getEnrollment(MERCHANT), null, 'a half-enabled account');
        assert.equal(await durable.remainingRecoveryCodes(MERCHANT), 0, 'recovery codes without an enrollment');
        assert.equal((await client.status()).body['enabled'], false);
        await settleOwnerMessages(s.stack.guard);
        assert.equal(ownerMessages(s.stack.outboxFile, MERCHANT).length, 0, 'a message (alert or notice) for a change that did not happen');
        assert.equal((await other.me()).status, 200, 'other sessions end only with a real change');
        const third = s.client();
        const login = await third.login();
        assert.deepEqual(login.body, { status: 'authenticated' }, 'sign-in needs only the password');
        await third.logout();

        // Retry: the confirmation again (the used step cannot be replayed, so the next one).
        durable.failure = 'none';
        s.clock.advance(STEP);
        const retried = await client.enableConfirm(totpAt(secret, s.clock.now()));
        assert.equal(retried.status, 200, `the flow could not be retried after the crash: ${retried.text}`);
        const codes = retried.body['recovery_codes'] as string[];
        assert.equal(codes.length, 10);
        assert.equal((await client.status()).body['enabled'], true);
        assert.equal(await durable.remainingRecoveryCodes(MERCHANT), 10);
        await settleOwnerMessages(s.stack.guard);
        const told = ownerMessages(s.stack.outboxFile, MERCHANT);
        assert.equal(told.length, 1, JSON.stringify(told));
        assert.equal(told[0]?.alert, 'factor_changed', 'the one message is the alert');

        await client.logout();
        s.clock.advance(STEP);
        expectStatus(await client.login(), 200, 'login');
        expectStatus(await client.verify(codes[0]), 200, 'a recovery code of the retried enable');
        await client.logout();
        expectStatus(await client.login(), 200, 'login');
        expectStatus(await client.verify(totpAt(secret, s.clock.now())), 200, 'the TOTP secret of the retried enable');
      });
    });
  }

  test('after a crash the whole flow can also be started again from the password', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'spg-2fa-crash-')), 'guard.db');
    const durable = new CrashingDurable(SqliteDurableStore.open(file, { clock: systemClock }));
    return withClockedStack({ start: { durable } }, async (s) => {
      const client = await s.signedIn();
      await verifyIdentity(client, s.enroll);
      const secret = base32Decode(expectStatus(await client.enableMethod('totp'), 200, 'method').body['secret'] as string);
      durable.failure = 'midway';
      assert.equal((await client.enableConfirm(totpAt(secret, s.clock.now()))).status, 500);
      durable.failure = 'none';
      s.clock.advance(61_000); // past the identity code's resend cooldown
      const again = await enableTotp(client, { ...s.enroll, password: PASSWORD });
      assert.equal(again.reply.body['enabled'], true);
      assert.equal((await client.status()).body['enabled'], true);
    });
  });
});
