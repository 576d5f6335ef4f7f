import { randomFillSync } from 'node:crypto';

/** Randomness source (CSPRNG in production), injected from the composition root for deterministic tests. */
export interface Random {
  bytes(length: number): Buffer;
}

/** What one refill of the pool draws from the CSPRNG: about 25 sign-ins' worth of ids, salts and IVs. */
const POOL_BYTES = 4096;

/**
 * The CSPRNG, drawn from in blocks, as Node's own `randomUUID` does. A sign-in takes seven small
 * draws (ids, a handle, the seal's salts and IV); each `randomBytes` call is a trip into OpenSSL
 * that cost 10–20 µs on a busy process (its code and state are cold by the next call), so seven
 * cost more than the seal's own cryptography. Every byte is served once, copied out, and wiped
 * from the pool, so a caller never shares a buffer with another and a dump of the pool shows
 * nothing that was handed out. Large draws bypass the pool.
 */
export function pooledRandom(poolBytes = POOL_BYTES): Random {
  const pool = Buffer.alloc(poolBytes);
  let offset = poolBytes;
  return {
    bytes(length: number): Buffer {
      if (length > poolBytes / 4) return randomFillSync(Buffer.alloc(length));
      if (offset + length > poolBytes) {
        randomFillSync(pool);
        offset = 0;
      }
      const out = Buffer.from(pool.subarray(offset, offset + length));
      pool.fill(0, offset, offset + length);
      offset += length;
      return out;
    },
  };
}

export const cryptoRandom: Random = pooledRandom();
