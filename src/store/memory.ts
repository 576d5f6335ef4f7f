import { LRUCache } from 'lru-cache';
import { entriesAtMost } from './bounded-cache.ts';
import type { Clock } from '../server/providers.ts';
import type { EphemeralStore, SlotResult } from './ephemeral.ts';

interface Entry {
  value: string;
  expiresAt: number;
}

/**
 * The embedded ephemeral store: a bounded LRU in this process. Expiry follows the injected clock
 * (not lru-cache's own timer), so tests move time by hand. Each call completes synchronously inside
 * one tick, which is what makes its read-modify-write operations atomic.
 */
export class MemoryStore implements EphemeralStore {
  private readonly cache: LRUCache<string, Entry>;

  constructor(private readonly clock: Clock, max = 200_000) {
    this.cache = new LRUCache<string, Entry>(entriesAtMost(max));
  }

  private live(key: string): Entry | undefined {
    const entry = this.cache.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.clock.now()) {
      this.cache.delete(key);
      return undefined;
    }
    return entry;
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async getMany(keys: readonly string[]): Promise<Array<string | null>> {
    return keys.map((key) => this.live(key)?.value ?? null);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.cache.set(key, { value, expiresAt: this.clock.now() + ttlMs });
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.live(key)) return false;
    this.cache.set(key, { value, expiresAt: this.clock.now() + ttlMs });
    return true;
  }

  async setIfPresent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (!this.live(key)) return false;
    this.cache.set(key, { value, expiresAt: this.clock.now() + ttlMs });
    return true;
  }

  async getOrSet(key: string, value: string, ttlMs: number): Promise<string> {
    const current = this.live(key)?.value ?? value;
    this.cache.set(key, { value: current, expiresAt: this.clock.now() + ttlMs });
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
    this.cache.delete(key);
    return existed;
  }

  async compareAndDelete(key: string, expected: string): Promise<boolean> {
    const entry = this.live(key);
    if (!entry || entry.value !== expected) return false;
    this.cache.delete(key);
    return true;
  }

  async increment(key: string, by: number, ttlMs: number, expiry: 'fixed' | 'sliding' = 'fixed'): Promise<number> {
    const entry = this.live(key);
    const current = entry ? Number(entry.value) : 0;
    const next = (Number.isFinite(current) ? current : 0) + by;
    const expiresAt = entry && expiry === 'fixed' ? entry.expiresAt : this.clock.now() + ttlMs;
    this.cache.set(key, { value: String(next), expiresAt });
    return next;
  }

  async takeSlot(key: string, max: number, windowMs: number): Promise<SlotResult> {
    const entry = this.live(key);
    const now = this.clock.now();
    if (!entry) {
      this.cache.set(key, { value: '1', expiresAt: now + windowMs });
      return { ok: true, count: 1 };
    }
    const current = Number(entry.value);
    const banned = entry.value === '' || !Number.isFinite(current);
    if (banned || current >= max) return { ok: false, retryAfterMs: entry.expiresAt - now, banned };
    entry.value = String(current + 1);
    return { ok: true, count: current + 1 };
  }

  /** A map is kept as its JSON object in one entry; every call is synchronous, so each is atomic. */
  private map(key: string): Record<string, string> {
    const raw = this.live(key)?.value;
    if (raw === undefined) return {};
    const parsed = JSON.parse(raw) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, string>) : {};
  }

  async addMember(key: string, member: string, value: string, ttlMs: number): Promise<void> {
    const entry = this.live(key);
    const map = this.map(key);
    map[member] = value;
    const expiresAt = Math.max(entry?.expiresAt ?? 0, this.clock.now() + ttlMs);
    this.cache.set(key, { value: JSON.stringify(map), expiresAt });
  }

  async members(key: string): Promise<Record<string, string>> {
    return this.map(key);
  }

  async removeMember(key: string, member: string): Promise<boolean> {
    const entry = this.live(key);
    if (!entry) return false;
    const map = this.map(key);
    if (!Object.hasOwn(map, member)) return false;
    delete map[member];
    if (Object.keys(map).length === 0) this.cache.delete(key);
    else entry.value = JSON.stringify(map);
    return true;
  }

  async ttl(key: string): Promise<number | null> {
    const entry = this.live(key);
    return entry ? entry.expiresAt - this.clock.now() : null;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.cache.clear();
  }
}
