import { type OwnerMessageRoute } from '../alerts/owner-message.ts';
import { fromContext, type AuditContext, type AuditRecorder } from '../audit/audit.ts';
import { type RememberedBrowsers } from './remember-browser.ts';
import type { Channel } from '../channels/channel.ts';
import type { Logger } from '../observability/logger.ts';
import type { ClientFacts } from '../proxy/client-address.ts';
import type { Clock } from '../core/clock.ts';
import type { Random } from '../core/random.ts';
import { tellOwner, type FactorChangeEvent } from './factor-change-notice.ts';
import type { SessionRecord, SessionService } from '../session/sessions.ts';
import { DEFAULT_TOTP } from '../factors/totp/algorithm.ts';
import type { FactorMaterial } from '../factors/factor.ts';
import type { DurableStore, Enrollment, FactorMethod, SealedSecret } from '../store/durable.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import { refusal, type DomainError } from '../core/errors.ts';
import { sendRefusal } from './code-refusals.ts';
import type { Regulation } from './regulation.ts';
import { type SecondFactor, type SendState } from './second-factor.ts';
import type { UpstreamAccount } from './upstream-account.ts';
import type { Contacts } from '../directory/index.ts';
import { factorState, type AccountGenerations } from './account-generation.ts';

/**
 * What the 2FA settings flows share (enable, change, disable, recovery codes): their server-side
 * records keyed by the acting session and checked against the account's generation (THREATS
 * T18), the password re-check, sending a code, the owner's notice, and the session rotation that
 * ends every other session after a change (ASVS 5.0 7.4.3).
 */

type EnableStep = 'identity' | 'identity_code' | 'choose_method' | 'confirm';

/** What every flow record carries: the account as the flow was started on (THREATS T18). */
export interface AccountSnapshot {
  /** The account's generation when the flow started (account-generation.ts). */
  readonly generation: string;
  /** `factorState` of the enrollment when the flow started; null: no 2FA then. */
  readonly factors: string | null;
}

export interface EnableRecord extends AccountSnapshot {
  readonly step: EnableStep;
  readonly phone: string | null;
  /** The account's address from the directory when the flow started (null: none known). */
  readonly email?: string | null;
  readonly identityChannel?: 'email' | 'sms';
  readonly method?: FactorMethod;
  readonly destination?: string | null;
  /** What the new enrollment keeps (its destination, a sealed device secret), from the factor's enroll(). */
  readonly material?: FactorMaterial;
  /** Records written before `material`: a TOTP secret being set up. */
  readonly totpSecret?: SealedSecret;
  /** Destination the identity code went to (the same-channel rule, flows/same-channel.ts). */
  readonly identityDestination?: string | null;
  /** Changing the method of an enrolled account (the current factor was proven): the enrollment is replaced. */
  readonly replacing?: boolean;
}

export interface VerifyRecord extends AccountSnapshot {
  readonly step: 'verify' | 'confirm';
}

export interface SettingsDeps {
  readonly durable: DurableStore;
  readonly store: EphemeralStore;
  readonly generations: AccountGenerations;
  readonly sessions: SessionService;
  readonly factor: SecondFactor;
  readonly account: UpstreamAccount;
  readonly regulation: Regulation;
  readonly email: Channel;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly audit: AuditRecorder;
  readonly methods: readonly FactorMethod[];
  readonly product: string;
  readonly support: string;
  readonly reauthWindowMs: number;
  readonly smsCountryAllowed: (e164: string) => boolean;
  /** Where the account's email and phone come from (the directory). */
  readonly contacts: Contacts;
  /** Whether the owner's message about a change is the security alert (absent: the email notice always). */
  readonly ownerMessages?: OwnerMessageRoute;
  /** Remembered browsers, dropped by every factor change (issue 17). */
  readonly remembered?: RememberedBrowsers | undefined;
  /** Told when 2FA was turned off, before sessions rotate (passkeys go with it: src/flows/passkey-settings.ts). */
  readonly onDisabled?: ((user: string, context: AuditContext) => Promise<void>) | undefined;
  /**
   * Policy `require_2fa` (server/required-two-factor.ts): whether this account must keep a second
   * factor. Then its last factor cannot be turned off (changing the method stays possible). None:
   * no policy requires one.
   */
  readonly factorRequired?: (session: SessionRecord, requestId: string) => Promise<boolean>;
  /** Told once 2FA is on: require_2fa ends the account's grace period for good (no new one after a reset). */
  readonly onEnabled?: (user: string, now: number) => Promise<void>;
}

export const FACTOR_REQUIRED_MESSAGE =
  'Your organisation requires two-step verification, so it cannot be turned off. You can change the method instead, or ask support to reset it if you lost your device.';

export interface Actor {
  readonly session: SessionRecord;
  readonly client: ClientFacts;
  readonly requestId: string;
  /** For the audit trail. */
  readonly userAgent?: string | undefined;
}

/** The audit context of a request made by a signed-in user. */
export function actorContext(actor: Actor): AuditContext {
  return { client: actor.client.address, userAgent: actor.userAgent, requestId: actor.requestId };
}

/** A factor change hands the acting browser a new session; the route layer sets its cookie. */
export interface Rotated {
  readonly session: SessionRecord;
  readonly cookieValue: string;
}

export const FLOW_TTL_MS = 15 * 60_000;
/** Held while an enrollment is written: of two sessions confirming at once, one enables. */
export const CHANGE_CLAIM_MS = 30_000;
export type FlowKind = 'enable' | 'disable' | 'recovery' | 'change';
export const flowKey = (kind: FlowKind, sid: string): string => `flow:${kind}:${sid}`;
export const changeClaim = (user: string): string => `factor-change:${user}`;
const ENABLE_RETURN_TTL_MS = 30 * 60_000;

export const ACCOUNT_CHANGED_MESSAGE =
  "Your account's security settings changed while you were doing this (in another session, or by support), so this step has ended. Please start again.";

export const alreadyEnabled = (): DomainError =>
  refusal('already_enabled');

/** The new enrollment's material from an enable record (older records kept a TOTP secret or a destination). */
export function materialOf(record: EnableRecord): FactorMaterial {
  if (record.material) return record.material;
  if (record.totpSecret) return { destination: null, totp: { secret: record.totpSecret, parameters: DEFAULT_TOTP } };
  return { destination: record.destination ?? null, totp: null };
}

export class SettingsState {
  constructor(protected readonly deps: SettingsDeps) {}

  /**
   * The flow record of this session, or null. A record started before the account's last change
   * (a reset, a new destination, 2FA turned on or off elsewhere, an unlock) ends here with 409
   * `account_changed`: it was decided on a state that is gone.
   */
  protected async load<T extends AccountSnapshot>(kind: FlowKind, actor: Actor): Promise<T | null> {
    const raw = await this.deps.store.get(flowKey(kind, actor.session.id));
    if (!raw) return null;
    const record = JSON.parse(raw) as T;
    const user = actor.session.user;
    const [current, enrollment] = await Promise.all([this.deps.generations.isCurrent(user, record.generation), this.deps.durable.getEnrollment(user)]);
    if (current && record.factors !== undefined && factorState(enrollment) === record.factors) return record;
    await this.deps.store.delete(flowKey(kind, actor.session.id));
    // The session stays, so its next flow reuses these code keys: no code of this one may count there.
    for (const key of kind === 'enable' ? ['identity', 'enable'] : [kind]) await this.deps.factor.discardCode(`${key}:${actor.session.id}`);
    this.deps.logger.info({ event: 'flow_account_changed', user, flow: kind, requestId: actor.requestId }, '2FA flow ended: the account changed meanwhile');
    this.deps.audit.record({ event: 'verification_failure', outcome: 'failure', user, reason: 'account_changed', ...fromContext(actorContext(actor), { purpose: kind }) });
    // Enabled meanwhile (another session, another replica): say so, rather than a vaguer "changed".
    if (kind === 'enable' && enrollment) throw alreadyEnabled();
    throw refusal('account_changed', { message: ACCOUNT_CHANGED_MESSAGE });
  }

  /** The account as a flow starting now sees it; the generation is read first (see login.ts). */
  protected async snapshot(user: string): Promise<{ snapshot: AccountSnapshot; enrollment: Enrollment | null }> {
    const generation = await this.deps.generations.current(user);
    const enrollment = await this.deps.durable.getEnrollment(user);
    return { snapshot: { generation, factors: factorState(enrollment) }, enrollment };
  }

  protected save(kind: FlowKind, actor: Actor, record: EnableRecord | VerifyRecord): Promise<void> {
    return this.deps.store.set(flowKey(kind, actor.session.id), JSON.stringify(record), FLOW_TTL_MS);
  }

  async status(user: string): Promise<{ enabled: boolean; method: FactorMethod | null; destination: string | null; recoveryCodesLeft: number | null }> {
    const enrollment = await this.deps.durable.getEnrollment(user);
    if (!enrollment) return { enabled: false, method: null, destination: null, recoveryCodesLeft: null };
    return {
      enabled: true,
      method: enrollment.method,
      destination: this.deps.factor.describe(enrollment.method, enrollment.destination),
      recoveryCodesLeft: await this.deps.durable.remainingRecoveryCodes(user),
    };
  }

  /** Re-checks the password against the upstream (regulated like a sign-in). */
  async checkPassword(actor: Actor, password: unknown): Promise<void> {
    if (typeof password !== 'string' || password.length === 0 || password.length > 1024) {
      throw refusal('password_required');
    }
    const reservation = await this.deps.regulation.reserve(actor.session.user, actor.client.address, actorContext(actor));
    if (!reservation.ok) {
      throw refusal('too_many_attempts', { message: 'Too many failed attempts. Try again later.', extra: { retry_after: Math.ceil(reservation.retryAfterMs / 1000) } });
    }
    const check = await this.deps.account.checkPassword(actor.session.user, password, {
      forwardedFor: actor.client.forwardedFor,
      requestId: actor.requestId,
      host: actor.client.host,
      proto: actor.client.proto,
    });
    if (check.ok) {
      await reservation.settle('success');
      return;
    }
    if (check.reason === 'unavailable') {
      await reservation.settle('neutral');
      throw refusal('upstream_unavailable');
    }
    if (check.reason === 'upstream_error') {
      // Neither the success nor the failure signal: not the user's fault, so not counted.
      await reservation.settle('neutral');
      this.deps.logger.error({ event: 'login_upstream_error', status: check.status, location: check.location, detail: check.detail, requestId: actor.requestId }, 'the upstream answered a password check with neither the success nor the failure signal');
      throw refusal('upstream_error');
    }
    await reservation.settle('failure');
    throw refusal('invalid_credentials');
  }

  async send(actor: Actor, key: string, method: FactorMethod, destination: string, purpose: 'identity' | 'enable' | 'disable' | 'recovery') {
    const sent = await this.deps.factor.sendCode({
      flowKey: key,
      method,
      destination,
      account: actor.session.user,
      clientAddress: actor.client.address,
      purpose,
      context: actorContext(actor),
    });
    if (!sent.ok) throw sendRefusal(sent, { another: true });
    return sent;
  }

  protected notify(actor: Actor, event: FactorChangeEvent, method?: FactorMethod): Promise<void> {
    return tellOwner(this.deps, actor, event, method);
  }

  /** Ends every other session of the user and gives this browser a new session id. */
  protected async rotate(actor: Actor, twoFactor: FactorMethod | null, secondFactorAt: number | null): Promise<Rotated> {
    const old = actor.session;
    await this.deps.sessions.revokeUser(old.user);
    const { record, cookieValue } = await this.deps.sessions.create({
      user: old.user,
      factors: secondFactorAt !== null ? { password: old.factors.password, secondFactor: secondFactorAt } : { password: old.factors.password },
      upstreamCookies: old.upstreamCookies,
      twoFactor,
      ...(old.deviceId !== undefined ? { deviceId: old.deviceId } : {}),
      ...(old.origin !== undefined ? { origin: old.origin } : {}),
    });
    return { session: record, cookieValue };
  }

  /** The truth about sending for one step of this session's flows (for the pages). */
  sendState(session: SessionRecord, step: 'identity' | 'enable' | 'disable' | 'recovery' | 'change'): Promise<SendState> {
    return this.deps.factor.sendState(`${step}:${session.id}`);
  }

  /**
   * Where to go back after enabling, when enabling began from elsewhere ("Enable now" after a
   * step-up): kept per session for the flow's length, read before the session rotates.
   */
  async rememberReturn(session: SessionRecord, path: string | null): Promise<void> {
    // An enable begun from Login & Security itself goes back there, whatever an earlier one said.
    if (path === null) await this.deps.store.delete(`enable-return:${session.id}`);
    else await this.deps.store.set(`enable-return:${session.id}`, path, ENABLE_RETURN_TTL_MS);
  }

  async returnOf(session: SessionRecord): Promise<string | null> {
    return this.deps.store.get(`enable-return:${session.id}`);
  }

  /** Recovery codes the account has left (0 without 2FA). */
  recoveryCodesLeft(user: string): Promise<number> {
    return this.deps.durable.remainingRecoveryCodes(user);
  }

  /** require_2fa covers this account: its last factor stays (pages show "change method" instead of "turn off"). */
  async factorRequiredFor(session: SessionRecord, requestId: string): Promise<boolean> {
    return this.deps.factorRequired ? this.deps.factorRequired(session, requestId) : false;
  }


  /**
   * require_2fa: the account's last factor may not be removed (the enrollment is its only factor
   * today; a new factor type counts through flows/factors.ts `hasAnyFactor`).
   */
  protected async refuseLastFactor(actor: Actor): Promise<void> {
    if (this.deps.factorRequired && (await this.deps.factorRequired(actor.session, actor.requestId))) {
      this.deps.logger.info({ event: '2fa_disable_refused', user: actor.session.user, requestId: actor.requestId }, 'turning 2FA off refused: the policy requires it');
      throw refusal('2fa_required_by_policy', { message: FACTOR_REQUIRED_MESSAGE });
    }
  }
}
