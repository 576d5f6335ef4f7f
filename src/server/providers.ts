import { randomBytes } from 'node:crypto';

/** Time source, injected so expiry, windows and bans are tested deterministically. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** Randomness source (CSPRNG in production), injected for deterministic tests. */
export interface Random {
  bytes(length: number): Buffer;
}

export const systemClock: Clock = { now: () => Date.now() };
export const cryptoRandom: Random = { bytes: (length) => randomBytes(length) };

/** A clock a test moves by hand. */
export class ManualClock implements Clock {
  constructor(private current = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
  set(ms: number): void {
    this.current = ms;
  }
}
