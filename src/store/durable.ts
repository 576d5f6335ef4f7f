/**
 * The durable store: what must survive a restart. 2FA enrollments (with their encrypted TOTP
 * secrets), recovery-code hashes and used TOTP time steps. The embedded default is SQLite; a Redis
 * backend (persistence on) implements the same interface and passes the same contract tests.
 *
 * Every method that changes more than one record does so atomically (one transaction, or one Lua
 * script/MULTI in Redis), so a crash can never leave a half-enabled account.
 */

export type FactorMethod = 'totp' | 'sms' | 'email';

/** An AES-256-GCM sealed value; `keyId` names the key so keys can rotate (see factors/secret-box.ts). */
export interface SealedSecret {
  readonly keyId: string;
  /** base64url of iv (12 bytes) | ciphertext | tag (16 bytes). */
  readonly data: string;
}

export interface TotpParameters {
  readonly algorithm: 'SHA1' | 'SHA256' | 'SHA512';
  readonly digits: 6 | 8;
  readonly period: number;
}

export interface Enrollment {
  /** Lower-case account email (the login name). */
  readonly user: string;
  readonly method: FactorMethod;
  /** Phone (E.164) for sms, email address for email, null for totp. */
  readonly destination: string | null;
  readonly totp: { readonly secret: SealedSecret; readonly parameters: TotpParameters } | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface DurableStore {
  getEnrollment(user: string): Promise<Enrollment | null>;
  /** Enables 2FA: writes the enrollment and replaces the recovery-code hashes in one transaction. */
  enable(enrollment: Enrollment, recoveryCodeHashes: readonly string[]): Promise<void>;
  /** Removes the enrollment, its recovery codes and used steps in one transaction; false when none. */
  disable(user: string): Promise<boolean>;
  /** Support changes the 2FA destination (sms/email enrollments only); false when no such enrollment. */
  setDestination(user: string, destination: string, now: number): Promise<boolean>;
  /** Replaces all recovery-code hashes of an enrolled user (regeneration). */
  replaceRecoveryCodes(user: string, hashes: readonly string[]): Promise<void>;
  /** Marks one unused recovery code as used; true exactly once per code, even under concurrency. */
  consumeRecoveryCode(user: string, hash: string, now: number): Promise<boolean>;
  remainingRecoveryCodes(user: string): Promise<number>;
  /**
   * Records a TOTP time step as used (replay guard); true only the first time for (user, step).
   * Entries older than `keepUntil` may be pruned.
   */
  useTotpStep(user: string, step: number, keepUntil: number): Promise<boolean>;
  /** Throws when the store cannot serve requests (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
