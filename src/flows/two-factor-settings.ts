import { LEGACY_ONLY, type OwnerMessageRoute } from '../alerts/owner-message.ts';
import { fromContext, type AuditContext, type AuditRecorder } from '../audit/audit.ts';
import { forgetRememberedBrowsers, type RememberedBrowsers } from './remember-browser.ts';
import type { Channel } from '../channels/channel.ts';
import { normalisePhone } from '../channels/phone.ts';
import { notificationMessage } from '../channels/templates.tsx';
import type { Logger } from '../observability/logger.ts';
import type { ClientFacts } from '../proxy/client-address.ts';
import type { Clock } from '../core/clock.ts';
import type { Random } from '../core/random.ts';
import type { SessionRecord, SessionService } from '../session/sessions.ts';
import { generateRecoveryCodes } from '../factors/recovery/codes.ts';
import { DEFAULT_TOTP } from '../factors/totp/algorithm.ts';
import type { FactorMaterial } from '../factors/factor.ts';
import type { DurableStore, Enrollment, FactorMethod, SealedSecret } from '../store/durable.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import { refusal, type DomainError } from '../core/errors.ts';
import { stepOutOfOrder } from './flow-error.ts';
import { sendRefusal, verifyRefusal } from './code-refusals.ts';
import type { Regulation } from './regulation.ts';
import { type SecondFactor, type SendResult, type SendState, type VerifyResult } from './second-factor.ts';
import type { UpstreamAccount } from './upstream-account.ts';
import type { Contacts } from '../directory/index.ts';
import { factorState, type AccountGenerations } from './account-generation.ts';
import { identityProofOf, provenByIdentity, refuseSameChannel } from './same-channel.ts';

/**
 * Enabling and disabling 2FA and regenerating recovery codes: state machines whose records live
 * server-side, keyed by the session that started them, so no step can be skipped, replayed out of
 * order, or continued from another session. Every change is notified by email, and every other
 * session of the user ends (ASVS 5.0 7.4.3); the acting session gets a new id.
 */

type EnableStep = 'identity' | 'identity_code' | 'choose_method' | 'confirm';

/** What every flow record carries: the account as the flow was started on (THREATS T18). */
interface AccountSnapshot {
  /** The account's generation when the flow started (account-generation.ts). */
  readonly generation: string;
  /** `factorState` of the enrollment when the flow started; null: no 2FA then. */
  readonly factors: string | null;
}

interface EnableRecord extends AccountSnapshot {
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

interface VerifyRecord extends AccountSnapshot {
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

const FLOW_TTL_MS = 15 * 60_000;
/** Held while an enrollment is written: of two sessions confirming at once, one enables. */
const CHANGE_CLAIM_MS = 30_000;
type FlowKind = 'enable' | 'disable' | 'recovery' | 'change';
const flowKey = (kind: FlowKind, sid: string): string => `flow:${kind}:${sid}`;
const changeClaim = (user: string): string => `factor-change:${user}`;
const ENABLE_RETURN_TTL_MS = 30 * 60_000;

export const ACCOUNT_CHANGED_MESSAGE =
  "Your account's security settings changed while you were doing this (in another session, or by support), so this step has ended. Please start again.";

const alreadyEnabled = (): DomainError =>
  refusal('already_enabled');

/** The new enrollment's material from an enable record (older records kept a TOTP secret or a destination). */
function materialOf(record: EnableRecord): FactorMaterial {
  if (record.material) return record.material;
  if (record.totpSecret) return { destination: null, totp: { secret: record.totpSecret, parameters: DEFAULT_TOTP } };
  return { destination: record.destination ?? null, totp: null };
}

export class TwoFactorSettings {
  constructor(private readonly deps: SettingsDeps) {}

  /**
   * The flow record of this session, or null. A record started before the account's last change
   * (a reset, a new destination, 2FA turned on or off elsewhere, an unlock) ends here with 409
   * `account_changed`: it was decided on a state that is gone.
   */
  private async load<T extends AccountSnapshot>(kind: FlowKind, actor: Actor): Promise<T | null> {
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
  private async snapshot(user: string): Promise<{ snapshot: AccountSnapshot; enrollment: Enrollment | null }> {
    const generation = await this.deps.generations.current(user);
    const enrollment = await this.deps.durable.getEnrollment(user);
    return { snapshot: { generation, factors: factorState(enrollment) }, enrollment };
  }

  private save(kind: FlowKind, actor: Actor, record: EnableRecord | VerifyRecord): Promise<void> {
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

  private async notify(actor: Actor, event: '2fa_enabled' | '2fa_disabled' | 'recovery_codes_regenerated', method?: FactorMethod): Promise<void> {
    const user = actor.session.user;
    const contact = await this.deps.contacts.of(user, { upstreamCookies: actor.session.upstreamCookies, requestId: actor.requestId });
    // One message per event (src/alerts/owner-message.ts): the factor_changed alert, queued from
    // the audit record, is it when on (it logs its own no_recipient). The address was still looked
    // up with the user's session: the alert, sent without it, finds it kept (watchContacts).
    if ((this.deps.ownerMessages ?? LEGACY_ONLY)(event) === 'alert') return;
    if (!contact.ok || !contact.email) {
      this.deps.logger.warn({ event: 'notification_skipped', user, reason: contact.ok ? 'no_email_known' : contact.reason }, 'security notification not sent: no email address is known for the account');
      return;
    }
    const message = notificationMessage({
      event,
      ...(method ? { method } : {}),
      time: new Date(this.deps.clock.now()),
      product: this.deps.product,
      support: this.deps.support,
    });
    try {
      await this.deps.email.send({ kind: 'email', to: contact.email, subject: message.subject, text: message.text, html: message.html, purpose: 'notification' });
    } catch (error) {
      // The change stands; a lost notification is logged for support rather than undoing it.
      this.deps.logger.error({ err: error, user, event }, 'security notification could not be sent');
    }
  }

  /** Ends every other session of the user and gives this browser a new session id. */
  private async rotate(actor: Actor, twoFactor: FactorMethod | null, secondFactorAt: number | null): Promise<Rotated> {
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

  // ---- enable --------------------------------------------------------------------------------

  async enableStart(actor: Actor, password: unknown): Promise<{ status: 'identity_verification_required'; channels: Array<'email' | 'sms'> }> {
    const { snapshot, enrollment } = await this.snapshot(actor.session.user);
    if (enrollment) throw alreadyEnabled();
    const recent = this.deps.clock.now() - actor.session.factors.password < this.deps.reauthWindowMs;
    if (!(recent && (password === undefined || password === ''))) await this.checkPassword(actor, password);
    const contact = await this.deps.contacts.of(actor.session.user, { upstreamCookies: actor.session.upstreamCookies, requestId: actor.requestId });
    if (!contact.ok && contact.reason === 'account_mismatch') {
      throw refusal('account_mismatch');
    }
    if (!contact.ok && contact.reason !== 'not_found') {
      throw refusal('directory_unavailable');
    }
    const email = contact.ok ? contact.email : null;
    const phone = contact.ok ? contact.phone : null;
    // Identity verification offers only what is known: a code is never sent to a guess.
    const channels: Array<'email' | 'sms'> = [...(email ? (['email'] as const) : []), ...(phone && this.deps.smsCountryAllowed(phone) ? (['sms'] as const) : [])];
    if (channels.length === 0) {
      throw refusal('no_contact_on_file', { message: `No email address or phone number is known for your account, so a code cannot be sent to check that it is you. Contact ${this.deps.support} to add one.` });
    }
    await this.save('enable', actor, { ...snapshot, step: 'identity', phone, email });
    return { status: 'identity_verification_required', channels };
  }

  async enableIdentity(actor: Actor, channel: unknown) {
    const record = await this.load<EnableRecord>('enable', actor);
    if (!record || (record.step !== 'identity' && record.step !== 'identity_code')) throw stepOutOfOrder();
    if (channel !== 'email' && channel !== 'sms') throw refusal('invalid_channel');
    const destination = channel === 'email' ? (record.email ?? null) : record.phone;
    if (!destination) {
      throw refusal('invalid_channel', { message: channel === 'email' ? 'No email address is known for your account. Use a text message.' : 'No phone number is known for your account. Use email.' });
    }
    const sent = await this.send(actor, `identity:${actor.session.id}`, channel, destination, 'identity');
    await this.save('enable', actor, { ...record, step: 'identity_code', identityChannel: channel, identityDestination: destination });
    return { status: 'code_sent' as const, channel, destination: sent.destination, resend_after: Math.ceil(sent.resendInMs / 1000) };
  }

  async enableIdentityVerify(actor: Actor, code: unknown): Promise<{ status: 'choose_method'; methods: readonly FactorMethod[] }> {
    const record = await this.load<EnableRecord>('enable', actor);
    if (!record || record.step !== 'identity_code' || !record.identityChannel) throw stepOutOfOrder();
    const result = await this.deps.factor.verify({
      flowKey: `identity:${actor.session.id}`,
      target: { kind: 'sent', method: record.identityChannel },
      code,
      account: actor.session.user,
      clientAddress: actor.client.address,
      allowRecovery: false,
      purpose: 'identity',
      context: actorContext(actor),
    });
    if (!result.ok) throw verifyRefusal(result, { recovery: false });
    await this.save('enable', actor, { ...record, step: 'choose_method' });
    return { status: 'choose_method', methods: this.methodsFor(record) };
  }

  private methodsFor(record: EnableRecord): FactorMethod[] {
    const known = { email: record.email ?? null, phone: record.phone };
    return this.deps.methods.filter((m) => {
      const factor = this.deps.factor.factors.find(m);
      if (!factor?.offered(known)) return false;
      // The channel that proved who this is cannot also become the second step (flows/same-channel.ts).
      const channel = factor.sender?.kind ?? null;
      return !provenByIdentity(identityProofOf(record), channel, channel === 'email' ? known.email : channel === 'sms' ? known.phone : null);
    });
  }

  async enableMethod(actor: Actor, method: unknown, phone: unknown) {
    const record = await this.load<EnableRecord>('enable', actor);
    if (!record || (record.step !== 'choose_method' && record.step !== 'confirm')) throw stepOutOfOrder();
    const factor = this.deps.factor.factors.find(method);
    if (!factor) throw refusal('invalid_method');
    if (!this.deps.methods.includes(factor.method)) throw refusal('method_not_offered');
    const setup = await factor.enroll({ account: actor.session.user, email: record.email ?? null, phone: record.phone, given: phone });
    if (setup.kind === 'shown') {
      // Confirmed with a code the person reads off the new device: nothing is sent.
      await this.save('enable', actor, { ...record, step: 'confirm', method: factor.method, destination: null, material: setup.material });
      const shown: { readonly status: 'confirm_code_required'; readonly method: FactorMethod } & Readonly<Record<string, string>> = { status: 'confirm_code_required', method: factor.method, ...setup.shown };
      return shown;
    }
    const destination = setup.material.destination;
    refuseSameChannel(identityProofOf(record), factor.sender?.kind ?? null, destination);
    const sent = await this.send(actor, `enable:${actor.session.id}`, factor.method, destination, 'enable');
    await this.save('enable', actor, {
      generation: record.generation,
      factors: record.factors,
      step: 'confirm',
      phone: record.phone,
      email: record.email ?? null,
      ...(record.identityChannel ? { identityChannel: record.identityChannel } : {}),
      ...(record.identityDestination !== undefined ? { identityDestination: record.identityDestination } : {}),
      ...(record.replacing === true ? { replacing: true } : {}),
      method: factor.method,
      destination,
      material: setup.material,
    });
    return { status: 'code_sent' as const, method: factor.method, destination: sent.destination, resend_after: Math.ceil(sent.resendInMs / 1000) };
  }

  async enableConfirm(actor: Actor, code: unknown): Promise<{ result: { enabled: true; method: FactorMethod; recovery_codes: string[] }; rotated: Rotated }> {
    const record = await this.load<EnableRecord>('enable', actor);
    if (!record || record.step !== 'confirm' || !record.method) throw stepOutOfOrder();
    const user = actor.session.user;
    const method = record.method;
    // Checked again at the last step: the record cannot have been made to pass it (flows/same-channel.ts).
    const factor = this.deps.factor.factors.get(method);
    const material = materialOf(record);
    refuseSameChannel(identityProofOf(record), factor.sender?.kind ?? null, material.destination);
    const result = await this.deps.factor.verify({
      flowKey: `enable:${actor.session.id}`,
      target: { kind: 'setup', method, material },
      code,
      account: user,
      clientAddress: actor.client.address,
      allowRecovery: false,
      purpose: 'enable',
      context: actorContext(actor),
    });
    if (!result.ok) throw verifyRefusal(result, { recovery: false });
    // Consuming the record first makes a double-submitted confirm (two codes of adjacent time
    // steps, two tabs) enable once.
    if (!(await this.deps.store.compareAndDelete(flowKey('enable', actor.session.id), JSON.stringify(record)))) throw stepOutOfOrder();
    // Another session of the account may be confirming at this moment: one claim per account, and
    // under it the account must still have no enrollment and the generation this flow began with.
    const claim = this.deps.random.bytes(12).toString('base64url');
    if (!(await this.deps.store.setIfAbsent(changeClaim(user), claim, CHANGE_CLAIM_MS))) throw refusal('account_changed', { message: ACCOUNT_CHANGED_MESSAGE });
    const codes = generateRecoveryCodes(this.deps.random);
    const now = this.deps.clock.now();
    try {
      const existing = await this.deps.durable.getEnrollment(user);
      // A method change replaces exactly the enrollment whose factor was proven at its start.
      if (existing && record.replacing !== true) throw alreadyEnabled();
      if (record.replacing === true && factorState(existing) !== record.factors) throw refusal('account_changed', { message: ACCOUNT_CHANGED_MESSAGE });
      if (!(await this.deps.generations.isCurrent(user, record.generation))) throw refusal('account_changed', { message: ACCOUNT_CHANGED_MESSAGE });
      try {
        await this.deps.durable.enable(
          {
            user,
            method,
            destination: material.destination,
            totp: material.totp,
            createdAt: now,
            updatedAt: now,
          },
          codes.map((c) => this.deps.factor.hashRecovery(c)),
        );
      } catch (error) {
        // The write is one transaction, so nothing was enabled: the flow is given back for a retry.
        await this.deps.store.setIfAbsent(flowKey('enable', actor.session.id), JSON.stringify(record), FLOW_TTL_MS).catch(() => false);
        throw error;
      }
      await this.deps.generations.bump(user);
    } finally {
      await this.deps.store.compareAndDelete(changeClaim(user), claim);
    }
    this.deps.logger.info({ event: '2fa_enabled', user, method, requestId: actor.requestId }, 'two-factor authentication enabled');
    if (this.deps.onEnabled) {
      // The enrollment stands either way; a grace record not ended only means a later reset gets what is left of it.
      await this.deps.onEnabled(user, now).catch((error: unknown) => this.deps.logger.error({ err: error, user }, 'require_2fa: the grace period could not be ended'));
    }
    this.deps.audit.record({ event: '2fa_enabled', outcome: 'success', user, ...fromContext(actorContext(actor), { method, destination: factor.describe(material.destination) ?? undefined }) });
    await forgetRememberedBrowsers(this.deps.remembered, user, '2fa_enabled', actorContext(actor));
    await this.notify(actor, '2fa_enabled', method);
    const rotated = await this.rotate(actor, method, now);
    return { result: { enabled: true, method, recovery_codes: codes }, rotated };
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

  // ---- change method (issue 17) ---------------------------------------------------------------
  //
  // With require_2fa the last factor cannot be turned off, so the method is changed in place:
  // password, then a code of the CURRENT method (or a recovery code), then the enable flow's method
  // and confirm steps, whose confirm replaces the enrollment atomically. Proving the current factor
  // first keeps "password + mailbox" from swapping someone's authenticator for the attacker's.

  async changeStart(actor: Actor, password: unknown) {
    const { snapshot, enrollment } = await this.snapshot(actor.session.user);
    if (!enrollment) throw refusal('not_enabled');
    await this.checkPassword(actor, password);
    await this.save('change', actor, { ...snapshot, step: 'verify' });
    if (!this.deps.factor.sends(enrollment.method) || !enrollment.destination) return { status: 'code_required' as const, method: enrollment.method, destination: null };
    const sent = await this.send(actor, `change:${actor.session.id}`, enrollment.method, enrollment.destination, 'identity');
    return { status: 'code_sent' as const, method: enrollment.method, destination: sent.destination, resend_after: Math.ceil(sent.resendInMs / 1000) };
  }

  async changeVerify(actor: Actor, code: unknown): Promise<{ status: 'choose_method'; methods: readonly FactorMethod[]; phoneOnFile: boolean }> {
    const record = await this.load<VerifyRecord>('change', actor);
    if (!record || record.step !== 'verify') throw stepOutOfOrder();
    const user = actor.session.user;
    const enrollment = await this.deps.durable.getEnrollment(user);
    if (!enrollment) throw refusal('not_enabled');
    const result = await this.deps.factor.verify({
      flowKey: `change:${actor.session.id}`,
      target: { kind: 'enrolled', enrollment },
      code,
      account: user,
      clientAddress: actor.client.address,
      allowRecovery: true,
      purpose: 'identity',
      context: actorContext(actor),
    });
    if (!result.ok) throw verifyRefusal(result, { recovery: true });
    if (!(await this.deps.store.compareAndDelete(flowKey('change', actor.session.id), JSON.stringify(record)))) throw stepOutOfOrder();
    const contact = await this.deps.contacts.of(user, { upstreamCookies: actor.session.upstreamCookies, requestId: actor.requestId });
    const email = contact.ok ? contact.email : null;
    const phone = contact.ok ? contact.phone : null;
    const next: EnableRecord = { generation: record.generation, factors: record.factors, step: 'choose_method', phone, email, replacing: true };
    await this.save('enable', actor, next);
    return { status: 'choose_method', methods: this.methodsFor(next), phoneOnFile: phone !== null };
  }

  /** require_2fa covers this account: its last factor stays (pages show "change method" instead of "turn off"). */
  async factorRequiredFor(session: SessionRecord, requestId: string): Promise<boolean> {
    return this.deps.factorRequired ? this.deps.factorRequired(session, requestId) : false;
  }

  // ---- disable -------------------------------------------------------------------------------

  /**
   * require_2fa: the account's last factor may not be removed (the enrollment is its only factor
   * today; a new factor type counts through flows/factors.ts `hasAnyFactor`).
   */
  private async refuseLastFactor(actor: Actor): Promise<void> {
    if (this.deps.factorRequired && (await this.deps.factorRequired(actor.session, actor.requestId))) {
      this.deps.logger.info({ event: '2fa_disable_refused', user: actor.session.user, requestId: actor.requestId }, 'turning 2FA off refused: the policy requires it');
      throw refusal('2fa_required_by_policy', { message: FACTOR_REQUIRED_MESSAGE });
    }
  }

  async disableStart(actor: Actor, password: unknown) {
    const { snapshot, enrollment } = await this.snapshot(actor.session.user);
    if (!enrollment) throw refusal('not_enabled');
    await this.refuseLastFactor(actor);
    await this.checkPassword(actor, password);
    await this.save('disable', actor, { ...snapshot, step: 'verify' });
    if (!this.deps.factor.sends(enrollment.method) || !enrollment.destination) {
      return { status: 'code_required' as const, method: enrollment.method, destination: null };
    }
    const sent = await this.send(actor, `disable:${actor.session.id}`, enrollment.method, enrollment.destination, 'disable');
    return { status: 'code_sent' as const, method: enrollment.method, destination: sent.destination, resend_after: Math.ceil(sent.resendInMs / 1000) };
  }

  async disableVerify(actor: Actor, code: unknown): Promise<{ status: 'confirm' }> {
    const record = await this.load<VerifyRecord>('disable', actor);
    if (!record || record.step !== 'verify') throw stepOutOfOrder();
    const enrollment = await this.deps.durable.getEnrollment(actor.session.user);
    if (!enrollment) throw refusal('not_enabled');
    const result = await this.deps.factor.verify({
      flowKey: `disable:${actor.session.id}`,
      target: { kind: 'enrolled', enrollment },
      code,
      account: actor.session.user,
      clientAddress: actor.client.address,
      allowRecovery: true,
      purpose: 'disable',
      context: actorContext(actor),
    });
    if (!result.ok) throw verifyRefusal(result, { recovery: true });
    await this.save('disable', actor, { ...record, step: 'confirm' });
    return { status: 'confirm' };
  }

  async disableConfirm(actor: Actor): Promise<{ result: { enabled: false }; rotated: Rotated }> {
    const record = await this.load<VerifyRecord>('disable', actor);
    if (!record || record.step !== 'confirm') throw stepOutOfOrder();
    // The policy may have come to require 2FA while this flow ran.
    await this.refuseLastFactor(actor);
    // Consuming the record first makes a double-submitted confirm a no-op.
    if (!(await this.deps.store.compareAndDelete(flowKey('disable', actor.session.id), JSON.stringify(record)))) throw stepOutOfOrder();
    const user = actor.session.user;
    await this.deps.durable.disable(user);
    await this.deps.onDisabled?.(user, actorContext(actor));
    await this.deps.generations.bump(user);
    this.deps.logger.warn({ event: '2fa_disabled', user, requestId: actor.requestId }, 'two-factor authentication disabled');
    this.deps.audit.record({ event: '2fa_disabled', outcome: 'success', user, ...fromContext(actorContext(actor)) });
    await forgetRememberedBrowsers(this.deps.remembered, user, '2fa_disabled', actorContext(actor));
    await this.notify(actor, '2fa_disabled');
    const rotated = await this.rotate(actor, null, null);
    return { result: { enabled: false }, rotated };
  }

  // ---- recovery codes ------------------------------------------------------------------------

  async recoveryStart(actor: Actor) {
    const { snapshot, enrollment } = await this.snapshot(actor.session.user);
    if (!enrollment) throw refusal('not_enabled');
    await this.save('recovery', actor, { ...snapshot, step: 'verify' });
    if (!this.deps.factor.sends(enrollment.method) || !enrollment.destination) return { status: 'code_required' as const, method: enrollment.method, destination: null };
    const sent = await this.send(actor, `recovery:${actor.session.id}`, enrollment.method, enrollment.destination, 'recovery');
    return { status: 'code_sent' as const, method: enrollment.method, destination: sent.destination, resend_after: Math.ceil(sent.resendInMs / 1000) };
  }

  async recoveryConfirm(actor: Actor, code: unknown): Promise<{ result: { recovery_codes: string[] }; rotated: Rotated }> {
    const record = await this.load<VerifyRecord>('recovery', actor);
    if (!record || record.step !== 'verify') throw stepOutOfOrder();
    const user = actor.session.user;
    const enrollment = await this.deps.durable.getEnrollment(user);
    if (!enrollment) throw refusal('not_enabled');
    const result = await this.deps.factor.verify({
      flowKey: `recovery:${actor.session.id}`,
      target: { kind: 'enrolled', enrollment },
      code,
      account: user,
      clientAddress: actor.client.address,
      allowRecovery: false,
      purpose: 'recovery',
      context: actorContext(actor),
    });
    if (!result.ok) throw verifyRefusal(result, { recovery: false });
    if (!(await this.deps.store.compareAndDelete(flowKey('recovery', actor.session.id), JSON.stringify(record)))) throw stepOutOfOrder();
    const codes = generateRecoveryCodes(this.deps.random);
    await this.deps.durable.replaceRecoveryCodes(user, codes.map((c) => this.deps.factor.hashRecovery(c)));
    await this.deps.generations.bump(user);
    this.deps.logger.info({ event: 'recovery_codes_regenerated', user, requestId: actor.requestId }, 'recovery codes regenerated');
    this.deps.audit.record({ event: 'recovery_codes_regenerated', outcome: 'success', user, ...fromContext(actorContext(actor), { count: codes.length }) });
    await forgetRememberedBrowsers(this.deps.remembered, user, 'recovery_codes_regenerated', actorContext(actor));
    await this.notify(actor, 'recovery_codes_regenerated');
    // New recovery codes are new authenticators: other sessions end as after any factor change.
    const rotated = await this.rotate(actor, enrollment.method, actor.session.factors.secondFactor ?? this.deps.clock.now());
    return { result: { recovery_codes: codes }, rotated };
  }
}
