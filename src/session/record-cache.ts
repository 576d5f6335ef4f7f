import { LRUCache } from 'lru-cache';
import { entriesAtMost } from '../store/bounded-cache.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import type { SessionOptions, SessionRecord } from './sessions.ts';

interface Cached<T> {
  readonly value: T;
  readonly at: number;
}

const EVENTS_CHANNEL = 'sessions';

/** A parsed record (nested objects frozen; the top level is only ever handed out as a copy). */
interface Parsed {
  readonly raw: string;
  readonly record: SessionRecord;
}

function freezeNested(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key];
    if (typeof child === 'object' && child !== null) {
      freezeNested(child);
      Object.freeze(child);
    }
  }
}

export const RECORD = (sid: string): string => `sess:${sid}`;
export const GENERATION = (user: string): string => `ugen:${user}`;

/**
 * The session a verified cookie names, with its two store keys built once: every request reads
 * them, and a string made afresh per request would be hashed afresh for each lookup.
 */
export interface NamedSession {
  readonly sid: string;
  readonly user: string;
  /** [RECORD(sid), GENERATION(user)] */
  readonly keys: readonly [string, string];
}

export function namedSession(sid: string, user: string): NamedSession {
  return { sid, user, keys: [RECORD(sid), GENERATION(user)] };
}

/**
 * This replica's copies of session records (at most `recordCacheMs` old, dropped at once when another
 * replica announces a change) and of their parsed form (keyed by the exact string read).
 */
export class SessionRecordCache {
  private readonly records: LRUCache<string, Cached<string>>;
  private readonly generations: LRUCache<string, Cached<string | null>>;
  /** Session id → the record last parsed for it and the exact string it came from. */
  private readonly parsed: LRUCache<string, Parsed>;
  private readonly recordCacheMs: number;
  private cacheLive = false;
  /** Bumped by every invalidation, so a read that raced with one is not cached. */
  private epoch = 0;

  constructor(
    private readonly store: EphemeralStore,
    private readonly options: SessionOptions,
  ) {
    const bound = entriesAtMost(options.cacheMax ?? 50_000);
    this.records = new LRUCache(bound);
    this.generations = new LRUCache(bound);
    this.parsed = new LRUCache(bound);
    this.recordCacheMs = options.recordCacheMs ?? 1000;
    options.events?.subscribe(
      EVENTS_CHANNEL,
      (message) => this.invalidate(message),
      (live) => {
        this.dropCaches();
        this.cacheLive = live;
      },
    );
  }

  private dropCaches(): void {
    this.epoch++;
    this.records.clear();
    this.generations.clear();
  }

  /** `s:<sid>` (one session changed or ended) or `u:<user>` (every session of the user ended). */
  private invalidate(message: string): void {
    this.epoch++;
    if (message.startsWith('s:')) this.records.delete(message.slice(2));
    else if (message.startsWith('u:')) this.generations.delete(message.slice(2));
    else this.dropCaches();
  }

  /** Drops the local copy and tells the other replicas; a lost message is covered by the time bound. */
  async announce(message: string): Promise<void> {
    this.invalidate(message);
    if (!this.options.events) return;
    try {
      await this.options.events.publish(EVENTS_CHANNEL, message);
    } catch {
      // The store write before this already succeeded or failed on its own; the other replicas'
      // copies expire within recordCacheMs.
    }
  }

  /** This replica's copies of the record and the generation, when both are fresh enough to answer. */
  private freshCopy(sid: string, user: string, now: number): [string | null, string | null] | undefined {
    if (!this.cacheLive) return undefined;
    const record = this.records.get(sid);
    const generation = this.generations.get(user);
    if (record && generation && now - record.at < this.recordCacheMs && now - generation.at < this.recordCacheMs) {
      return [record.value, generation.value];
    }
    return undefined;
  }

  /** The record and the user's generation: from this replica's cache when fresh, else from the store. */
  async read(named: NamedSession, now: number): Promise<[string | null, string | null]> {
    const { sid, user } = named;
    const copy = this.freshCopy(sid, user, now);
    if (copy) return copy;
    const epoch = this.epoch;
    let values: Array<string | null>;
    try {
      values = await this.store.getMany(named.keys);
    } catch (error) {
      this.dropCaches();
      throw error;
    }
    const [raw = null, generation = null] = values;
    if (this.cacheLive && raw !== null && epoch === this.epoch) {
      this.records.set(sid, { value: raw, at: now });
      this.generations.set(user, { value: generation, at: now });
    }
    return [raw, generation];
  }

  /**
   * What read() would answer when it needs no waiting: this replica's fresh copies, or a store that
   * answers at once (the memory store); undefined when only read() can tell.
   */
  readKnown(named: NamedSession, now: number): [string | null, string | null] | undefined {
    const copy = this.freshCopy(named.sid, named.user, now);
    if (copy) return copy;
    const values = this.store.peekMany?.(named.keys);
    return values === undefined ? undefined : [values[0] ?? null, values[1] ?? null];
  }

  /** The record a string holds: parsed once per distinct string, handed out as a fresh top-level copy. */
  parse(sid: string, raw: string): SessionRecord {
    const hit = this.parsed.get(sid);
    if (hit !== undefined && hit.raw === raw) return { ...hit.record };
    const record = JSON.parse(raw) as SessionRecord;
    freezeNested(record);
    this.parsed.set(sid, { raw, record });
    return { ...record };
  }

  /** Forgets the parsed form of a session that ended or whose record is no longer valid. */
  forgetParsed(sid: string): void {
    this.parsed.delete(sid);
  }
}
