import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import type { Random } from '../core/random.ts';
import type { SealedSecret } from '../store/durable.ts';

/**
 * AES-256-GCM for secrets at rest (THREATS T15): TOTP secrets are sealed before they reach the
 * durable store. Every sealed value names its key (`keyId`), so keys rotate: the highest key id
 * seals, every configured key opens, and `needsRotation` tells which stored values to re-seal.
 *
 * The additional authenticated data (AAD) binds a sealed value to its place, e.g. `totp:<user>`
 * (see `totpSecretAad`): a secret copied onto another user's row does not open.
 *
 * Errors never carry plaintext, ciphertext or key material.
 */

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BASE64 = /^[A-Za-z0-9+/\-_]+={0,2}$/;
const BASE64URL = /^[A-Za-z0-9\-_]*$/;
const KEY_ID = /^[1-9][0-9]{0,8}$/;

export class SecretBoxError extends Error {
  override readonly name = 'SecretBoxError';
}

/** The AAD for a user's TOTP secret. */
export function totpSecretAad(user: string): string {
  return `totp:${user}`;
}

/**
 * A parsed key ring. Key bytes live in KeyObjects, and the ring prints (inspect, JSON) as its key
 * ids only, so logging it by mistake leaks nothing.
 */
export class EncryptionKeys {
  readonly #keys: ReadonlyMap<string, KeyObject>;
  /** The id that seals new values: the highest one. */
  readonly currentKeyId: string;

  /** @internal Use parseEncryptionKeys. */
  constructor(keys: ReadonlyMap<string, KeyObject>) {
    const ids = [...keys.keys()].sort((a, b) => Number(b) - Number(a));
    const current = ids[0];
    if (current === undefined) throw new SecretBoxError('encryption keys: no keys');
    this.#keys = new Map(keys);
    this.currentKeyId = current;
  }

  /** All key ids, highest first. */
  get keyIds(): string[] {
    return [...this.#keys.keys()].sort((a, b) => Number(b) - Number(a));
  }

  /** The key to seal or open with under `id`. */
  key(id: string): KeyObject | undefined {
    return this.#keys.get(id);
  }

  /**
   * Raw key bytes by id (fresh copies on every access), for deriving sub-keys such as the
   * recovery-code hash keys. A prototype getter, so inspect and JSON do not show it.
   */
  get keys(): ReadonlyMap<string, Buffer> {
    return new Map([...this.#keys].map(([id, key]) => [id, key.export()]));
  }

  toJSON(): { currentKeyId: string; keyIds: string[] } {
    return { currentKeyId: this.currentKeyId, keyIds: this.keyIds };
  }

  [inspect.custom](): string {
    return `EncryptionKeys { current: ${this.currentKeyId}, ids: [${this.keyIds.join(', ')}] }`;
  }
}

/**
 * Parses the key file: a JSON object from positive integer key ids to base64 (or base64url) text of
 * exactly 32 random bytes, e.g. `{"1": "…", "2": "…"}`. The highest id seals; all ids open.
 */
export function parseEncryptionKeys(text: string): EncryptionKeys {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not the parser's message: V8 quotes the offending text, which would be key material.
    throw new SecretBoxError('encryption keys: not valid JSON (expected {"<id>": "<base64 of 32 bytes>", ...})');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SecretBoxError('encryption keys: expected a JSON object mapping key ids to base64 keys');
  }
  const keys = new Map<string, KeyObject>();
  for (const [id, value] of Object.entries(parsed)) {
    if (!KEY_ID.test(id)) {
      throw new SecretBoxError(`encryption keys: key id ${JSON.stringify(id.slice(0, 20))} must be a positive integer`);
    }
    if (typeof value !== 'string' || !BASE64.test(value)) {
      throw new SecretBoxError(`encryption keys: key ${id} must be a base64 or base64url string`);
    }
    const bytes = Buffer.from(value, 'base64');
    try {
      if (bytes.length !== KEY_BYTES) {
        const hint = /^[0-9a-fA-F]{64}$/.test(value) ? '; it looks like hex, which is not accepted' : '';
        throw new SecretBoxError(`encryption keys: key ${id} must be ${KEY_BYTES} bytes (got ${bytes.length})${hint}`);
      }
      keys.set(id, createSecretKey(bytes));
    } finally {
      bytes.fill(0);
    }
  }
  if (keys.size === 0) throw new SecretBoxError('encryption keys: no keys');
  return new EncryptionKeys(keys);
}

/** JSON text of a fresh key ring with one random key (id 1), for a new installation or the demo. */
export function newEncryptionKeys(random: Random): string {
  const key = random.bytes(KEY_BYTES);
  if (key.length !== KEY_BYTES) throw new SecretBoxError('encryption keys: the random source returned too few bytes');
  const text = JSON.stringify({ '1': key.toString('base64url') });
  key.fill(0);
  return text;
}

export class SecretBox {
  constructor(
    private readonly keys: EncryptionKeys,
    private readonly random: Random,
  ) {}

  /** Seals with the current key and a fresh random IV. `aad` must be given again to open. */
  seal(plaintext: Buffer, aad: string): SealedSecret {
    return this.sealWith(this.keys.currentKeyId, plaintext, aad);
  }

  /** Seals with the key `keyId` (the key check records one value per key id). */
  sealWith(keyId: string, plaintext: Buffer, aad: string): SealedSecret {
    const key = this.keys.key(keyId);
    if (key === undefined) throw new SecretBoxError(`secret box: no key with id ${JSON.stringify(keyId.slice(0, 20))}`);
    const iv = this.random.bytes(IV_BYTES);
    if (iv.length !== IV_BYTES) throw new SecretBoxError('secret box: the random source returned a short IV');
    const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const data = Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64url');
    return { keyId, data };
  }

  /** Opens a sealed value; SecretBoxError for an unknown key, a wrong `aad` or altered data. */
  open(sealed: SealedSecret, aad: string): Buffer {
    const keyId: unknown = sealed?.keyId;
    const data: unknown = sealed?.data;
    if (typeof keyId !== 'string' || typeof data !== 'string') {
      throw new SecretBoxError('secret box: malformed sealed secret');
    }
    const key = this.keys.key(keyId);
    if (key === undefined) {
      throw new SecretBoxError(`secret box: unknown key id ${JSON.stringify(keyId.slice(0, 20))} (was the key removed from the key file?)`);
    }
    if (!BASE64URL.test(data)) throw new SecretBoxError('secret box: malformed sealed secret');
    const raw = Buffer.from(data, 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError('secret box: malformed sealed secret');
    const iv = raw.subarray(0, IV_BYTES);
    const tag = raw.subarray(raw.length - TAG_BYTES);
    const ciphertext = raw.subarray(IV_BYTES, raw.length - TAG_BYTES);
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    // update() yields unauthenticated bytes; they are returned only after final() verified the tag.
    const head = decipher.update(ciphertext);
    try {
      const tail = decipher.final();
      return Buffer.concat([head, tail]);
    } catch {
      throw new SecretBoxError('secret box: cannot open the sealed secret (wrong key, wrong context or altered data)');
    } finally {
      head.fill(0);
    }
  }

  /** True when `sealed` was not sealed with the current key and should be re-sealed. */
  needsRotation(sealed: SealedSecret): boolean {
    return sealed.keyId !== this.keys.currentKeyId;
  }

  /** Opens with whichever key sealed it and seals again with the current key. */
  reseal(sealed: SealedSecret, aad: string): SealedSecret {
    const plaintext = this.open(sealed, aad);
    try {
      return this.seal(plaintext, aad);
    } finally {
      plaintext.fill(0);
    }
  }
}
