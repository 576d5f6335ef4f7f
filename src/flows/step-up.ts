import { refusal, type DomainError } from '../core/errors.ts';
import { sendRefusal, verifyRefusal } from './code-refusals.ts';
import { createHash } from 'node:crypto';
import { fromContext, type AuditRecorder } from '../audit/audit.ts';
import type { Logger } from '../observability/logger.ts';
import type { Clock } from '../core/clock.ts';
import type { SessionRecord, SessionService } from '../session/sessions.ts';
import type { DurableStore, FactorMethod } from '../store/durable.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import type { SensitiveSpec } from '../policy/types.ts';
import { maskDestination, type SecondFactor, type SendResult, type SendState, type VerifyResult } from './second-factor.ts';
import { actorContext, type Actor } from './two-factor-settings.ts';
import type { Contacts } from '../directory/index.ts';
import { factorState, type AccountGenerations } from './account-generation.ts';
import type { PasskeyCeremonies, RelyingParty } from '../factors/passkey/ceremony.ts';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { passkeyRefused, passkeysUnavailable } from './passkey-errors.ts';

/**
 * Step-up verification for sensitive operations. The enforcement point records what a sensitive
 * rule asked for (a fresh email code, or a fresh code of the user's own method) against the
 * session; the person then proves it here, and the verification counts for that rule's category in
 * that session only, for the rule's window. Request bodies are never stored: the operation is
 * simply retried afterwards.
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

const RECORD = (sid: string): string => `stepup:${sid}`;
/** The session's step-up time of a category by a passkey (category names have no ':'). */
export const passkeyStepUpKey = (category: string): string => `${category}:passkey`;
export const phishingResistantRequired = (): DomainError =>
  refusal('phishing_resistant_required');
const RECORD_TTL_MS = 15 * 60_000;
const SNOOZE = (user: string): string => `nudge-snooze:${user}`;
/** The last step-up of a session, for its result page (the page reads it, never its URL). */
const RESULT = (sid: string): string => `stepup-result:${sid}`;
const RESULT_TTL_MS = 15 * 60_000;

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

export class StepUpFlow {
  constructor(private readonly deps: StepUpDeps) {}

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
  private async emailOf(session: SessionRecord): Promise<string | null> {
    if (!this.deps.contacts) return session.user;
    const contact = await this.deps.contacts.of(session.user, { upstreamCookies: session.upstreamCookies });
    return contact.ok ? contact.email : null;
  }

  /** The method and destination for a step-up, from the account as it is now. */
  private async decide(
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
  private async load(session: SessionRecord): Promise<{ record: StepUpRecord; redecided: boolean } | null> {
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

  private async record(actor: Actor): Promise<{ record: StepUpRecord; redecided: boolean }> {
    const loaded = await this.load(actor.session);
    if (!loaded) throw refusal('no_step_up');
    return loaded;
  }

  /** Codes belong to one decision: a re-decided record never accepts a code sent for the old one. */
  private codeKey(sid: string, record: StepUpRecord): string {
    if (record.generation === undefined) return `stepup:${sid}:${record.category}`;
    const decision = createHash('sha256').update(`${record.generation}|${record.factors ?? ''}`).digest('base64url').slice(0, 16);
    return `stepup:${sid}:${record.category}:${decision}`;
  }

  async start(actor: Actor): Promise<{ status: 'code_sent'; method: FactorMethod; destination: string | null; resend_after: number } | { status: 'code_required'; method: FactorMethod; destination: null }> {
    const { record } = await this.record(actor);
    if (record.action === 'phishing_resistant') throw phishingResistantRequired();
    if (!this.deps.factor.sends(record.method)) return { status: 'code_required', method: record.method, destination: null };
    if (record.destination === null) {
      this.deps.audit.record({ event: 'code_sent', outcome: 'failure', user: actor.session.user, reason: 'no_email_on_file', ...fromContext(actorContext(actor), { purpose: 'step_up', category: record.category }) });
      throw refusal('no_email_on_file');
    }
    const sent: SendResult = await this.deps.factor.sendCode({
      flowKey: this.codeKey(actor.session.id, record),
      method: record.method,
      destination: record.destination,
      account: actor.session.user,
      clientAddress: actor.client.address,
      purpose: 'step_up',
      context: { ...actorContext(actor), details: { category: record.category } },
    });
    if (!sent.ok) throw sendRefusal(sent);
    return { status: 'code_sent', method: record.method, destination: sent.destination, resend_after: Math.ceil(sent.resendInMs / 1000) };
  }

  async verify(actor: Actor, code: unknown): Promise<StepUpVerified> {
    const { record, redecided } = await this.record(actor);
    if (redecided) {
      this.deps.audit.record({
        event: 'verification_failure',
        outcome: 'failure',
        user: actor.session.user,
        reason: 'account_changed',
        ...fromContext(actorContext(actor), { purpose: 'step_up', category: record.category }),
      });
      throw refusal('account_changed', { message: "Your account's security settings changed meanwhile, so the code asked for before no longer counts. Ask for a new code." });
    }
    if (record.action === 'phishing_resistant') throw phishingResistantRequired();
    const enrollment = record.action === 'fresh_code' ? await this.deps.durable.getEnrollment(actor.session.user) : null;
    const result: VerifyResult = await this.deps.factor.verify({
      flowKey: this.codeKey(actor.session.id, record),
      target: enrollment ? { kind: 'enrolled', enrollment } : { kind: 'sent', method: 'email' },
      code,
      account: actor.session.user,
      clientAddress: actor.client.address,
      allowRecovery: enrollment !== null,
      purpose: 'step_up',
      context: { ...actorContext(actor), details: { category: record.category } },
    });
    if (!result.ok) throw verifyRefusal(result, { recovery: enrollment !== null });
    return this.finish(actor, record, result.via);
  }

  /** The step-up passed (a code or a passkey): the session's category is fresh, the record done. */
  private async finish(actor: Actor, record: StepUpRecord, via: string): Promise<StepUpVerified> {
    const now = this.deps.clock.now();
    const session = actor.session;
    // A passkey also counts for rules that ask for a phishing-resistant factor (`<category>:passkey`).
    session.stepUps = { ...session.stepUps, [record.category]: now, ...(via === 'passkey' ? { [passkeyStepUpKey(record.category)]: now } : {}) };
    if (!(await this.deps.sessions.save(session))) throw refusal('login_required');
    await this.deps.store.delete(RECORD(session.id));
    this.deps.logger.info({ event: 'step_up', user: session.user, category: record.category, via, requestId: actor.requestId }, 'step-up verified');
    this.deps.audit.record({
      event: 'step_up',
      outcome: 'success',
      user: session.user,
      ...fromContext(actorContext(actor), { category: record.category, via, action: record.action, fresh_for_seconds: Math.round(record.freshForMs / 1000) }),
    });
    const nudge = record.nudge && (await this.deps.store.get(SNOOZE(session.user))) === null;
    const shown: StepUpResult = {
      returnTo: record.returnTo,
      from: record.from ?? null,
      retry: record.retry ?? 'get',
      nudge,
      freshForMs: record.freshForMs,
      ...(record.description !== undefined ? { description: record.description } : {}),
    };
    await this.deps.store.set(RESULT(session.id), JSON.stringify(shown), RESULT_TTL_MS);
    return {
      status: 'verified',
      valid_until: new Date(now + record.freshForMs).toISOString(),
      category: record.category,
      nudge_enable_2fa: nudge,
      return_to: record.returnTo,
      from: record.from ?? null,
      retry: record.retry ?? 'get',
      fresh_for_ms: record.freshForMs,
    };
  }

  /** The session's last finished step-up (null: none in the last 15 minutes), for its result page. */
  async lastResult(session: SessionRecord): Promise<StepUpResult | null> {
    const raw = await this.deps.store.get(RESULT(session.id));
    return raw ? (JSON.parse(raw) as StepUpResult) : null;
  }

  /** "Not now" on the invitation to enable 2FA: remembered for the user, across sessions. */
  async snoozeNudge(actor: Actor): Promise<void> {
    await this.deps.store.set(SNOOZE(actor.session.user), '1', this.deps.nudgeSnoozeMs);
  }

  /** The truth about sending for the session's step-up (null: an authenticator app, nothing is sent). */
  async sendState(session: SessionRecord, record: StepUpRecord): Promise<SendState | null> {
    if (!this.deps.factor.sends(record.method)) return null;
    return this.deps.factor.sendState(this.codeKey(session.id, record));
  }

  /** Whether this step-up accepts a recovery code and the account has one left. */
  async recoveryAvailable(session: SessionRecord, record: StepUpRecord): Promise<boolean> {
    if (record.action !== 'fresh_code') return false;
    if ((await this.deps.durable.getEnrollment(session.user)) === null) return false;
    return (await this.deps.durable.remainingRecoveryCodes(session.user)) > 0;
  }

  // ---- passkeys (src/factors/passkey/) ----------------------------------------------------------

  /** Whether the session's step-up may be answered with a passkey (a fresh factor is asked for and the account has one). */
  async passkeyAvailable(session: SessionRecord, record: StepUpRecord): Promise<boolean> {
    if (!this.deps.passkeys || record.action === 'email_code') return false;
    return this.hasPasskey(session.user);
  }

  async hasPasskey(user: string): Promise<boolean> {
    return this.deps.passkeys ? (await this.deps.passkeys.list(user)).length > 0 : false;
  }

  /** Assertion options for the session's step-up, the challenge bound to the session. */
  async passkeyOptions(actor: Actor, rp: RelyingParty | null): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const { record } = await this.record(actor);
    if (!this.deps.passkeys || record.action === 'email_code') {
      throw refusal('passkey_not_applicable');
    }
    if (!rp) throw passkeysUnavailable();
    const options = await this.deps.passkeys.authenticationOptions({ user: actor.session.user, bind: `stepup:${actor.session.id}`, rp });
    if (!options) throw record.action === 'phishing_resistant' ? phishingResistantRequired() : refusal('no_passkey');
    return options;
  }

  async verifyPasskey(actor: Actor, response: unknown): Promise<StepUpVerified> {
    const { record, redecided } = await this.record(actor);
    if (redecided || !this.deps.passkeys || record.action === 'email_code') {
      throw refusal('account_changed', { message: "Your account's security settings changed meanwhile. Start the verification again." });
    }
    const checked = await this.deps.passkeys.assert({
      user: actor.session.user,
      bind: `stepup:${actor.session.id}`,
      response,
      context: { ...actorContext(actor), details: { category: record.category } },
      purpose: 'step_up',
    });
    if (!checked.ok) throw passkeyRefused(checked.reason);
    return this.finish(actor, record, 'passkey');
  }

  describe(record: StepUpRecord): { method: FactorMethod; destination: string | null } {
    return { method: record.method, destination: this.deps.factor.describe(record.method, record.destination) };
  }
}

