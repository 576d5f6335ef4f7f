/**
 * The ephemeral store: sessions, pending logins, CSRF-bound flow records, counters and bans. Every
 * operation that a race could abuse (counting attempts, consuming a single-use value, claiming a
 * key) is one atomic call here, so each backend (memory now, Redis for several replicas) keeps the
 * guarantee itself rather than relying on callers to read-then-write.
 */
export interface EphemeralStore {
  get(key: string): Promise<string | null>;
  /** Several keys in one round trip; missing keys are null. */
  getMany(keys: readonly string[]): Promise<Array<string | null>>;
  /**
   * What getMany would answer, at once: only a store that holds its data in this process has it
   * (the memory store). Lets the hot path decide a signed-in request without waiting on a promise.
   */
  peekMany?(keys: readonly string[]): Array<string | null>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Sets only when the key does not exist; true when this call set it. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /**
   * Sets only when the key exists; true when this call set it. Updates of records that another
   * request may delete meanwhile (a session being revoked) use this, so they cannot resurrect it.
   */
  setIfPresent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /**
   * Returns the key's value, first setting it to `value` when the key does not exist; either way the
   * key then lives `ttlMs` from now (sliding). One atomic step, so two callers racing on a missing
   * key both get the value the first one set. (Account generations: src/flows/account-generation.ts.)
   */
  getOrSet(key: string, value: string, ttlMs: number): Promise<string>;
  delete(key: string): Promise<boolean>;
  /** Deletes only when the current value equals `expected` (single-use consumption). */
  compareAndDelete(key: string, expected: string): Promise<boolean>;
  /**
   * Adds `by` to an integer counter and returns the new value. A new counter starts at 0 and gets
   * `ttlMs`; an existing one keeps its expiry ('fixed', a counting window) or gets `ttlMs` again
   * ('sliding', for values that must outlive their last change).
   */
  increment(key: string, by: number, ttlMs: number, expiry?: 'fixed' | 'sliding'): Promise<number>;
  /**
   * Gives back one unit of a counter that still exists and is above 0, keeping its expiry; a
   * counter whose window has closed stays closed (no negative credit). Returns the new value.
   */
  decrementIfPresent(key: string): Promise<number>;
  /**
   * The attempt gate, in one atomic step: takes one slot of the counting window `key` (a new window
   * starts at 1 and lives `windowMs`) unless the window already holds `max`, or the key holds a
   * non-number — a closed gate (a ban written with `set(key, 'ban', ms)`). A refusal takes nothing
   * and says how long the window or the ban still lasts. Checking and counting in one call is what
   * keeps N parallel attempts, on any number of replicas, to exactly `max` (THREATS T8).
   */
  takeSlot(key: string, max: number, windowMs: number): Promise<SlotResult>;
  /**
   * Small per-key maps (member → value), e.g. the sessions of one account (src/session/sessions.ts).
   * `addMember` sets one member and, in the same atomic step, makes the whole map live at least
   * `ttlMs` from now (its expiry is never shortened). Members do not expire one by one: callers keep
   * their own expiry in the value and remove what is over. Removing the last member removes the map.
   * Resolves with the number of members the map holds afterwards (so a caller can tell when to
   * prune without reading the whole map).
   */
  addMember(key: string, member: string, value: string, ttlMs: number): Promise<number>;
  /** Every member of the map and its value; `{}` when the map does not exist. */
  members(key: string): Promise<Record<string, string>>;
  /** Removes one member; true when it was there. */
  removeMember(key: string, member: string): Promise<boolean>;
  /** Milliseconds until the key expires; null when it does not exist. */
  ttl(key: string): Promise<number | null>;
  /** Throws when the store cannot serve requests (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export type SlotResult =
  | { readonly ok: true; /** The window's count with this slot. */ readonly count: number }
  | { readonly ok: false; readonly retryAfterMs: number; /** The gate is closed by a ban, not only full. */ readonly banned: boolean };

/** Raised when a store backend cannot answer: the enforcement point fails closed (503). */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** Whether an error (or one of its causes) says a store could not answer. */
export function isStoreUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof StoreUnavailableError) return true;
  }
  return false;
}
