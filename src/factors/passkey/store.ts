/**
 * Passkeys (WebAuthn credentials) of the accounts: durable records, several per account, kept
 * beside the enrollment rather than inside it (see the README, "Passkeys"). An account "has
 * passkeys" when this store lists at least one for it; the 2FA enrollment (totp/sms/email with its
 * recovery codes) stays the account's base method, and passkeys are added on top of it.
 *
 * Backends: memory (tests), SQLite (the embedded file, src/factors/passkey/sqlite-store.ts) and
 * Redis (src/factors/passkey/redis-store.ts); all pass test/helpers/passkey-store-contract.ts.
 * `use` is one atomic step in every backend: the signature counter only moves forward, so of two
 * assertions racing with the same counter value only one is accepted (clone detection, W3C
 * WebAuthn §6.1.1).
 */

export type PasskeyTransport = 'ble' | 'cable' | 'hybrid' | 'internal' | 'nfc' | 'smart-card' | 'usb';

export interface PasskeyCredential {
  /** Lower-case account name (the login name), as enrollments use it. */
  readonly user: string;
  /** The credential id, base64url (as the authenticator made it). Unique per account. */
  readonly id: string;
  /** The COSE public key, base64url. Public: no secret is stored for a passkey. */
  readonly publicKey: string;
  /** The signature counter last seen (0: the authenticator keeps none). */
  readonly counter: number;
  readonly transports: readonly PasskeyTransport[];
  /** The person's name for it ("YubiKey on my keyring"); at most 64 characters. */
  readonly name: string;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
}

/** What `use` found: accepted, a counter that did not move forward, or no such credential. */
export type PasskeyUse = 'ok' | 'counter_not_increased' | 'missing';

export interface PasskeyStore {
  /** The account's passkeys, oldest first (ties by id). */
  list(user: string): Promise<PasskeyCredential[]>;
  get(user: string, id: string): Promise<PasskeyCredential | null>;
  /** Adds a credential; false (nothing written) when the account already has one with this id. */
  add(credential: PasskeyCredential): Promise<boolean>;
  /** Removes one; false when the account has none with this id. */
  remove(user: string, id: string): Promise<boolean>;
  /** Removes every passkey of the account (2FA turned off, support reset); returns how many. */
  removeAll(user: string): Promise<number>;
  /**
   * Records a verified assertion atomically: the counter becomes `counter` and `lastUsedAt` becomes
   * `now` only when `counter` is greater than the stored one, or both are 0 (an authenticator
   * without a counter). Otherwise nothing changes and the answer is 'counter_not_increased'.
   */
  use(user: string, id: string, counter: number, now: number): Promise<PasskeyUse>;
}

/** What a PasskeyStore holds for one account, for `store migrate` and `store backup` (src/cli/store-migrate.ts). */
export interface PasskeyUserRecords {
  readonly user: string;
  /** Oldest first, as `list` returns them. */
  readonly passkeys: readonly PasskeyCredential[];
}

export const PASSKEY_TRANSPORTS: readonly PasskeyTransport[] = ['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'];
export const PASSKEY_NAME_MAX = 64;

/** The rule of `use`, the same in every backend. */
function counterAccepted(stored: number, presented: number): boolean {
  if (stored === 0 && presented === 0) return true;
  return presented > stored;
}

export function byAge(a: PasskeyCredential, b: PasskeyCredential): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** In memory (tests, and a durable store handed in by a test). */
export class MemoryPasskeyStore implements PasskeyStore {
  private readonly byUser = new Map<string, Map<string, PasskeyCredential>>();

  async list(user: string): Promise<PasskeyCredential[]> {
    return [...(this.byUser.get(user)?.values() ?? [])].sort(byAge);
  }

  async get(user: string, id: string): Promise<PasskeyCredential | null> {
    return this.byUser.get(user)?.get(id) ?? null;
  }

  async add(credential: PasskeyCredential): Promise<boolean> {
    const keys = this.byUser.get(credential.user) ?? new Map<string, PasskeyCredential>();
    if (keys.has(credential.id)) return false;
    keys.set(credential.id, { ...credential, transports: [...credential.transports] });
    this.byUser.set(credential.user, keys);
    return true;
  }

  async remove(user: string, id: string): Promise<boolean> {
    const keys = this.byUser.get(user);
    const removed = keys?.delete(id) ?? false;
    if (keys && keys.size === 0) this.byUser.delete(user);
    return removed;
  }

  async removeAll(user: string): Promise<number> {
    const n = this.byUser.get(user)?.size ?? 0;
    this.byUser.delete(user);
    return n;
  }

  async use(user: string, id: string, counter: number, now: number): Promise<PasskeyUse> {
    const keys = this.byUser.get(user);
    const found = keys?.get(id);
    if (!keys || !found) return 'missing';
    if (!counterAccepted(found.counter, counter)) return 'counter_not_increased';
    keys.set(id, { ...found, counter, lastUsedAt: now });
    return 'ok';
  }
}
