import type { AlertsConfig } from '../config/schema/alerts.ts';
import type { AlertKind } from './table.ts';
import type { Channel } from '../channels/channel.ts';
import { notificationMessage, type SecurityEvent } from '../channels/templates.tsx';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../observability/logger.ts';
import type { FactorMethod } from '../store/durable.ts';

/**
 * ONE message to the account's owner per event (README "Security alerts", "What the owner is
 * told"). Before the security alerts, the flows sent their own English-only notices; now each of
 * those events is covered by an alert kind, and this is the one place that says which of the two
 * the owner gets:
 *
 * - alerts on (`alerts.enabled`) and the covering kind on (`alerts.events.<kind>`): the alert is the
 *   message (in the account's language, with the "this wasn't me" advice); the legacy notice is not sent;
 * - otherwise: the legacy notice is sent as before, so switching an alert kind off never leaves the
 *   owner without the message they used to get.
 *
 * Where no alert dispatcher runs (the `admin` CLI commands, which work on the stores from outside
 * the server) the flows are given no config and the legacy notice is always sent.
 */

/** The legacy owner notices, by what they are about. */
export type LegacyNotice =
  | '2fa_enabled'
  | '2fa_disabled'
  | 'recovery_codes_regenerated'
  | 'passkey_added'
  | 'passkey_removed'
  | '2fa_reset'
  | 'destination_changed'
  /** The attack notice (THREATS T21): failed sign-in attempts, a paused origin, locked codes. */
  | 'attack';

/** The alert kind whose alert replaces each legacy notice. */
export const ALERT_KIND_OF: Readonly<Record<LegacyNotice, AlertKind>> = {
  '2fa_enabled': 'factor_changed',
  '2fa_disabled': 'factor_changed',
  recovery_codes_regenerated: 'factor_changed',
  passkey_added: 'factor_changed',
  passkey_removed: 'factor_changed',
  '2fa_reset': 'support_action',
  destination_changed: 'support_action',
  attack: 'lockout',
};

/** What the flows hold: a question with one answer per notice (no config: always the legacy notice). */
export type OwnerMessageRoute = (notice: LegacyNotice) => 'alert' | 'legacy';

/** True when the owner's message about `notice` is the security alert (the legacy notice is then not sent). */
export function viaAlerts(config: Pick<AlertsConfig, 'enabled' | 'events'> | null | undefined, notice: LegacyNotice): boolean {
  return config !== null && config !== undefined && config.enabled && config.events[ALERT_KIND_OF[notice]];
}

/** The route for a running server's alerts config. */
export function ownerMessageRoute(config: Pick<AlertsConfig, 'enabled' | 'events'> | null | undefined): OwnerMessageRoute {
  return (notice) => (viaAlerts(config, notice) ? 'alert' : 'legacy');
}

/** For flows built without alerts (the CLI): every legacy notice is sent. */
export const LEGACY_ONLY: OwnerMessageRoute = () => 'legacy';

/**
 * The once-per-`regulation.notify_every` mark of an attack on an account, per family ('password':
 * wrong passwords; 'code': the right password, then wrong codes). Shared by the attack notice and
 * the `lockout` alert, and by every replica (ephemeral store): an attack tells the owner once.
 */
export function attackMarkKey(family: 'password' | 'code', account: string): string {
  return `notice:attack:${family}:${account}`;
}

/** What sending a legacy notice needs. */
export interface NoticeSender {
  readonly email: Channel;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly product: string;
  readonly support: string;
}

/**
 * Sends the legacy English notice of `event` to `to`; false when it could not be sent. The change
 * it reports stands either way: a lost notice is logged for support rather than undoing it.
 */
export async function sendLegacyNotice(deps: NoticeSender, to: string, user: string, event: SecurityEvent, method?: FactorMethod): Promise<boolean> {
  const message = notificationMessage({
    event,
    ...(method ? { method } : {}),
    time: new Date(deps.clock.now()),
    product: deps.product,
    support: deps.support,
  });
  try {
    await deps.email.send({ kind: 'email', to, subject: message.subject, text: message.text, html: message.html, purpose: 'notification' });
    return true;
  } catch (error) {
    deps.logger.error({ err: error, user, event }, 'security notification could not be sent');
    return false;
  }
}
