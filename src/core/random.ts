import { randomBytes } from 'node:crypto';

/** Randomness source (CSPRNG in production), injected from the composition root for deterministic tests. */
export interface Random {
  bytes(length: number): Buffer;
}

export const cryptoRandom: Random = { bytes: (length) => randomBytes(length) };
