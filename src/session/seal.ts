import { createCipheriv, createHmac, pbkdf2Sync } from 'node:crypto';
import type { Random } from '../core/random.ts';

/**
 * Seals session content exactly as iron-session's `sealData` does (Iron `Fe26.2`, AES-256-CBC,
 * HMAC-SHA256, keys from PBKDF2-SHA1 with one iteration over a fresh 256-bit salt each, then the
 * `~2` version suffix), so iron-session's `unsealData` opens it and cookies stay valid across the
 * change. The difference is cost: iron-webcrypto goes through WebCrypto (importKey, deriveBits,
 * promises) for each of the two keys, about 15 % of a sign-in's CPU in the profile; node:crypto's
 * synchronous calls do the same work in a fraction of it. Unsealing stays with iron-session (its
 * result is cached per cookie, so it runs once per session and replica).
 */
const PREFIX = 'Fe26.2';
const MIN_PASSWORD = 32;

export function sealSession(data: unknown, passwords: Readonly<Record<string, string>>, ttlSeconds: number, random: Random): string {
  // The newest password seals (the highest numeric id), as iron-session chooses it.
  const id = String(Math.max(...Object.keys(passwords).map(Number)));
  const secret = passwords[id];
  if (secret === undefined || secret.length < MIN_PASSWORD) throw new Error(`Password string too short (min ${MIN_PASSWORD} characters required)`);
  if (!/^\w+$/.test(id)) throw new Error('Invalid password id');
  // The real clock on purpose: iron-session's unsealData checks this expiry against Date.now(), so
  // an injected (test) clock here would make cookies it refuses. The session's own lifetime is
  // enforced from the injected clock by the session records (sessions.ts).
  const now = Date.now();
  const encryptionSalt = random.bytes(32).toString('hex');
  const iv = random.bytes(16);
  const cipher = createCipheriv('aes-256-cbc', pbkdf2Sync(secret, encryptionSalt, 1, 32, 'sha1'), iv);
  const encrypted = Buffer.concat([cipher.update(JSON.stringify(data), 'utf8'), cipher.final()]);
  const expiration = ttlSeconds ? String(now + ttlSeconds * 1000) : '';
  const base = `${PREFIX}*${id}*${encryptionSalt}*${iv.toString('base64url')}*${encrypted.toString('base64url')}*${expiration}`;
  const integritySalt = random.bytes(32).toString('hex');
  const digest = createHmac('sha256', pbkdf2Sync(secret, integritySalt, 1, 32, 'sha1')).update(base).digest('base64url');
  return `${base}*${integritySalt}*${digest}~2`;
}
