import { LRUCache } from 'lru-cache';
import { entriesAtMost } from './bounded-cache.ts';
import type { Clock } from '../core/clock.ts';
import type { EphemeralStore, SlotResult } from './ephemeral.ts';

interface Entry {
  value: string;
  expiresAt: number;
}

/**
 * A map (addMember/members/removeMember) kept as a Map, so adding a member costs O(1) rather than
 * a parse and a re-serialisation of the whole map (an account's session index grows with its
 * sessions). `value` is the map's JSON object, as a plain entry of a map holds, built when read.
 */
class MapEntry implements Entry {
  private json: string | undefined;
  /** A string written over the map by a non-map operation: the entry is that string from then on. */
  overwritten: string | undefined;

  constructor(
    readonly members: Map<string, string>,
    public expiresAt: number,
  ) {}

  get value(): string {
    if (this.overwritten !== undefined) return this.overwritten;
    this.json ??= JSON.stringify(Object.fromEntries(this.members));
    return this.json;
  }

  set value(value: string) {
    this.overwritten = value;
  }

  changed(): void {
    this.json = undefined;
  }
}

/** What a forgotten key holds (read as absent) until it is dropped (MemoryStore.forget). */
const GONE: Entry = Object.freeze({ value: '', expiresAt: Number.NEGATIVE_INFINITY });

/** Forgotten keys are dropped this many at a time. */
const DROP_EVERY = 1024;

/**
 * The embedded ephemeral store: a bounded LRU in this process. Expiry follows the injected clock
 * (not lru-cache's own timer), so tests move time by hand. Each call completes synchronously inside
 * one tick, which is what makes its read-modify-write operations atomic.
 */
export class MemoryStore implements EphemeralStore {
  private readonly cache: LRUCache<string, Entry>;
  /** Keys set to GONE since they were last dropped (a key may be listed more than once). */
  private forgotten: string[] = [];

  constructor(private readonly clock: Clock, max = 200_000) {
    this.cache = new LRUCache<string, Entry>(entriesAtMost(max));
  }

  private live(key: string): Entry | undefined {
    const entry = this.cache.get(key);
    if (entry === undefined || entry === GONE) return undefined;
    if (entry.expiresAt <= this.clock.now()) {
      this.forget(key);
      return undefined;
    }
    return entry;
  }

  /**
   * Ends a key that is in the store. A key deleted from a large JavaScript Map and set again leaves
   * a dead entry in its hash chain until the table is next rebuilt, and every later look-up of that
   * key walks them all: an account's failure count, deleted and set again at each of its sign-ins,
   * came to cost 10–20 µs per operation in a store of 30,000 sessions. So the key keeps its place
   * and holds GONE (read as absent), and forgotten keys are dropped a batch at a time: a key
   * forgotten at every use leaves one dead entry per batch, not one per use.
   */
  private forget(key: string): void {
    this.cache.set(key, GONE);
    this.forgotten.push(key);
    if (this.forgotten.length >= DROP_EVERY) this.dropForgotten(Number.POSITIVE_INFINITY);
  }

  /** Drops up to `count` keys that still hold GONE. */
  private dropForgotten(count: number): void {
    let dropped = 0;
    while (dropped < count) {
      const key = this.forgotten.pop();
      if (key === undefined) return;
      if (this.cache.peek(key) !== GONE) continue;
      this.cache.delete(key);
      dropped++;
    }
  }

  /** Stores an entry; a new key in a full store takes the room of a forgotten one before a live one is evicted. */
  private put(key: string, entry: Entry): void {
    if (this.forgotten.length > 0 && this.cache.calculatedSize >= this.cache.maxSize && this.cache.peek(key) === undefined) this.dropForgotten(1);
    this.cache.set(key, entry);
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async getMany(keys: readonly string[]): Promise<Array<string | null>> {
    return this.peekMany(keys);
  }

  peekMany(keys: readonly string[]): Array<string | null> {
    return keys.map((key) => this.live(key)?.value ?? null);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.put(key, { value, expiresAt: this.clock.now() + ttlMs });
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.live(key)) return false;
    this.put(key, { value, expiresAt: this.clock.now() + ttlMs });
    return true;
  }

  async setIfPresent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (!this.live(key)) return false;
    this.put(key, { value, expiresAt: this.clock.now() + ttlMs });
    return true;
  }

  async getOrSet(key: string, value: string, ttlMs: number): Promise<string> {
    const current = this.live(key)?.value ?? value;
    this.put(key, { value: current, expiresAt: this.clock.now() + ttlMs });
    return current;
  }

  async decrementIfPresent(key: string): Promise<number> {
    const entry = this.live(key);
    if (!entry) return 0;
    const current = Number(entry.value);
    if (!Number.isFinite(current) || current <= 0) return Number.isFinite(current) ? current : 0;
    entry.value = String(current - 1);
    return current - 1;
  }

  async delete(key: string): Promise<boolean> {
    const existed = this.live(key) !== undefined;
    if (existed) this.forget(key);
    return existed;
  }

  async compareAndDelete(key: string, expected: string): Promise<boolean> {
    const entry = this.live(key);
    if (!entry || entry.value !== expected) return false;
    this.forget(key);
    return true;
  }

  async increment(key: string, by: number, ttlMs: number, expiry: 'fixed' | 'sliding' = 'fixed'): Promise<number> {
    const entry = this.live(key);
    const current = entry ? Number(entry.value) : 0;
    const next = (Number.isFinite(current) ? current : 0) + by;
    const expiresAt = entry && expiry === 'fixed' ? entry.expiresAt : this.clock.now() + ttlMs;
    this.put(key, { value: String(next), expiresAt });
    return next;
  }

  async takeSlot(key: string, max: number, windowMs: number): Promise<SlotResult> {
    const entry = this.live(key);
    const now = this.clock.now();
    if (!entry) {
      this.put(key, { value: '1', expiresAt: now + windowMs });
      return { ok: true, count: 1 };
    }
    const current = Number(entry.value);
    const banned = entry.value === '' || !Number.isFinite(current);
    if (banned || current >= max) return { ok: false, retryAfterMs: entry.expiresAt - now, banned };
    entry.value = String(current + 1);
    return { ok: true, count: current + 1 };
  }

  /** A map is kept in one entry (its JSON object when read as a string); every call is synchronous, so each is atomic. */
  private map(key: string, keep = true): MapEntry | undefined {
    const entry = this.live(key);
    if (entry === undefined) return undefined;
    if (entry instanceof MapEntry && entry.overwritten === undefined) return entry;
    // A string entry (not written by the map operations): read as its JSON object, kept as a map
    // only by a call that writes the map.
    const parsed = JSON.parse(entry.value) as unknown;
    const members = new Map<string, string>(
      typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? Object.entries(parsed as Record<string, string>) : [],
    );
    const converted = new MapEntry(members, entry.expiresAt);
    if (keep) this.put(key, converted);
    return converted;
  }

  async addMember(key: string, member: string, value: string, ttlMs: number): Promise<number> {
    const entry = this.map(key) ?? new MapEntry(new Map(), 0);
    entry.members.set(member, value);
    entry.changed();
    entry.expiresAt = Math.max(entry.expiresAt, this.clock.now() + ttlMs);
    this.put(key, entry);
    return entry.members.size;
  }

  async members(key: string): Promise<Record<string, string>> {
    const entry = this.map(key, false);
    return entry === undefined ? {} : Object.fromEntries(entry.members);
  }

  async removeMember(key: string, member: string): Promise<boolean> {
    const entry = this.map(key, false);
    if (!entry || !entry.members.delete(member)) return false;
    entry.changed();
    if (entry.members.size === 0) this.forget(key);
    else if (this.cache.peek(key) !== entry) this.put(key, entry);
    return true;
  }

  async ttl(key: string): Promise<number | null> {
    const entry = this.live(key);
    return entry ? entry.expiresAt - this.clock.now() : null;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.forgotten = [];
    this.cache.clear();
  }
}
