/**
 * Recovery codes: shown once when 2FA is enabled, stored only as HMAC-SHA256 hashes (durable store),
 * each usable once in place of the second factor.
 *
 * Format `xxxx-xxxx-xx`: 10 characters from a 32-symbol alphabet without 0, O, 1 and l (digits 2–9
 * and the lower-case letters other than l and o), so 50 bits each. One random byte per character,
 * masked to 5 bits: 256 is a multiple of 32, so there is no modulo bias.
 *
 * Input is forgiving about presentation: case, spaces and dashes do not matter
 * (`ABCD EFGH JK` matches `abcd-efgh-jk`).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Random } from '../../core/random.ts';

export const RECOVERY_CODE_ALPHABET = '23456789abcdefghijkmnpqrstuvwxyz';
const RECOVERY_CODE_LENGTH = 10;
/** log2(32) × 10. */
export const RECOVERY_CODE_BITS = 50;
const GROUPS = [4, 4, 2] as const;
const MAX_INPUT_LENGTH = 64;
const VALID = new RegExp(`^[${RECOVERY_CODE_ALPHABET}]{${RECOVERY_CODE_LENGTH}}$`);
// Spaces of any kind and the dash characters people (and word processors) type or paste.
const SEPARATORS = /[\s\-\u2010-\u2015\u2212]/gu;

/** `count` distinct codes formatted `xxxx-xxxx-xx`. */
export function generateRecoveryCodes(random: Random, count = 10): string[] {
  if (!Number.isSafeInteger(count) || count < 1 || count > 100) throw new RangeError('count must be between 1 and 100');
  const codes = new Set<string>();
  let draws = 0;
  while (codes.size < count) {
    if (++draws > count * 10) throw new Error('random source keeps repeating itself');
    const bytes = random.bytes(RECOVERY_CODE_LENGTH);
    if (bytes.length !== RECOVERY_CODE_LENGTH) throw new Error('random source returned the wrong number of bytes');
    let raw = '';
    for (const byte of bytes) raw += RECOVERY_CODE_ALPHABET[byte & 31];
    codes.add(formatRecoveryCode(raw));
  }
  return [...codes];
}

/** `abcdefghjk` → `abcd-efgh-jk`. */
export function formatRecoveryCode(normalised: string): string {
  const parts: string[] = [];
  let at = 0;
  for (const size of GROUPS) {
    parts.push(normalised.slice(at, at + size));
    at += size;
  }
  return parts.join('-');
}

/**
 * The canonical form of a typed recovery code (lower case, no spaces or dashes), or null when the
 * input is not a string or cannot be a recovery code (wrong length, characters outside the alphabet).
 */
export function normaliseRecoveryCode(input: unknown): string | null {
  if (typeof input !== 'string' || input.length > MAX_INPUT_LENGTH) return null;
  const normalised = input.replace(SEPARATORS, '').toLowerCase();
  return VALID.test(normalised) ? normalised : null;
}

/**
 * Hex HMAC-SHA256(hashKey, normalised code): what the durable store keeps. Accepts any presentation
 * of the code; throws a RangeError for input that is not a recovery code (normalise user input with
 * normaliseRecoveryCode or use findRecoveryCode).
 */
export function hashRecoveryCode(hashKey: Buffer, code: string): string {
  const normalised = normaliseRecoveryCode(code);
  if (normalised === null) throw new RangeError('not a recovery code');
  return createHmac('sha256', hashKey).update(normalised, 'utf8').digest('hex');
}

/**
 * Index of the stored hash that `input` matches, or -1 (also for malformed input). Compares against
 * every stored hash in constant time, without stopping at the first match. Consuming the code (once)
 * is the durable store's job.
 */
export function findRecoveryCode(hashKey: Buffer, input: unknown, storedHashes: readonly string[]): number {
  const normalised = normaliseRecoveryCode(input);
  if (normalised === null) return -1;
  const candidate = Buffer.from(hashRecoveryCode(hashKey, normalised), 'hex');
  let found = -1;
  for (const [index, stored] of storedHashes.entries()) {
    const bytes = Buffer.from(stored, 'hex');
    const equal = bytes.length === candidate.length && timingSafeEqual(bytes, candidate);
    if (equal && found === -1) found = index;
  }
  return found;
}
