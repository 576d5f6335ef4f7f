import { refusal } from '../core/errors.ts';
import { sendRefusal, verifyRefusal } from './code-refusals.ts';
import { fromContext } from '../audit/audit.ts';
import type { SessionRecord } from '../session/sessions.ts';
import type { FactorMethod } from '../store/durable.ts';
import { type SendResult, type SendState, type VerifyResult } from './second-factor.ts';
import { actorContext, type Actor } from './two-factor-settings.ts';
import type { RelyingParty } from '../factors/passkey/ceremony.ts';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { passkeyRefused, passkeysUnavailable } from './passkey-errors.ts';

import { RECORD, RESULT, RESULT_TTL_MS, SNOOZE, StepUpRecords, passkeyStepUpKey, phishingResistantRequired, type StepUpRecord, type StepUpResult, type StepUpVerified } from './step-up-record.ts';

export { passkeyStepUpKey, phishingResistantRequired, type StepUpDeps, type StepUpRecord, type StepUpResult, type StepUpVerified } from './step-up-record.ts';

/**
 * Step-up verification for sensitive operations. The enforcement point records what a sensitive
 * rule asked for (a fresh email code, or a fresh code of the user's own method) against the
 * session; the person then proves it here, and the verification counts for that rule's category in
 * that session only, for the rule's window. Request bodies are never stored: the operation is
 * simply retried afterwards.
 */
export class StepUpFlow extends StepUpRecords {
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
