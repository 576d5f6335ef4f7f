import { fromContext } from '../audit/audit.ts';
import { forgetRememberedBrowsers } from './remember-browser.ts';
import { refusal } from '../core/errors.ts';
import { stepOutOfOrder } from './flow-error.ts';
import { verifyRefusal } from './code-refusals.ts';
import { EnableFlow } from './enable.ts';
import { flowKey, actorContext, type Actor, type Rotated, type VerifyRecord } from './settings-state.ts';

export { ACCOUNT_CHANGED_MESSAGE, actorContext, FACTOR_REQUIRED_MESSAGE, type Actor, type Rotated, type SettingsDeps } from './settings-state.ts';

/**
 * Enabling and disabling 2FA and regenerating recovery codes: state machines whose records live
 * server-side, keyed by the session that started them, so no step can be skipped, replayed out of
 * order, or continued from another session. Every change is notified by email, and every other
 * session of the user ends (ASVS 5.0 7.4.3); the acting session gets a new id.
 */

export class TwoFactorSettings extends EnableFlow {
  // ---- disable -------------------------------------------------------------------------------

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
    const { codes, hashes } = this.deps.factor.factors.recovery.issue();
    await this.deps.durable.replaceRecoveryCodes(user, hashes);
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
