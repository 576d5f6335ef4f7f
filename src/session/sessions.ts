import { unsealData } from 'iron-session';
import { LRUCache } from 'lru-cache';
import { entriesAtMost } from '../store/bounded-cache.ts';
import { sealSession } from './seal.ts';
import type { Clock } from '../core/clock.ts';
import type { Random } from '../core/random.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import type { SessionKeys } from './keys.ts';
import type { FactorMethod } from '../store/durable.ts';
import type { StoreEvents } from '../store/events.ts';
import { SessionIndex } from './session-index.ts';
import { GENERATION, namedSession, RECORD, SessionRecordCache, type NamedSession } from './record-cache.ts';

/**
 * Server-side sessions named by a sealed cookie. The cookie only says which record to read; the
 * record decides (so logout, admin revocation and factor changes take effect on the very next
 * request), and unsealing, which costs about a millisecond of CPU, happens once per cookie value
 * thanks to a bounded cache of verified cookies.
 *
 * With several replicas the record lives in Redis, and reading it is a network round trip per
 * request. Given the replicas' event channel, each replica also keeps the records it read for at
 * most `recordCacheMs` (1 s): a replica that changes or ends a session announces it and every
 * other replica drops its copy at once; if that message is lost, the copy still expires within the
 * bound. While the event subscription is down nothing is cached, and the cache starts empty when it
 * is back, so revocation reaches every replica within one second in every case.
 *
 * Parsing the record is cached too, but only by the exact string read: the store is still read (or
 * the record cache above consulted) on every request, and a string that differs by one byte is
 * parsed afresh, so this changes nothing about revocation. A parse hit hands out a shallow copy of
 * the parsed record whose nested objects (factors, upstream cookies, step-ups, origin) are frozen
 * and shared: callers replace them (`session.stepUps = { …}`), never change them in place (their
 * types are read-only; in place, the write would throw).
 */

export interface SessionRecord {
  readonly id: string;
  /** The account's login name (lower-case email). */
  readonly user: string;
  readonly createdAt: number;
  lastSeenAt: number;
  /** When each factor was last verified in this session. */
  readonly factors: { readonly password: number; readonly secondFactor?: number };
  /** The user's session generation when this one was created; a higher current one revokes it. */
  generation: number;
  readonly deviceId?: string;
  /** The 2FA method the user had enrolled when the session was made (kept current on changes). */
  twoFactor: FactorMethod | null;
  /** Step-up verifications of this session: sensitive category → when it was verified. */
  stepUps?: Readonly<Record<string, number>>;
  /** The upstream's session cookies this session released, by name: the only ones forwarded. */
  upstreamCookies: Readonly<Record<string, string>>;
  /**
   * The session's public name (random, not the record id): what "My sessions" and the admin API
   * show and revoke by. It is no bearer secret: it works only within the account's own list.
   */
  readonly handle?: string;
  /** Where the sign-in came from, for "My sessions" (src/session/session-index.ts). */
  readonly origin?: SessionOrigin;
}

/** The browser and address a session was signed in from, and when (kept across session rotation). */
interface SessionOrigin {
  /** The User-Agent header at sign-in (at most 512 characters). */
  readonly userAgent: string;
  /** The client's address as the sidecar decided it (trusted proxies applied). */
  readonly address: string;
  /** When the user signed in (a rotation for a 2FA change keeps it). */
  readonly at: number;
}

export interface SessionOptions {
  readonly idleTimeoutMs: number;
  readonly absoluteLifetimeMs: number;
  /** Verified-cookie cache size (entries). */
  readonly cacheMax?: number;
  /** The replicas' event channel; without it session records are always read from the store. */
  readonly events?: StoreEvents;
  /** Longest time a replica may use a session record it read (default 1000 ms). */
  readonly recordCacheMs?: number;
  /** Told about each cache lookup of a well-formed cookie (metrics). */
  readonly cacheStats?: { hit(): void; miss(): void };
}


const boundPairs = new WeakMap<object, { readonly allowed: ReadonlySet<string>; readonly pairs: string }>();

/**
 * `name=value; …` of a session's bound upstream cookies that `allowed` names, in the record's order.
 * Built once per parsed record (its frozen `upstreamCookies` object is shared by every request that
 * read the same record string); a cookie map that can still change is built afresh every time.
 */
export function boundCookiePairs(cookies: Readonly<Record<string, string>>, allowed: ReadonlySet<string>): string {
  const frozen = Object.isFrozen(cookies);
  if (frozen) {
    const hit = boundPairs.get(cookies);
    if (hit !== undefined && hit.allowed === allowed) return hit.pairs;
  }
  let pairs = '';
  for (const name in cookies) {
    if (!Object.hasOwn(cookies, name) || !allowed.has(name)) continue;
    pairs += `${pairs.length > 0 ? '; ' : ''}${name}=${cookies[name] ?? ''}`;
  }
  if (frozen) boundPairs.set(cookies, { allowed, pairs });
  return pairs;
}

interface SealedContent {
  s?: unknown;
  u?: unknown;
}

/** Writing lastSeenAt on every request would turn every read into a write; this is the granularity. */
const TOUCH_GRANULARITY_MS = 30_000;

export class SessionService {
  private readonly verified: LRUCache<string, NamedSession>;
  private readonly cache: SessionRecordCache;
  /** The account → sessions index behind "My sessions" (written at sign-in, never per request). */
  readonly index: SessionIndex;

  constructor(
    private readonly store: EphemeralStore,
    private readonly keys: SessionKeys,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly options: SessionOptions,
  ) {
    // ttlResolution: lru-cache reads the time at most once a second for this 5-minute bound (at its
    // default of 1 ms it arms a timer per millisecond of traffic, on the hot path).
    this.verified = new LRUCache({ ...entriesAtMost(options.cacheMax ?? 50_000), ttl: 5 * 60_000, ttlResolution: 1_000 });
    this.cache = new SessionRecordCache(store, options);
    this.index = new SessionIndex(store, clock, options, {
      recordKey: RECORD,
      generationKey: GENERATION,
      end: (sid) => this.revoke(sid),
    });
  }

  private sealTtlSeconds(): number {
    return Math.ceil(this.options.absoluteLifetimeMs / 1000) + 60;
  }

  private generationTtl(): number {
    return this.options.absoluteLifetimeMs + 60_000;
  }

  private recordTtl(record: SessionRecord, now: number): number {
    const absoluteLeft = record.createdAt + this.options.absoluteLifetimeMs - now;
    return Math.max(1, Math.min(this.options.idleTimeoutMs, absoluteLeft));
  }

  /** A new session with a new id (never reuse one across privilege changes: THREATS T6). */
  async create(input: {
    user: string;
    factors: SessionRecord['factors'];
    upstreamCookies: Record<string, string>;
    twoFactor: FactorMethod | null;
    deviceId?: string;
    /** The sign-in's browser and address (`at` defaults to now). */
    origin?: { userAgent?: string | undefined; address: string; at?: number };
  }): Promise<{ record: SessionRecord; cookieValue: string }> {
    const now = this.clock.now();
    const id = this.random.bytes(32).toString('base64url');
    // Reading the generation through a 0-increment also extends its life past this session's
    // absolute lifetime, so a later revokeUser always finds the counter this session was born under.
    const generation = await this.store.increment(GENERATION(input.user), 0, this.generationTtl(), 'sliding');
    const record: SessionRecord = {
      id,
      user: input.user,
      createdAt: now,
      lastSeenAt: now,
      factors: input.factors,
      generation,
      upstreamCookies: input.upstreamCookies,
      twoFactor: input.twoFactor,
      ...(input.deviceId !== undefined ? { deviceId: input.deviceId } : {}),
      handle: this.random.bytes(16).toString('base64url'),
      ...(input.origin
        ? { origin: { userAgent: (input.origin.userAgent ?? '').slice(0, 512), address: input.origin.address.slice(0, 64), at: input.origin.at ?? now } }
        : {}),
    };
    await this.store.set(RECORD(id), JSON.stringify(record), this.recordTtl(record, now));
    await this.index.add(record);
    const cookieValue = sealSession({ s: id, u: input.user }, this.keys.passwords, this.sealTtlSeconds(), this.random);
    this.verified.set(cookieValue, namedSession(id, input.user));
    return { record, cookieValue };
  }

  private async verify(cookieValue: string): Promise<NamedSession | null> {
    const cached = this.verified.get(cookieValue);
    if (cached) {
      this.options.cacheStats?.hit();
      return cached;
    }
    if (cookieValue.length > 4096 || !cookieValue.startsWith('Fe26.2*')) return null;
    this.options.cacheStats?.miss();
    let content: SealedContent;
    try {
      content = await unsealData<SealedContent>(cookieValue, { password: this.keys.passwords, ttl: this.sealTtlSeconds() });
    } catch {
      return null;
    }
    if (typeof content.s !== 'string' || typeof content.u !== 'string') return null;
    const verified = namedSession(content.s, content.u);
    this.verified.set(cookieValue, verified);
    return verified;
  }

  /** The live session a cookie names, or null (unknown, expired, idle, revoked). */
  async resolve(cookieValue: string | undefined): Promise<SessionRecord | null> {
    if (!cookieValue) return null;
    const named = await this.verify(cookieValue);
    if (!named) return null;
    const now = this.clock.now();
    const [raw, generation] = await this.cache.read(named, now);
    if (!raw) return null;
    const record = this.cache.parse(named.sid, raw);
    if (!this.isLive(record, named.user, generation, now)) {
      this.cache.forgetParsed(named.sid);
      await this.store.delete(RECORD(named.sid));
      await this.cache.announce(`s:${named.sid}`);
      return null;
    }
    if (this.touchDue(record, now)) {
      record.lastSeenAt = now;
      if (!(await this.save(record))) return null;
    }
    return record;
  }

  /**
   * What resolve() would answer, when that is known without waiting: a cookie verified before, its
   * record in this replica's cache or in a store in this process, live and not due for a touch.
   * undefined otherwise (resolve() then decides, and does the clean-up or the touch).
   */
  resolveKnown(cookieValue: string): SessionRecord | null | undefined {
    const named = this.verified.get(cookieValue);
    if (!named) return undefined;
    const now = this.clock.now();
    const values = this.cache.readKnown(named, now);
    if (values === undefined) return undefined;
    const [raw, generation] = values;
    const record = raw ? this.cache.parse(named.sid, raw) : null;
    if (record && (!this.isLive(record, named.user, generation, now) || this.touchDue(record, now))) return undefined;
    this.options.cacheStats?.hit();
    return record;
  }

  /** The record is the user's, of the current generation, neither idle nor past its lifetime. */
  private isLive(record: SessionRecord, user: string, generation: string | null, now: number): boolean {
    return (
      record.user === user &&
      record.generation >= Number(generation ?? '0') &&
      now - record.lastSeenAt < this.options.idleTimeoutMs &&
      now - record.createdAt < this.options.absoluteLifetimeMs
    );
  }

  /** lastSeenAt is written back at most this often, so reading a session is not a write. */
  private touchDue(record: SessionRecord, now: number): boolean {
    return now - record.lastSeenAt >= Math.min(TOUCH_GRANULARITY_MS, this.options.idleTimeoutMs / 10);
  }

  /** Writes an existing record back; false (and nothing written) when it was revoked meanwhile. */
  async save(record: SessionRecord): Promise<boolean> {
    const now = this.clock.now();
    const saved = await this.store.setIfPresent(RECORD(record.id), JSON.stringify(record), this.recordTtl(record, now));
    await this.cache.announce(`s:${record.id}`);
    return saved;
  }

  async revoke(sid: string): Promise<void> {
    this.cache.forgetParsed(sid);
    await this.store.delete(RECORD(sid));
    await this.cache.announce(`s:${sid}`);
  }

  /**
   * Ends every session of a user by raising the user's generation; `keep` (the session that made a
   * factor change) is carried over to the new generation.
   */
  async revokeUser(user: string, keep?: SessionRecord): Promise<void> {
    const generation = await this.store.increment(GENERATION(user), 1, this.generationTtl(), 'sliding');
    await this.cache.announce(`u:${user}`);
    if (keep) {
      keep.generation = generation;
      await this.save(keep);
    }
  }
}
