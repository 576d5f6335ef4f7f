import { normalisePhone } from '../channels/phone.ts';
import { isEmailAddress } from './identity.ts';
import type { DirectoryEntry } from './types.ts';

/**
 * What a source held, reduced to what codes may be sent to: a value that is not an email address
 * or an international phone number is unknown (codes once went to "admin" because a username was
 * taken for an address).
 */
export function entryOf(email: unknown, phone: unknown): DirectoryEntry {
  const address = typeof email === 'string' ? email.trim() : '';
  const number = typeof phone === 'string' ? normalisePhone(phone) : null;
  return { email: address && isEmailAddress(address) ? address : null, phone: number?.e164 ?? null };
}
