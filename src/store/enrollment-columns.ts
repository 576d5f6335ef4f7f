import type { Enrollment, FactorMethod, TotpParameters } from './durable.ts';

/*
 * What SQLite's enrollment rows and Redis' enrollment hashes both hold: the method and the TOTP
 * columns, checked the same way on the way back in.
 */

export const METHODS: ReadonlySet<string> = new Set<FactorMethod>(['totp', 'sms', 'email']);
const ALGORITHMS: ReadonlySet<string> = new Set<TotpParameters['algorithm']>(['SHA1', 'SHA256', 'SHA512']);

/** The stored TOTP columns as an enrollment's `totp`; null when one is missing or invalid (the caller says where). */
export function totpFromColumns(
  keyId: string | null | undefined,
  data: string | null | undefined,
  algorithm: string | null | undefined,
  digits: number | null,
  period: number | null,
): NonNullable<Enrollment['totp']> | null {
  if (
    keyId === null ||
    keyId === undefined ||
    data === null ||
    data === undefined ||
    algorithm === null ||
    algorithm === undefined ||
    !ALGORITHMS.has(algorithm) ||
    (digits !== 6 && digits !== 8) ||
    period === null ||
    !Number.isInteger(period) ||
    period <= 0
  ) {
    return null;
  }
  return { secret: { keyId, data }, parameters: { algorithm: algorithm as TotpParameters['algorithm'], digits, period } };
}
