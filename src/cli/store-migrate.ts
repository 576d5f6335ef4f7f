import type { DurableUserRecords, RecordPort, RiskUserRecords } from '../store/records.ts';
import type { RememberedUserRecords } from '../store/remembered-browsers.ts';
import type { PasskeyUserRecords } from '../factors/passkey/store.ts';
import type { GraceUserRecord } from '../store/grace.ts';

/**
 * Copies every durable record from one backend to another (`smartpush-guard store migrate`):
 * enrollments with their sealed TOTP secrets as stored (never decrypted), recovery-code hashes with
 * their used state, used TOTP steps still in their keep window, known devices and login history.
 * Backend-neutral: each side is a pair of RecordPorts (SQLite or Redis).
 *
 * Each account is imported in one atomic step that replaces what the target held for it, so a
 * copy interrupted half-way can simply be run again (with --force, as the target then holds
 * records), and running it twice gives the same target. A target that already holds records is
 * refused unless `force`: replacing an account there could undo a newer enrollment or re-open a
 * used recovery code. Accounts only the target holds are left as they are.
 */

export interface MigrationSide {
  /** For messages, e.g. `embedded (SQLite /srv/guard.db)` or `redis (prefix spg:)`. */
  readonly name: string;
  readonly durable: RecordPort<DurableUserRecords>;
  readonly history: RecordPort<RiskUserRecords>;
  /** Remembered browsers and password fingerprints (issue 17). */
  readonly remembered?: RecordPort<RememberedUserRecords>;
  /** Passkeys (src/factors/passkey/); a side without them copies none. */
  readonly passkeys?: RecordPort<PasskeyUserRecords>;
  /** `require_2fa` grace periods (src/store/grace.ts). */
  readonly grace?: RecordPort<GraceUserRecord>;
}

export interface MigrationCounts {
  enrollments: number;
  recoveryCodes: number;
  /** Of `recoveryCodes`, those already used. */
  usedRecoveryCodes: number;
  usedTotpSteps: number;
  knownDevices: number;
  logins: number;
  rememberedBrowsers: number;
  /** Present when passkeys were copied or counted (a side with passkeys holds some). */
  passkeys?: number;
  /** Accounts with a `require_2fa` grace record; present only when there is at least one. */
  twoFactorGrace?: number;
}

interface MigrationOptions {
  /** Epoch ms: used TOTP steps whose keep window ended before this are not copied. */
  readonly now: number;
  /** Copy even though the target holds records (each copied account replaces the target's). */
  readonly force?: boolean;
  /** Count only; the target is not written. */
  readonly dryRun?: boolean;
}

interface MigrationReport {
  readonly counts: MigrationCounts;
  readonly dryRun: boolean;
  readonly targetHadRecords: boolean;
}

/** The target already holds records and `force` was not given; nothing was written. */
export class TargetNotEmptyError extends Error {
  override readonly name = 'TargetNotEmptyError';
}

export async function migrateRecords(from: MigrationSide, to: MigrationSide, options: MigrationOptions): Promise<MigrationReport> {
  const dryRun = options.dryRun === true;
  const targetHadRecords =
    (await to.durable.hasRecords(options.now)) ||
    (await to.history.hasRecords(options.now)) ||
    ((await to.remembered?.hasRecords(options.now)) ?? false) ||
    ((await to.passkeys?.hasRecords(options.now)) ?? false) ||
    ((await to.grace?.hasRecords(options.now)) ?? false);
  if (targetHadRecords && !dryRun && options.force !== true) {
    throw new TargetNotEmptyError(
      `the target ${to.name} already holds records; nothing was copied. ` +
        'Run with --force to replace the records of every account being copied (accounts only in the target are kept), ' +
        'or with --dry-run to count what would be copied.',
    );
  }
  const counts: MigrationCounts = { enrollments: 0, recoveryCodes: 0, usedRecoveryCodes: 0, usedTotpSteps: 0, knownDevices: 0, logins: 0, rememberedBrowsers: 0 };
  for await (const records of from.durable.exportRecords(options.now)) {
    if (records.enrollment !== null) counts.enrollments += 1;
    counts.recoveryCodes += records.recoveryCodes.length;
    counts.usedRecoveryCodes += records.recoveryCodes.filter((code) => code.usedAt !== null).length;
    counts.usedTotpSteps += records.usedSteps.length;
    if (!dryRun) await to.durable.importRecords(records);
  }
  for await (const records of from.history.exportRecords(options.now)) {
    counts.knownDevices += records.devices.length;
    counts.logins += records.logins.length;
    if (!dryRun) await to.history.importRecords(records);
  }
  if (from.remembered) {
    for await (const records of from.remembered.exportRecords(options.now)) {
      counts.rememberedBrowsers += records.browsers.length;
      if (!dryRun && to.remembered) await to.remembered.importRecords(records);
    }
  }
  if (from.passkeys) {
    if (!dryRun && !to.passkeys) throw new Error(`the target ${to.name} cannot hold passkeys`);
    for await (const records of from.passkeys.exportRecords(options.now)) {
      counts.passkeys = (counts.passkeys ?? 0) + records.passkeys.length;
      if (!dryRun) await to.passkeys?.importRecords(records);
    }
  }
  if (from.grace) {
    if (!to.grace) throw new Error(`the target ${to.name} cannot hold require_2fa grace records`);
    for await (const record of from.grace.exportRecords(options.now)) {
      counts.twoFactorGrace = (counts.twoFactorGrace ?? 0) + 1;
      if (!dryRun) await to.grace.importRecords(record);
    }
  }
  return { counts, dryRun, targetHadRecords };
}
