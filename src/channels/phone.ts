import type { parsePhoneNumberFromString as ParsePhone } from 'libphonenumber-js/max';
import { lazyModule } from '../core/lazy-module.ts';

// The phone metadata (megabytes) loads with the first phone number handled, not at start.
const phoneModule = lazyModule<{ parsePhoneNumberFromString: typeof ParsePhone }>('libphonenumber-js/max');
const parsePhoneNumberFromString: typeof ParsePhone = (...args) => phoneModule().parsePhoneNumberFromString(...args);

/**
 * Phone numbers and destinations as the channels and pages see them.
 *
 * Numbers are accepted in international form only (`+` and the country calling code): there is no
 * default country, so "555 0189" typed by a user in one country never silently becomes a number in
 * another. The full metadata (`libphonenumber-js/max`) is used so the country of numbers that share
 * a calling code (+1: US, CA, the Caribbean — a classic SMS-pumping target, THREATS T9) is told
 * apart by the number itself.
 */

interface NormalisedPhone {
  /** E.164, e.g. `+15555550189`. */
  readonly e164: string;
  /** ISO 3166-1 alpha-2 region of the number, e.g. `US`, `GB`, `CN`. */
  readonly country: string;
}

/** Digits, spaces and the usual separators after a leading `+`; nothing else (no letters, no `ext`). */
const INTERNATIONAL_INPUT = /^\+[0-9][0-9 ().\-\u00a0]*$/;
const MAX_INPUT_LENGTH = 32;

/**
 * NANPA reserves 555-0100 through 555-0199 in every area code for fictional use (films, docs, the
 * bundled demo's `+1 555 555 0189`). libphonenumber rejects area code 555 as unassigned, so these
 * are accepted here explicitly; they cannot reach a real handset, so they carry no pumping risk.
 */
const NANP_FICTIONAL = /^\+1[2-9][0-9]{2}55501[0-9]{2}$/;

/**
 * Parses a phone number a user or the upstream profile supplied. Returns null for anything that is
 * not a valid international number (missing `+`, letters, extensions, wrong length, unassigned
 * ranges other than the fictional one above).
 */
export function normalisePhone(input: string): NormalisedPhone | null {
  const trimmed = input.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_INPUT_LENGTH || !INTERNATIONAL_INPUT.test(trimmed)) {
    return null;
  }
  const parsed = parsePhoneNumberFromString(trimmed);
  if (!parsed || parsed.ext !== undefined) return null;
  const e164 = parsed.number;
  if (parsed.isValid() && parsed.country !== undefined) {
    return { e164, country: parsed.country };
  }
  if (NANP_FICTIONAL.test(e164)) return { e164, country: 'US' };
  return null;
}

/**
 * Masks an E.164 number for display and logs: the country calling code and the last two digits
 * stay, the rest becomes a fixed-width pattern (so the mask does not reveal the length either):
 * `+15555550189` → `+1 •••• ••89`.
 */
export function maskPhone(e164: string): string {
  const digits = e164.replace(/[^0-9]/g, '');
  const last2 = digits.length >= 6 ? digits.slice(-2) : '••';
  const parsed = e164.startsWith('+') ? parsePhoneNumberFromString(e164) : undefined;
  const prefix = parsed ? `+${parsed.countryCallingCode} ` : '';
  return `${prefix}•••• ••${last2}`;
}

/**
 * Masks an email address: the first character of the local part and the whole domain stay,
 * `merchant@example.com` → `m•••@example.com`. Something that is not an address masks entirely.
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0 || at === email.length - 1) return '•••';
  const first = Array.from(email.slice(0, at))[0] ?? '';
  return `${first}•••@${email.slice(at + 1)}`;
}

/**
 * Whether SMS may be sent to this number under a country allow-list (THREATS T9).
 * `null` allows every country; otherwise the number's region must be listed (ISO 3166-1 alpha-2,
 * case-insensitive). A number that does not normalise is never allowed.
 */
export function phoneCountryAllowed(e164: string, allowList: readonly string[] | null): boolean {
  const phone = normalisePhone(e164);
  if (!phone) return false;
  if (allowList === null) return true;
  return allowList.some((code) => code.trim().toUpperCase() === phone.country);
}
