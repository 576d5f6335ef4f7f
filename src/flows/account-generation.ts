import { createHash } from 'node:crypto';
import type { Random } from '../core/random.ts';
import type { Enrollment } from '../store/durable.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';

/**
 * An account's generation (THREATS T18): a random token in the ephemeral store that every pending
 * sign-in, 2FA flow and step-up records when it starts, and that every change of the account's
 * factors, destination or lock state replaces. A flow whose token is no longer the current one was
 * decided on a state that is gone, so it ends and the person starts again from the current state.
 * The store is shared by every replica, so a change made on one ends the flows on all of them.
 *
 * Random tokens rather than a counter: a generation that is lost (expired, evicted from the
 * embedded store's LRU, Redis flushed) comes back as a new token, which ends the flows that
 * recorded the old one, where a counter restarting at 0 could match an old flow again.
 *
 * Alongside it each flow records `factorState` of the enrollment it was decided on. The durable
 * store is shared even where the ephemeral one is not (the CLI beside a service on the embedded
 * store), so a reset or new destination made from there still ends the flows that relied on the
 * old factor.
 */

/** Longer than any flow lives (sign-ins and flows: minutes), refreshed whenever a flow starts. */
export const GENERATION_TTL_MS = 24 * 3_600_000;

const KEY = (user: string): string => `agen:${user}`;

export class AccountGenerations {
  constructor(
    private readonly store: EphemeralStore,
    private readonly random: Random,
  ) {}

  private token(): string {
    return this.random.bytes(16).toString('base64url');
  }

  /** The current generation, for a flow that starts now. */
  current(user: string): Promise<string> {
    return this.store.getOrSet(KEY(user), this.token(), GENERATION_TTL_MS);
  }

  /** Whether `generation` is still the account's; a missing generation is not (fail closed). */
  async isCurrent(user: string, generation: unknown): Promise<boolean> {
    if (typeof generation !== 'string' || generation.length === 0) return false;
    return (await this.store.get(KEY(user))) === generation;
  }

  /** Ends every flow of the account that started before now, on every replica. */
  async bump(user: string): Promise<void> {
    await this.store.set(KEY(user), this.token(), GENERATION_TTL_MS);
  }
}

/** A digest of what an enrollment makes a flow do (method, destination, secret, when it changed); null without 2FA. */
export function factorState(enrollment: Enrollment | null): string | null {
  if (!enrollment) return null;
  return createHash('sha256')
    .update(JSON.stringify([enrollment.method, enrollment.destination, enrollment.totp?.secret.data ?? null, enrollment.createdAt, enrollment.updatedAt]))
    .digest('base64url');
}
