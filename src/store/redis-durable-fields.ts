import type { Enrollment, FactorMethod } from './durable.ts';
import { METHODS, totpFromColumns } from './enrollment-columns.ts';

/* An enrollment as the fields of its Redis hash, and the checks on the way back. */

export function enrollmentToFields(e: Enrollment): string[] {
  if ((e.method === 'totp') !== (e.totp !== null)) {
    throw new TypeError(`redis: a ${e.method} enrollment must ${e.method === 'totp' ? 'have' : 'not have'} TOTP parameters`);
  }
  const fields = ['method', e.method, 'created_at', String(e.createdAt), 'updated_at', String(e.updatedAt)];
  // A missing field is null; an empty destination stays an empty string.
  if (e.destination !== null) fields.push('destination', e.destination);
  if (e.totp !== null) {
    const { secret, parameters } = e.totp;
    fields.push(
      'totp_key_id', secret.keyId,
      'totp_secret', secret.data,
      'totp_algorithm', parameters.algorithm,
      'totp_digits', String(parameters.digits),
      'totp_period', String(parameters.period),
    );
  }
  return fields;
}

export function fieldsToEnrollment(user: string, f: Record<string, string>): Enrollment {
  const method = f['method'];
  if (method === undefined || !METHODS.has(method)) throw new Error('redis: enrollment record has a missing or unknown method');
  let totp: Enrollment['totp'] = null;
  if (method === 'totp') {
    const checked = totpFromColumns(f['totp_key_id'], f['totp_secret'], f['totp_algorithm'], Number(f['totp_digits']), Number(f['totp_period']));
    if (checked === null) throw new Error('redis: totp enrollment record has missing or invalid TOTP fields');
    totp = checked;
  } else if (f['totp_secret'] !== undefined) {
    throw new Error(`redis: ${method} enrollment record carries TOTP fields`);
  }
  return {
    user,
    method: method as FactorMethod,
    destination: f['destination'] ?? null,
    totp,
    createdAt: integer(f['created_at'], 'enrollment created_at'),
    updatedAt: integer(f['updated_at'], 'enrollment updated_at'),
  };
}

export function integer(text: string | undefined, what: string): number {
  const value = Number(text);
  if (text === undefined || text === '' || !Number.isFinite(value)) throw new Error(`redis: ${what} is not a number`);
  return value;
}

/** A duplicate hash is a caller's mistake (SQLite refuses it by primary key): refuse it here too. */
export function distinct(hashes: readonly string[]): void {
  if (new Set(hashes).size !== hashes.length) throw new TypeError('redis: recovery-code hashes must be distinct');
}
