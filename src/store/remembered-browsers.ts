/**
 * "Remember this browser" records (issue 17): a browser that passed the second factor at sign-in
 * and whose user ticked "Don't ask again on this browser" skips the sign-in second factor until the
 * record expires, is revoked, or the account's factors or password change. Durable (they last days):
 * SQLite embedded, Redis with several replicas, memory for tests; one contract
 * (test/helpers/remembered-browsers-contract.ts).
 *
 * The browser holds `<id>.<secret>` in its own cookie; the store holds only the SHA-256 of the
 * secret (`tokenHash`), never the secret. Each use rotates the secret: `rotate` replaces the record
 * only while its hash is still the one the caller read (compare-and-set), so of two concurrent uses
 * of one token at most one succeeds.
 *
 * Beside the records, one keyed fingerprint of the account's password (HMAC-SHA256 under a server
 * key, see flows/remember-browser.ts), so a sign-in with another password than the last one (the
 * password was changed at the upstream) drops every remembered browser.
 */

export interface RememberedBrowser {
  /** Random public id (base64url), the first half of the cookie. */
  readonly id: string;
  /** The account's canonical key. */
  readonly user: string;
  /** base64url SHA-256 of the current secret. */
  readonly tokenHash: string;
  /** The device id (device cookie, src/risk/device.ts) the record is bound to. */
  readonly deviceId: string;
  /** Coarse "browser on OS" from the User-Agent, for the user's list. */
  readonly label: string;
  /** `factorState` of the enrollment when the browser was remembered: any factor change voids it. */
  readonly factors: string;
  readonly createdAt: number;
  readonly lastUsedAt: number;
  readonly expiresAt: number;
  /** When a second factor was last really proven on this browser (the session's second-factor time). */
  readonly verifiedAt: number;
}

export interface RememberedBrowserStore {
  /** The account's records (expired ones included: callers filter), ordered by creation, oldest first. */
  list(user: string): Promise<RememberedBrowser[]>;
  get(user: string, id: string): Promise<RememberedBrowser | null>;
  /** Adds a record; the account keeps at most `max` (the least recently used others go first). */
  add(record: RememberedBrowser, max: number): Promise<void>;
  /** Replaces the record when its stored tokenHash is still `expectedHash`; false otherwise (or gone). */
  rotate(user: string, id: string, expectedHash: string, next: RememberedBrowser): Promise<boolean>;
  /** Removes one record; false when there was none. */
  remove(user: string, id: string): Promise<boolean>;
  /** Removes every record of the account; how many there were. */
  removeAll(user: string): Promise<number>;
  /** The account's password fingerprint, or null. */
  passwordFingerprint(user: string): Promise<string | null>;
  setPasswordFingerprint(user: string, fingerprint: string): Promise<void>;
}

/** Everything the store holds for one account, for `store migrate` and `store backup`. */
export interface RememberedUserRecords {
  readonly user: string;
  /** Sorted by id. */
  readonly browsers: readonly RememberedBrowser[];
  readonly passwordFingerprint: string | null;
}

export function byCreation(a: RememberedBrowser, b: RememberedBrowser): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The ids to evict so that `keep` records remain, sparing `spare`: least recently used first. */
export function evictions(records: readonly RememberedBrowser[], spare: string, keep: number): string[] {
  const others = records.filter((r) => r.id !== spare).sort((a, b) => a.lastUsedAt - b.lastUsedAt || (a.id < b.id ? -1 : 1));
  const extra = others.length + 1 - keep;
  return extra > 0 ? others.slice(0, extra).map((r) => r.id) : [];
}

/** In memory, for tests and single-process use. */
export class MemoryRememberedBrowsers implements RememberedBrowserStore {
  private readonly users = new Map<string, Map<string, RememberedBrowser>>();
  private readonly fingerprints = new Map<string, string>();

  async list(user: string): Promise<RememberedBrowser[]> {
    return [...(this.users.get(user)?.values() ?? [])].sort(byCreation);
  }

  async get(user: string, id: string): Promise<RememberedBrowser | null> {
    return this.users.get(user)?.get(id) ?? null;
  }

  async add(record: RememberedBrowser, max: number): Promise<void> {
    const records = this.users.get(record.user) ?? new Map<string, RememberedBrowser>();
    records.set(record.id, record);
    for (const id of evictions([...records.values()], record.id, max)) records.delete(id);
    this.users.set(record.user, records);
  }

  async rotate(user: string, id: string, expectedHash: string, next: RememberedBrowser): Promise<boolean> {
    const records = this.users.get(user);
    const current = records?.get(id);
    if (!records || !current || current.tokenHash !== expectedHash) return false;
    records.set(id, next);
    return true;
  }

  async remove(user: string, id: string): Promise<boolean> {
    return this.users.get(user)?.delete(id) ?? false;
  }

  async removeAll(user: string): Promise<number> {
    const n = this.users.get(user)?.size ?? 0;
    this.users.delete(user);
    return n;
  }

  async passwordFingerprint(user: string): Promise<string | null> {
    return this.fingerprints.get(user) ?? null;
  }

  async setPasswordFingerprint(user: string, fingerprint: string): Promise<void> {
    this.fingerprints.set(user, fingerprint);
  }
}
