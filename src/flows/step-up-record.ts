import { refusal, type DomainError } from '../core/errors.ts';
import { createHash } from 'node:crypto';
import { type AuditRecorder } from '../audit/audit.ts';
import type { Logger } from '../observability/logger.ts';
import type { Clock } from '../core/clock.ts';
import type { SessionRecord, SessionService } from '../session/sessions.ts';
import type { DurableStore, FactorMethod } from '../store/durable.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import type { SensitiveSpec } from '../policy/types.ts';
import { type SecondFactor } from './second-factor.ts';
import { type Actor } from './two-factor-settings.ts';
import type { Contacts } from '../directory/index.ts';
import { factorState, type AccountGenerations } from './account-generation.ts';
import type { PasskeyCeremonies } from '../factors/passkey/ceremony.ts';

/**
 * The step-up a session owes (flows/step-up.ts): what a sensitive rule asked for, decided from the
 * account as it is, kept per session, and decided again when the account changed meanwhile
 * (THREATS T18), with the code key bound to that decision.
 */

export interface StepUpRecord {
  readonly category: string;
  /** phishing_resistant: only a passkey answers it (README, Passkeys). */
  readonly action: 'email_code' | 'fresh_code' | 'phishing_resistant';
  readonly method: FactorMethod;
  readonly destination: string | null;
  readonly freshForMs: number;
  /** Invite the user to enable 2FA afterwards (rule asks for it and the user has no 2FA). */
  readonly nudge: boolean;
  readonly returnTo: string;
  /** The rule's own words for the operation (its `description`), shown on the step-up page. */
  readonly description?: SensitiveSpec['description'];
  /** The page the person was on when the operation was asked for (a same-origin path), for "back" links. */
  readonly from?: string;
  /** The operation's method: a GET is continued after the step-up, anything else is asked again. */
  readonly retry?: 'get' | 'other';
  /** What the rule asked for (`action` falls back to an email code without 2FA). */
  readonly requested?: 'email_code' | 'fresh_code' | 'phishing_resistant';
  /** The account's generation and `factorState` this record was decided on (THREATS T18). */
  readonly generation?: string;
  readonly factors?: string | null;
}

export const RECORD = (sid: string): string => `stepup:${sid}`;
/** The session's step-up time of a category by a passkey (category names have no ':'). */
export const passkeyStepUpKey = (category: string): string => `${category}:passkey`;
export const phishingResistantRequired = (): DomainError =>
  refusal('phishing_resistant_required');
const RECORD_TTL_MS = 15 * 60_000;
export const SNOOZE = (user: string): string => `nudge-snooze:${user}`;
/** The last step-up of a session, for its result page (the page reads it, never its URL). */
export const RESULT = (sid: string): string => `stepup-result:${sid}`;
export const RESULT_TTL_MS = 15 * 60_000;

/** What the result page of a finished step-up shows. */
export interface StepUpResult {
  readonly returnTo: string;
  readonly from: string | null;
  readonly retry: 'get' | 'other';
  readonly nudge: boolean;
  readonly freshForMs: number;
  /** The rule's own words for the operation, when it has them. */
  readonly description?: SensitiveSpec['description'];
}

export interface StepUpVerified {
  status: 'verified';
  valid_until: string;
  category: string;
  nudge_enable_2fa: boolean;
  return_to: string;
  from: string | null;
  retry: 'get' | 'other';
  fresh_for_ms: number;
}

export interface StepUpDeps {
  readonly store: EphemeralStore;
  readonly generations: AccountGenerations;
  readonly sessions: SessionService;
  readonly durable: DurableStore;
  readonly factor: SecondFactor;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly audit: AuditRecorder;
  readonly nudgeSnoozeMs: number;
  /** Where the account's email address comes from (the directory). */
  readonly contacts?: Contacts;
  /** Passkeys: a step-up that asks for a fresh factor may be answered with one. */
  readonly passkeys?: PasskeyCeremonies | undefined;
}

export class StepUpRecords {
  constructor(protected readonly deps: StepUpDeps) {}

  /** Called by the enforcement point when a rule requires a step-up; returns the method to ask for. */
  async require(
    session: SessionRecord,
    spec: SensitiveSpec,
    action: 'email_code' | 'fresh_code' | 'phishing_resistant',
    returnTo: string,
    where: { from?: string | undefined; retry?: 'get' | 'other' } = {},
  ): Promise<StepUpRecord> {
    const decided = await this.decide(session, {
      category: spec.category,
      requested: action,
      freshForMs: spec.freshForMs,
      nudge: spec.nudgeEnableTwoFactor && session.twoFactor === null,
      returnTo,
      ...(spec.description !== undefined ? { description: spec.description } : {}),
    });
    const record: StepUpRecord = { ...decided, ...(where.from !== undefined ? { from: where.from } : {}), ...(where.retry !== undefined ? { retry: where.retry } : {}) };
    await this.deps.store.set(RECORD(session.id), JSON.stringify(record), RECORD_TTL_MS);
    return record;
  }

  /** The account's address for an email code, or null when none is known (nothing is then sent). */
  protected async emailOf(session: SessionRecord): Promise<string | null> {
    if (!this.deps.contacts) return session.user;
    const contact = await this.deps.contacts.of(session.user, { upstreamCookies: session.upstreamCookies });
    return contact.ok ? contact.email : null;
  }

  /** The method and destination for a step-up, from the account as it is now. */
  protected async decide(
    session: SessionRecord,
    asked: { category: string; requested: 'email_code' | 'fresh_code' | 'phishing_resistant'; freshForMs: number; nudge: boolean; returnTo: string; description?: SensitiveSpec['description'] },
  ): Promise<StepUpRecord> {
    const generation = await this.deps.generations.current(session.user);
    const enrolled = await this.deps.durable.getEnrollment(session.user);
    const enrollment = asked.requested !== 'email_code' ? enrolled : null;
    const common = {
      category: asked.category,
      requested: asked.requested,
      freshForMs: asked.freshForMs,
      returnTo: asked.returnTo,
      generation,
      factors: factorState(enrolled),
      ...(asked.description !== undefined ? { description: asked.description } : {}),
    };
    // A passkey is asked for even when 2FA went off meanwhile: never a weaker email code instead (fail closed).
    if (asked.requested === 'phishing_resistant') {
      return { ...common, action: 'phishing_resistant', method: enrollment?.method ?? 'email', destination: enrollment?.destination ?? null, nudge: false };
    }
    return enrollment
      ? { ...common, action: asked.requested, method: enrollment.method, destination: enrollment.destination, nudge: false }
      : // Without an enrolled method a "fresh code" can only be an email code.
        { ...common, action: 'email_code', method: 'email', destination: await this.emailOf(session), nudge: asked.nudge && enrolled === null };
  }

  /**
   * The session's step-up record. One decided before the account's last change (a reset, a new
   * destination, 2FA turned on or off) is decided again from the account as it is now, under a new
   * code key, so no code sent to the old destination counts; `redecided` says it happened.
   */
  protected async load(session: SessionRecord): Promise<{ record: StepUpRecord; redecided: boolean } | null> {
    const raw = await this.deps.store.get(RECORD(session.id));
    if (!raw) return null;
    const record = JSON.parse(raw) as StepUpRecord;
    const [current, enrollment] = await Promise.all([
      this.deps.generations.isCurrent(session.user, record.generation),
      this.deps.durable.getEnrollment(session.user),
    ]);
    if (current && record.factors !== undefined && factorState(enrollment) === record.factors) return { record, redecided: false };
    const again = await this.decide(session, {
      category: record.category,
      requested: record.requested ?? record.action,
      freshForMs: record.freshForMs,
      nudge: record.nudge,
      returnTo: record.returnTo,
      ...(record.description !== undefined ? { description: record.description } : {}),
    });
    const kept: StepUpRecord = { ...again, ...(record.from !== undefined ? { from: record.from } : {}), ...(record.retry !== undefined ? { retry: record.retry } : {}) };
    // Only if nobody finished or replaced the record meanwhile.
    if (!(await this.deps.store.setIfPresent(RECORD(session.id), JSON.stringify(kept), RECORD_TTL_MS))) return null;
    await this.deps.factor.discardCode(this.codeKey(session.id, record));
    this.deps.logger.info({ event: 'flow_account_changed', user: session.user, flow: 'step_up', category: record.category }, 'step-up decided again: the account changed meanwhile');
    return { record: kept, redecided: true };
  }

  async current(session: SessionRecord): Promise<StepUpRecord | null> {
    return (await this.load(session))?.record ?? null;
  }

  protected async record(actor: Actor): Promise<{ record: StepUpRecord; redecided: boolean }> {
    const loaded = await this.load(actor.session);
    if (!loaded) throw refusal('no_step_up');
    return loaded;
  }

  /** Codes belong to one decision: a re-decided record never accepts a code sent for the old one. */
  protected codeKey(sid: string, record: StepUpRecord): string {
    if (record.generation === undefined) return `stepup:${sid}:${record.category}`;
    const decision = createHash('sha256').update(`${record.generation}|${record.factors ?? ''}`).digest('base64url').slice(0, 16);
    return `stepup:${sid}:${record.category}:${decision}`;
  }
}
