import { normalisePhone } from '../channels/phone.ts';
import { isEmailAddress } from './identity.ts';
import type { DirectoryEntry } from './types.ts';

/**
 * What a source held, reduced to what codes may be sent to: a value that is not an email address
 * or an international phone number is unknown (codes once went to "admin" because a username was
 * taken for an address).
 */
export function entryOf(email: unknown, phone: unknown, roles?: unknown): DirectoryEntry {
  const address = typeof email === 'string' ? email.trim() : '';
  const number = typeof phone === 'string' ? normalisePhone(phone) : null;
  const entry = { email: address && isEmailAddress(address) ? address : null, phone: number?.e164 ?? null };
  return roles === undefined ? entry : { ...entry, roles: rolesOf(roles) };
}

/**
 * Roles/groups as a source holds them: a list of strings, or one string separated by commas,
 * semicolons or new lines (`admin, finance`). Lower-cased, trimmed, empty ones dropped; anything
 * else (a number, an object, null) is no role at all. At most 100 roles of 100 characters.
 */
export function rolesOf(value: unknown): string[] {
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[,;\n]/) : [];
  const roles = new Set<string>();
  for (const item of items) {
    if (typeof item !== 'string') continue;
    const role = item.trim().toLowerCase();
    if (role !== '' && role.length <= 100) roles.add(role);
    if (roles.size >= 100) break;
  }
  return [...roles];
}
