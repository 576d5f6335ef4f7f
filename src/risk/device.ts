/**
 * The device cookie: a long-lived random id that tells "this browser has signed in here before".
 * Its value is `<id>.<signature>`, the signature an HMAC-SHA256 of the id under a server key, so a
 * client cannot mint ids or try a victim's id by guessing: only ids this sidecar issued verify.
 * The id says nothing by itself; whether it is known for an account is in the risk history.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Random } from '../core/random.ts';

/** 16 random bytes, base64url: 22 characters. */
const ID_BYTES = 16;
const ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const MIN_KEY_BYTES = 32;
/** Domain separation, so the key signs nothing else by accident if it is ever shared. */
const CONTEXT = 'smartpush-guard device-id v1\0';

type DeviceKey = string | Buffer;

export function newDeviceId(random: Random): string {
  return random.bytes(ID_BYTES).toString('base64url');
}

function keyBytes(key: DeviceKey): Buffer {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  if (bytes.length < MIN_KEY_BYTES) throw new RangeError(`a device key must be at least ${MIN_KEY_BYTES} bytes`);
  return bytes;
}

function mac(key: DeviceKey, id: string): Buffer {
  return createHmac('sha256', keyBytes(key)).update(CONTEXT).update(id).digest();
}

/** The cookie value for a device id: `<id>.<base64url HMAC-SHA256>`. */
export function signDeviceId(key: DeviceKey, id: string): string {
  if (!ID_PATTERN.test(id)) throw new RangeError('a device id is 16 to 64 base64url characters');
  return `${id}.${mac(key, id).toString('base64url')}`;
}

/**
 * The device id of a cookie value, or null when it is malformed or its signature does not verify
 * under any of the keys (the first key signs; older keys keep verifying during a rotation). The
 * signature comparison takes the same time wherever the first differing byte is.
 */
export function verifyDeviceId(keys: DeviceKey | readonly DeviceKey[], value: string | undefined | null): string | null {
  if (typeof value !== 'string') return null;
  const dot = value.indexOf('.');
  if (dot === -1) return null;
  const id = value.slice(0, dot);
  const signature = value.slice(dot + 1);
  if (!ID_PATTERN.test(id) || !SIGNATURE_PATTERN.test(signature)) return null;
  const given = Buffer.from(signature, 'base64url');
  // 43 base64url characters carry 258 bits; the last two must be 0 for the text to be canonical.
  if (given.length !== 32 || given.toString('base64url') !== signature) return null;
  let valid = false;
  for (const key of typeof keys === 'string' || Buffer.isBuffer(keys) ? [keys] : keys) {
    // No early exit: every key is tried, so timing does not tell which one matched.
    if (timingSafeEqual(mac(key, id), given)) valid = true;
  }
  return valid ? id : null;
}
