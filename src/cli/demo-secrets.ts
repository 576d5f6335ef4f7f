import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** A secret file that cannot be used as it is (e.g. left empty); the message names it. */
export class SecretFileError extends Error {
  override readonly name = 'SecretFileError';
}

/**
 * Demo secrets are generated once into var/ (mode 0600). Creation is exclusive ('wx'), so when
 * several demo processes start together in one checkout exactly one writes and all read the same.
 */
export function ensureSecretFile(path: string, generate: () => string): string {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, generate(), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  // A racing writer may not have finished: wait briefly for content rather than read half a file.
  for (let i = 0; i < 50; i++) {
    const text = readFileSync(path, 'utf8');
    if (text.trim().length > 0) return text;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  throw new SecretFileError(`${path}: the secret file is empty; delete it to have the demo generate a new one (never delete encryption-keys.json over existing data)`);
}

export const newSessionKeys = (): string => `${JSON.stringify({ '1': randomBytes(32).toString('base64url') })}\n`;

/** 32 random bytes, base64url: 43 characters, above the 32-character minimum of admin tokens. */
export const newAdminToken = (): string => `${randomBytes(32).toString('base64url')}\n`;
