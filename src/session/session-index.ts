import { LRUCache } from 'lru-cache';
import type { Clock } from '../core/clock.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import type { SessionRecord } from './sessions.ts';

/**
 * The account → sessions index behind "My sessions" (Login & Security) and the admin API's session
 * list. Sessions are still revoked all at once by the account's generation (sessions.ts); this index
 * is what lets one session be named and ended on its own.
 *
 * It is one small map per account in the ephemeral store (`usess:<user>`: public handle → record id
 * and absolute expiry), written once when a session is made and never on the request path: the
 * list reads the session records themselves (one MGET), so what it shows (last seen, within the
 * 30 s touch granularity) is what the records say, and a session that ended any way at all (sign-out,
 * idle, lifetime, revocation by generation) drops out of the list, and out of the map, when next
 * listed. The map lives as long as the longest-lived session added to it.
 *
 * The handle is a separate random value, not the record id: it is shown to the browser and to
 * support, and it is only ever looked up in the map of the account asking (a user's own, or the one
 * support names), so a handle from another account matches nothing. It is not a cookie either: a
 * session cookie is a sealed {record id, user} the browser never sees the parts of.
 */

interface SessionIndexOptions {
  readonly idleTimeoutMs: number;
  readonly absoluteLifetimeMs: number;
}

interface SessionIndexKeys {
  readonly recordKey: (sid: string) => string;
  readonly generationKey: (user: string) => string;
  /** Ends one session: record deleted and the replicas told (SessionService.revoke). */
  readonly end: (sid: string) => Promise<void>;
}

interface Entry {
  /** The record id. */
  readonly s: string;
  /** When the session reaches its absolute lifetime. */
  readonly e: number;
}

const INDEX = (user: string): string => `usess:${user}`;
/** Handles are 16 random bytes in base64url; anything else names no session. */
const HANDLE = /^[A-Za-z0-9_-]{22}$/;
/**
 * Past this many entries beyond the live sessions the last pruning found (or beyond twice as many,
 * if that is more), a sign-in first drops the entries of sessions that have ended. The slack grows
 * with the live count so that an account with hundreds of live sessions is not scanned in full at
 * every sign-in (that made each sign-in cost O(sessions)); with few live sessions it is 16 ended
 * entries, as before.
 */
const PRUNE_ABOVE = 16;

export const isHandle = (value: unknown): value is string => typeof value === 'string' && HANDLE.test(value);

export class SessionIndex {
  constructor(
    private readonly store: EphemeralStore,
    private readonly clock: Clock,
    private readonly options: SessionIndexOptions,
    private readonly keys: SessionIndexKeys,
  ) {}

  /** Account → live sessions found by the last pruning on this replica (housekeeping only). */
  private readonly liveAtPrune = new LRUCache<string, number>({ max: 10_000 });

  /** Adds a new session (at creation only). */
  async add(record: SessionRecord): Promise<void> {
    if (record.handle === undefined) return;
    const entry: Entry = { s: record.id, e: record.createdAt + this.options.absoluteLifetimeMs };
    const count = await this.store.addMember(INDEX(record.user), record.handle, JSON.stringify(entry), this.options.absoluteLifetimeMs + 60_000);
    const live = this.liveAtPrune.get(record.user) ?? 0;
    if (count > live + Math.max(PRUNE_ABOVE, live)) this.liveAtPrune.set(record.user, (await this.list(record.user)).length);
  }

  /** Whether a record is a live session of `user` under the account's current generation. */
  private alive(record: SessionRecord, user: string, generation: number, now: number): boolean {
    return (
      record.user === user &&
      record.generation >= generation &&
      now - record.lastSeenAt < this.options.idleTimeoutMs &&
      now - record.createdAt < this.options.absoluteLifetimeMs
    );
  }

  /** The account's live sessions, most recently seen first; ended ones are dropped from the map. */
  async list(user: string): Promise<SessionRecord[]> {
    const members = Object.entries(await this.store.members(INDEX(user)));
    if (members.length === 0) return [];
    const now = this.clock.now();
    const entries = members.map(([handle, raw]) => ({ handle, entry: parseEntry(raw) }));
    const values = await this.store.getMany([...entries.map(({ entry }) => this.keys.recordKey(entry?.s ?? '-')), this.keys.generationKey(user)]);
    const generation = Number(values[entries.length] ?? '0');
    const live: SessionRecord[] = [];
    const ended: string[] = [];
    entries.forEach(({ handle, entry }, i) => {
      const raw = values[i];
      const record = entry && raw ? parseRecord(raw) : null;
      if (entry && entry.e > now && record && record.handle === handle && this.alive(record, user, generation, now)) live.push(record);
      else ended.push(handle);
    });
    for (const handle of ended) await this.store.removeMember(INDEX(user), handle);
    return live.sort((a, b) => b.lastSeenAt - a.lastSeenAt || b.createdAt - a.createdAt);
  }

  /** The live session of `user` with this handle, or null (unknown, ended, another account's). */
  async find(user: string, handle: unknown): Promise<SessionRecord | null> {
    if (!isHandle(handle)) return null;
    const raw = (await this.store.members(INDEX(user)))[handle];
    const entry = raw === undefined ? null : parseEntry(raw);
    if (!entry) return null;
    const [value = null, generation = null] = await this.store.getMany([this.keys.recordKey(entry.s), this.keys.generationKey(user)]);
    const record = value === null ? null : parseRecord(value);
    const now = this.clock.now();
    if (!record || record.handle !== handle || entry.e <= now || !this.alive(record, user, Number(generation ?? '0'), now)) {
      await this.store.removeMember(INDEX(user), handle);
      return null;
    }
    return record;
  }

  /**
   * Ends the session of `user` with this handle on every replica (its record is deleted and the
   * replicas drop their copies, as for a sign-out). Returns the ended record (its upstream cookies
   * are what the app's logout is replayed with), or null when there was no such live session.
   */
  async end(user: string, handle: unknown): Promise<SessionRecord | null> {
    const record = await this.find(user, handle);
    if (!record || record.handle === undefined) return null;
    await this.keys.end(record.id);
    await this.store.removeMember(INDEX(user), record.handle);
    return record;
  }
}

function parseEntry(raw: string): Entry | null {
  try {
    const value = JSON.parse(raw) as Partial<Entry>;
    return typeof value.s === 'string' && typeof value.e === 'number' ? { s: value.s, e: value.e } : null;
  } catch {
    return null;
  }
}

function parseRecord(raw: string): SessionRecord | null {
  try {
    return JSON.parse(raw) as SessionRecord;
  } catch {
    return null;
  }
}
