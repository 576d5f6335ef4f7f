import { attackMarkKey, LEGACY_ONLY, type OwnerMessageRoute } from '../alerts/owner-message.ts';
import type { AuditRecorder } from '../audit/audit.ts';
import type { Channel } from '../channels/channel.ts';
import { attackNoticeMessage, type AttackNoticeKind } from '../channels/templates.tsx';
import type { Logger } from '../observability/logger.ts';
import type { Clock } from '../core/clock.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';

/**
 * Tells an account's owner by email that someone is failing to sign in to it (THREATS T21): sign-in
 * from some place was paused, the account is being slowed down, or wrong codes were entered after a
 * correct password. At most one notice of each kind per account per `everyMs` (shared by every
 * replica through the ephemeral store), so an attack cannot turn the sidecar into a mail cannon, and
 * only to accounts known to exist here (an enrollment or a verified sign-in), so guessed addresses
 * get nothing. A notice holds no secret: no code, no password, no address of the attacker.
 */
export interface AttackNoticeDeps {
  readonly store: EphemeralStore;
  readonly email: Channel;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly audit?: AuditRecorder;
  readonly product: string;
  readonly support: string;
  readonly everyMs: number;
  /** Whether the account is a real one of this deployment (never notify a guessed address). */
  readonly accountKnown: (account: string) => Promise<boolean>;
  /** Where the account's email goes; null when it has none that is known. */
  readonly addressOf?: (account: string) => Promise<string | null>;
  /**
   * Whether the owner hears of attacks through the `lockout` security alert instead (it then
   * carries what this notice says, with the same once-per-`everyMs` limit): src/alerts/owner-message.ts.
   */
  readonly ownerMessages?: OwnerMessageRoute;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export class AttackNotifier {
  constructor(private readonly deps: AttackNoticeDeps) {}

  /** Never throws: a lost notice is logged, the sign-in answer is not changed by it. */
  async notify(account: string, kind: AttackNoticeKind): Promise<void> {
    if ((this.deps.ownerMessages ?? LEGACY_ONLY)('attack') === 'alert') return;
    try {
      const to = this.deps.addressOf ? await this.deps.addressOf(account) : EMAIL.test(account) ? account : null;
      if (to === null) return;
      // Password attacks and code attacks are told apart: the second means the password is known.
      const family = kind === 'password' ? 'password' : 'code';
      if (!(await this.deps.accountKnown(account))) return;
      if (!(await this.deps.store.setIfAbsent(attackMarkKey(family, account), '1', this.deps.everyMs))) return;
      const message = attackNoticeMessage({ kind, time: new Date(this.deps.clock.now()), product: this.deps.product, support: this.deps.support });
      await this.deps.email.send({ kind: 'email', to, subject: message.subject, text: message.text, html: message.html, purpose: 'notification' });
      this.deps.logger.info({ event: 'attack_notice_sent', user: account, kind }, 'owner told about failed sign-in attempts');
    } catch (error) {
      this.deps.logger.error({ err: error, user: account, kind }, 'attack notice could not be sent');
    }
  }
}
