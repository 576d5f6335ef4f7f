import { sealData, unsealData } from 'iron-session';
import { LRUCache } from 'lru-cache';
import type { Clock, Random } from '../server/providers.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import type { SessionKeys } from './keys.ts';
import type { FactorMethod } from '../store/durable.ts';

/**
 * Server-side sessions named by a sealed cookie. The cookie only says which record to read; the
 * record decides (so logout, admin revocation and factor changes take effect on the very next
 * request), and unsealing, which costs about a millisecond of CPU, happens once per cookie value
 * thanks to a bounded cache of verified cookies.
 */

export interface SessionRecord {
  readonly id: string;
  /** The account's login name (lower-case email). */
  readonly user: string;
  readonly createdAt: number;
  lastSeenAt: number;
  /** When each factor was last verified in this session. */
  readonly factors: { readonly password: number; secondFactor?: number };
  /** The user's session generation when this one was created; a higher current one revokes it. */
  generation: number;
  readonly deviceId?: string;
  /** The 2FA method the user had enrolled when the session was made (kept current on changes). */
  twoFactor: FactorMethod | null;
  /** Step-up verifications of this session: sensitive category → when it was verified. */
  stepUps?: Record<string, number>;
  /** The upstream's session cookies this session released, by name: the only ones forwarded. */
  upstreamCookies: Record<string, string>;
}

export interface SessionOptions {
  readonly idleTimeoutMs: number;
  readonly absoluteLifetimeMs: number;
  /** Verified-cookie cache size (entries). */
  readonly cacheMax?: number;
  /** Told about each cache lookup of a well-formed cookie (metrics). */
  readonly cacheStats?: { hit(): void; miss(): void };
}

interface SealedContent {
  s?: unknown;
  u?: unknown;
}

const RECORD = (sid: string): string => `sess:${sid}`;
const GENERATION = (user: string): string => `ugen:${user}`;
/** Writing lastSeenAt on every request would turn every read into a write; this is the granularity. */
const TOUCH_GRANULARITY_MS = 30_000;

export class SessionService {
  private readonly verified: LRUCache<string, { sid: string; user: string }>;

  constructor(
    private readonly store: EphemeralStore,
    private readonly keys: SessionKeys,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly options: SessionOptions,
  ) {
    this.verified = new LRUCache({ max: options.cacheMax ?? 50_000, ttl: 5 * 60_000 });
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
    };
    await this.store.set(RECORD(id), JSON.stringify(record), this.recordTtl(record, now));
    const cookieValue = await sealData({ s: id, u: input.user }, { password: this.keys.passwords, ttl: this.sealTtlSeconds() });
    this.verified.set(cookieValue, { sid: id, user: input.user });
    return { record, cookieValue };
  }

  private async verify(cookieValue: string): Promise<{ sid: string; user: string } | null> {
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
    const verified = { sid: content.s, user: content.u };
    this.verified.set(cookieValue, verified);
    return verified;
  }

  /** The live session a cookie names, or null (unknown, expired, idle, revoked). */
  async resolve(cookieValue: string | undefined): Promise<SessionRecord | null> {
    if (!cookieValue) return null;
    const named = await this.verify(cookieValue);
    if (!named) return null;
    const [raw, generation] = await this.store.getMany([RECORD(named.sid), GENERATION(named.user)]);
    if (!raw) return null;
    const record = JSON.parse(raw) as SessionRecord;
    const now = this.clock.now();
    if (
      record.user !== named.user ||
      record.generation < Number(generation ?? '0') ||
      now - record.lastSeenAt >= this.options.idleTimeoutMs ||
      now - record.createdAt >= this.options.absoluteLifetimeMs
    ) {
      await this.store.delete(RECORD(named.sid));
      return null;
    }
    if (now - record.lastSeenAt >= Math.min(TOUCH_GRANULARITY_MS, this.options.idleTimeoutMs / 10)) {
      record.lastSeenAt = now;
      if (!(await this.save(record))) return null;
    }
    return record;
  }

  /** Writes an existing record back; false (and nothing written) when it was revoked meanwhile. */
  async save(record: SessionRecord): Promise<boolean> {
    const now = this.clock.now();
    return this.store.setIfPresent(RECORD(record.id), JSON.stringify(record), this.recordTtl(record, now));
  }

  async revoke(sid: string): Promise<void> {
    await this.store.delete(RECORD(sid));
  }

  /**
   * Ends every session of a user by raising the user's generation; `keep` (the session that made a
   * factor change) is carried over to the new generation.
   */
  async revokeUser(user: string, keep?: SessionRecord): Promise<void> {
    const generation = await this.store.increment(GENERATION(user), 1, this.generationTtl(), 'sliding');
    if (keep) {
      keep.generation = generation;
      await this.save(keep);
    }
  }
}
