import { refusal, type DomainError } from '../core/errors.ts';
import { verifyRefusal } from './code-refusals.ts';
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import { fromContext, type AuditContext, type AuditRecorder } from '../audit/audit.ts';
import type { PasskeyCeremonies, RelyingParty } from '../factors/passkey/ceremony.ts';
import type { PasskeyCredential } from '../factors/passkey/store.ts';
import type { Logger } from '../observability/logger.ts';
import type { Clock } from '../core/clock.ts';
import type { SessionService } from '../session/sessions.ts';
import type { DurableStore, FactorMethod } from '../store/durable.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import { factorState, type AccountGenerations } from './account-generation.ts';
import { stepOutOfOrder } from './flow-error.ts';
import { passkeysUnavailable } from './passkey-errors.ts';
import type { SecondFactor } from './second-factor.ts';
import { forgetRememberedBrowsers, type RememberedBrowsers } from './remember-browser.ts';
import { ACCOUNT_CHANGED_MESSAGE, actorContext, type Actor, type Rotated, type TwoFactorSettings } from './two-factor-settings.ts';

/**
 * Adding and removing passkeys from Login & Security. The model (README, "Passkeys"): passkeys are
 * their own list beside the account's 2FA enrollment, and are added on top of it — an account
 * needs 2FA on (an authenticator app, SMS or email, with its recovery codes) before it can add a
 * passkey, and turning 2FA off (or a support reset) removes its passkeys too. So an account with
 * passkeys always has a second way in and recovery codes.
 *
 * Both changes need the same proof as turning 2FA off: the password again, then a code of the
 * enrolled method. The proof is kept server-side for this session only (10 minutes) and is used by
 * one change. Registration's challenge is bound to the session (src/factors/passkey/ceremony.ts).
 * Each change ends the user's other sessions and gives this browser a new session id (ASVS 7.4.3),
 * like every other factor change.
 */

interface ManageRecord {
  readonly step: 'verify' | 'verified';
  readonly generation: string;
  readonly factors: string | null;
  /** When the proof expires (verified step). */
  readonly until?: number;
}

const FLOW = (sid: string): string => `flow:passkeys:${sid}`;
const CODE_KEY = (sid: string): string => `passkeys:${sid}`;
const FLOW_TTL_MS = 15 * 60_000;
const PROOF_MS = 10 * 60_000;
/** More than anyone needs; bounds the per-account list (and the allowCredentials a sign-in sends). */
const MAX_PASSKEYS = 10;

export interface PasskeyView {
  readonly id: string;
  readonly name: string;
  readonly created_at: string;
  readonly last_used_at: string | null;
  readonly transports: readonly string[];
}

function passkeyView(c: PasskeyCredential): PasskeyView {
  return {
    id: c.id,
    name: c.name,
    created_at: new Date(c.createdAt).toISOString(),
    last_used_at: c.lastUsedAt === null ? null : new Date(c.lastUsedAt).toISOString(),
    transports: c.transports,
  };
}

export interface PasskeySettingsDeps {
  readonly passkeys: PasskeyCeremonies;
  readonly settings: TwoFactorSettings;
  readonly durable: DurableStore;
  readonly store: EphemeralStore;
  readonly generations: AccountGenerations;
  readonly sessions: SessionService;
  readonly factor: SecondFactor;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly audit: AuditRecorder;
  /** Tells the account by email (as every other factor change is told); failures are logged there, never thrown. */
  readonly notify?: ((actor: Actor, event: 'passkey_added' | 'passkey_removed') => Promise<void>) | undefined;
  /** Remembered browsers: a change of the account's factors forgets them (as every other factor change does). */
  readonly remembered?: RememberedBrowsers | undefined;
}

export const notEnabled = (): DomainError =>
  refusal('two_factor_required');

export class PasskeySettings {
  constructor(private readonly deps: PasskeySettingsDeps) {}

  async list(user: string): Promise<PasskeyView[]> {
    return (await this.deps.passkeys.list(user)).map(passkeyView);
  }

  private async snapshot(user: string) {
    const generation = await this.deps.generations.current(user);
    const enrollment = await this.deps.durable.getEnrollment(user);
    return { generation, factors: factorState(enrollment), enrollment };
  }

  /** This session's record, ended when the account changed since it started (THREATS T18). */
  private async load(actor: Actor): Promise<ManageRecord | null> {
    const raw = await this.deps.store.get(FLOW(actor.session.id));
    if (!raw) return null;
    const record = JSON.parse(raw) as ManageRecord;
    const [current, enrollment] = await Promise.all([this.deps.generations.isCurrent(actor.session.user, record.generation), this.deps.durable.getEnrollment(actor.session.user)]);
    if (current && factorState(enrollment) === record.factors) return record;
    await this.deps.store.delete(FLOW(actor.session.id));
    await this.deps.factor.discardCode(CODE_KEY(actor.session.id));
    throw refusal('account_changed', { message: ACCOUNT_CHANGED_MESSAGE });
  }

  /** Step 1: the password again; a code of the enrolled method is then sent (sms/email) or asked for (totp). */
  async start(actor: Actor, password: unknown) {
    const snap = await this.snapshot(actor.session.user);
    if (!snap.enrollment) throw notEnabled();
    await this.deps.settings.checkPassword(actor, password);
    const record: ManageRecord = { step: 'verify', generation: snap.generation, factors: snap.factors };
    await this.deps.store.set(FLOW(actor.session.id), JSON.stringify(record), FLOW_TTL_MS);
    const { method, destination } = snap.enrollment;
    if (!this.deps.factor.sends(method) || !destination) return { status: 'code_required' as const, method, destination: null };
    const sent = await this.deps.settings.send(actor, CODE_KEY(actor.session.id), method, destination, 'disable');
    return { status: 'code_sent' as const, method, destination: sent.destination, resend_after: Math.ceil(sent.resendInMs / 1000) };
  }

  /** Step 2: the code. The proof then holds for one change within 10 minutes. */
  async verify(actor: Actor, code: unknown): Promise<{ status: 'verified'; method: FactorMethod }> {
    const record = await this.load(actor);
    if (!record || record.step !== 'verify') throw stepOutOfOrder();
    const enrollment = await this.deps.durable.getEnrollment(actor.session.user);
    if (!enrollment) throw notEnabled();
    const result = await this.deps.factor.verify({
      flowKey: CODE_KEY(actor.session.id),
      target: { kind: 'enrolled', enrollment },
      code,
      account: actor.session.user,
      clientAddress: actor.client.address,
      allowRecovery: false,
      purpose: 'disable',
      context: { ...actorContext(actor), details: { flow: 'passkeys' } },
    });
    if (!result.ok) throw verifyRefusal(result, { recovery: false });
    const verified: ManageRecord = { ...record, step: 'verified', until: this.deps.clock.now() + PROOF_MS };
    await this.deps.store.set(FLOW(actor.session.id), JSON.stringify(verified), FLOW_TTL_MS);
    return { status: 'verified', method: enrollment.method };
  }

  /** A new code for the proof (sms/email); the previous one dies. */
  async resend(actor: Actor) {
    const record = await this.load(actor);
    if (!record || record.step !== 'verify') throw stepOutOfOrder();
    const enrollment = await this.deps.durable.getEnrollment(actor.session.user);
    if (!enrollment) throw notEnabled();
    if (!this.deps.factor.sends(enrollment.method) || !enrollment.destination) return { status: 'code_required' as const, method: enrollment.method, destination: null };
    const sent = await this.deps.settings.send(actor, CODE_KEY(actor.session.id), enrollment.method, enrollment.destination, 'disable');
    return { status: 'code_sent' as const, method: enrollment.method, destination: sent.destination, resend_after: Math.ceil(sent.resendInMs / 1000) };
  }

  /** Where the session's proof stands, for the pages. */
  async state(actor: Actor): Promise<'none' | 'verify' | 'verified'> {
    const record = await this.load(actor).catch(() => null);
    if (!record) return 'none';
    if (record.step === 'verified' && (record.until ?? 0) > this.deps.clock.now()) return 'verified';
    return record.step === 'verify' ? 'verify' : 'none';
  }

  private async proven(actor: Actor): Promise<ManageRecord> {
    const record = await this.load(actor);
    if (!record || record.step !== 'verified') throw refusal('verification_required');
    if ((record.until ?? 0) <= this.deps.clock.now()) {
      await this.deps.store.delete(FLOW(actor.session.id));
      throw refusal('verification_required', { message: 'Your confirmation has expired. Enter your password and a code again.' });
    }
    return record;
  }

  /** Step 3 (add): the registration options for navigator.credentials.create(). */
  async registrationOptions(actor: Actor, rp: RelyingParty | null): Promise<PublicKeyCredentialCreationOptionsJSON> {
    if (!rp) throw passkeysUnavailable();
    await this.proven(actor);
    if ((await this.deps.passkeys.list(actor.session.user)).length >= MAX_PASSKEYS) {
      throw refusal('too_many_passkeys', { message: `You already have ${MAX_PASSKEYS} passkeys. Remove one before adding another.` });
    }
    return this.deps.passkeys.registrationOptions({ user: actor.session.user, bind: `reg:${actor.session.id}`, rp });
  }

  /** Step 4 (add): the authenticator's answer and the key's name. */
  async register(actor: Actor, response: unknown, name: unknown): Promise<{ result: { added: true; passkey: PasskeyView }; rotated: Rotated }> {
    const record = await this.proven(actor);
    const added = await this.deps.passkeys.register({ user: actor.session.user, bind: `reg:${actor.session.id}`, response, name, context: actorContext(actor) });
    if (!added.ok) {
      switch (added.reason) {
        case 'invalid_name':
          throw refusal('invalid_passkey_name');
        case 'no_challenge':
          throw refusal('passkey_challenge_expired', { message: 'This passkey request has expired or was already used. Start adding the passkey again.' });
        case 'duplicate':
          throw refusal('passkey_exists');
        case 'invalid':
          throw refusal('passkey_not_accepted', { message: 'The passkey could not be verified for this site. Try again, or use another security key.', status: 400 });
      }
    }
    await this.consume(actor, record);
    this.deps.logger.info({ event: 'passkey_added', user: actor.session.user, requestId: actor.requestId }, 'passkey added');
    await forgetRememberedBrowsers(this.deps.remembered, actor.session.user, 'passkey_added', actorContext(actor));
    await this.deps.notify?.(actor, 'passkey_added');
    return { result: { added: true, passkey: passkeyView(added.credential) }, rotated: await this.rotate(actor) };
  }

  /** Removes one passkey (after the same proof). */
  async remove(actor: Actor, id: unknown): Promise<{ result: { removed: true }; rotated: Rotated }> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 1024) throw refusal('invalid_passkey_id');
    const record = await this.proven(actor);
    if (!(await this.deps.passkeys.list(actor.session.user)).some((c) => c.id === id)) {
      throw refusal('passkey_not_found');
    }
    // The proof is taken first: of two removals racing on one proof, one goes through.
    if (!(await this.consume(actor, record))) throw refusal('verification_required');
    if (!(await this.deps.passkeys.remove(actor.session.user, id, actorContext(actor)))) {
      throw refusal('passkey_not_found');
    }
    this.deps.logger.info({ event: 'passkey_removed', user: actor.session.user, requestId: actor.requestId }, 'passkey removed');
    await forgetRememberedBrowsers(this.deps.remembered, actor.session.user, 'passkey_removed', actorContext(actor));
    await this.deps.notify?.(actor, 'passkey_removed');
    return { result: { removed: true }, rotated: await this.rotate(actor) };
  }

  /** The proof serves one change; consumed once even when two requests race. */
  private consume(actor: Actor, record: ManageRecord): Promise<boolean> {
    return this.deps.store.compareAndDelete(FLOW(actor.session.id), JSON.stringify(record));
  }

  /** 2FA turned off or reset: the passkeys go with it. */
  async removeAll(user: string, context: AuditContext, reason: string): Promise<void> {
    await this.deps.passkeys.removeAll(user, context, reason);
  }

  /** Ends every other session of the user and gives this browser a new session id. */
  private async rotate(actor: Actor): Promise<Rotated> {
    const old = actor.session;
    await this.deps.generations.bump(old.user);
    await this.deps.sessions.revokeUser(old.user);
    const { record, cookieValue } = await this.deps.sessions.create({
      user: old.user,
      factors: { password: old.factors.password, secondFactor: this.deps.clock.now() },
      upstreamCookies: old.upstreamCookies,
      twoFactor: old.twoFactor,
      ...(old.deviceId !== undefined ? { deviceId: old.deviceId } : {}),
    });
    this.deps.audit.record({ event: 'sessions_revoked', outcome: 'info', user: old.user, reason: 'passkey_changed', ...fromContext(actorContext(actor)) });
    return { session: record, cookieValue };
  }
}
