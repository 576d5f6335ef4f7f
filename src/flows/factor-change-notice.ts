import { LEGACY_ONLY, sendLegacyNotice } from '../alerts/owner-message.ts';
import type { FactorMethod } from '../store/durable.ts';
import type { Actor, SettingsDeps } from './settings-state.ts';

export type FactorChangeEvent = '2fa_enabled' | '2fa_disabled' | 'recovery_codes_regenerated';

type NoticeDeps = Pick<SettingsDeps, 'contacts' | 'ownerMessages' | 'logger' | 'clock' | 'product' | 'support' | 'email'>;

/**
 * Tells the account's owner by email that 2FA changed (one message per event: the factor_changed
 * alert instead when alerts are on). A notice that cannot be sent is logged; the change stands.
 */
export async function tellOwner(deps: NoticeDeps, actor: Actor, event: FactorChangeEvent, method?: FactorMethod): Promise<void> {
  const user = actor.session.user;
  const contact = await deps.contacts.of(user, { upstreamCookies: actor.session.upstreamCookies, requestId: actor.requestId });
  // One message per event (src/alerts/owner-message.ts): the factor_changed alert, queued from
  // the audit record, is it when on (it logs its own no_recipient). The address was still looked
  // up with the user's session: the alert, sent without it, finds it kept (watchContacts).
  if ((deps.ownerMessages ?? LEGACY_ONLY)(event) === 'alert') return;
  if (!contact.ok || !contact.email) {
    deps.logger.warn({ event: 'notification_skipped', user, reason: contact.ok ? 'no_email_known' : contact.reason }, 'security notification not sent: no email address is known for the account');
    return;
  }
  await sendLegacyNotice(deps, contact.email, user, event, method);
}
