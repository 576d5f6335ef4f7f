import { fromContext } from '../audit/audit.ts';
import { forgetRememberedBrowsers } from './remember-browser.ts';
import type { FactorMethod } from '../store/durable.ts';
import { refusal } from '../core/errors.ts';
import { stepOutOfOrder } from './flow-error.ts';
import { verifyRefusal } from './code-refusals.ts';
import { factorState } from './account-generation.ts';
import { identityProofOf, provenByIdentity, refuseSameChannel } from './same-channel.ts';
import { alreadyEnabled, changeClaim, CHANGE_CLAIM_MS, flowKey, FLOW_TTL_MS, materialOf, SettingsState, ACCOUNT_CHANGED_MESSAGE, actorContext, type Actor, type EnableRecord, type Rotated, type VerifyRecord } from './settings-state.ts';

/**
 * Enabling 2FA (password, a code to the email or phone on file proving who this is, the method
 * chosen, a code of the new factor confirming it) and changing the method, which proves the
 * current factor and then runs the same method and confirm steps (issue 17).
 */
export class EnableFlow extends SettingsState {
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

  protected methodsFor(record: EnableRecord): FactorMethod[] {
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
    const { codes, hashes } = this.deps.factor.factors.recovery.issue();
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
          hashes,
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
}
