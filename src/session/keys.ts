import { createHmac } from 'node:crypto';

/**
 * Session key material. iron-session seals with the highest-numbered password and unseals with any
 * of them, so a rotation adds a new id, waits one absolute lifetime, then drops the old one.
 */
export interface SessionKeys {
  readonly passwords: Readonly<Record<string, string>>;
  /** Derived from the newest password: signs CSRF tokens. */
  readonly csrfKey: Buffer;
}

export class SessionKeyError extends Error {}

export function parseSessionKeys(text: string): SessionKeys {
  let passwords: Record<string, string>;
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) throw new SessionKeyError('session keys: expected a JSON object of id → password, not a list');
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new SessionKeyError('session keys: not valid JSON (expected {"1": "a password of 32+ characters"})');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new SessionKeyError('session keys: expected a JSON object of id → password');
    }
    passwords = {};
    for (const [id, value] of Object.entries(parsed)) {
      if (!/^[1-9]\d{0,5}$/.test(id)) throw new SessionKeyError(`session keys: id "${id}" must be a positive integer`);
      if (typeof value !== 'string') throw new SessionKeyError(`session keys: password ${id} must be a string`);
      passwords[id] = value;
    }
  } else {
    passwords = { '1': trimmed };
  }
  const ids = Object.keys(passwords);
  if (ids.length === 0) throw new SessionKeyError('session keys: at least one password is needed');
  for (const id of ids) {
    if ((passwords[id] as string).length < 32) throw new SessionKeyError(`session keys: password ${id} is shorter than 32 characters`);
  }
  const newest = String(Math.max(...ids.map(Number)));
  const csrfKey = createHmac('sha256', passwords[newest] as string).update('smartpush-guard csrf v1').digest();
  return { passwords, csrfKey };
}
