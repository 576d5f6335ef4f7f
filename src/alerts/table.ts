import type { AuditEvent } from '../audit/audit.ts';
import type { AuditEventType } from '../config/audit-events.ts';
import type { AlertsConfig } from '../config/schema/alerts.ts';

/**
 * The one table from audit records to security alerts. An alert is a consumer of the audit trail:
 * whatever a flow records, the table decides whether the account's owner hears of it, under which
 * kind (the unit of configuration and rate limiting) and with which wording (`topic`, a key of the
 * `alerts.topics` words in the page catalogues). A new factor or feature (passkeys, remembered
 * browsers, sessions) plugs in by recording its audit event and adding a row here, plus its topic's
 * words in both catalogues.
 */

export const ALERT_KINDS = ['new_browser', 'factor_changed', 'recovery_code_used', 'recovery_codes_low', 'lockout', 'support_action'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** The wording of an alert: one key per sentence in the catalogues' `alerts.topics`. */
type AlertTopic =
  | 'new_sign_in'
  | 'two_factor_on'
  | 'two_factor_off'
  | 'recovery_codes_replaced'
  | 'passkey_added'
  | 'passkey_removed'
  | 'recovery_code_used'
  | 'recovery_codes_low'
  | 'sign_in_paused'
  | 'sign_in_slowed'
  | 'factor_locked'
  | 'codes_paused'
  | 'support_reset'
  | 'support_destination'
  | 'support_sessions'
  | 'support_unlock';

/**
 * Who is told: `owner` is the account's email (and its SMS phone); `old_destination` also tells
 * the destination that was just replaced, and never the new one alone (a destination change).
 */
type AlertAudience = 'owner' | 'old_destination';

export interface AlertRule {
  readonly event: AuditEventType | (string & {});
  readonly kind: AlertKind;
  readonly topic: AlertTopic;
  readonly audience?: AlertAudience;
  /** Only records this says yes to become alerts (absent: every record of the event). */
  readonly when?: (event: AuditEvent, config: AlertsConfig) => boolean;
}

const detail = (event: AuditEvent, key: string): string | number | boolean | undefined => event.details?.[key];
/** What support (admin API, CLI) did, as opposed to the user on their own pages. */
const bySupport = (event: AuditEvent): boolean => typeof event.actor === 'string' && /^(admin|cli):/.test(event.actor);
/**
 * The login flow says, on `login_success`, whether the sign-in's device id and network were seen
 * before for the account (`new_device`, `new_network`), and `first_sign_in` when the account had
 * no sign-in on record at all: the very first sign-in is not "new" to anyone, so it alerts nobody.
 */
const newBrowserOrNetwork = (event: AuditEvent): boolean =>
  detail(event, 'first_sign_in') !== true && (detail(event, 'new_device') === true || detail(event, 'new_network') === true);
const originBan = (event: AuditEvent): boolean => detail(event, 'subject') === 'account' || detail(event, 'subject') === 'device';
const remaining = (event: AuditEvent): number | null => {
  const value = detail(event, 'remaining');
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : null;
};

export const ALERT_RULES: readonly AlertRule[] = [
  { event: 'login_success', kind: 'new_browser', topic: 'new_sign_in', when: newBrowserOrNetwork },
  { event: '2fa_enabled', kind: 'factor_changed', topic: 'two_factor_on' },
  { event: '2fa_disabled', kind: 'factor_changed', topic: 'two_factor_off' },
  { event: 'recovery_codes_regenerated', kind: 'factor_changed', topic: 'recovery_codes_replaced' },
  { event: 'passkey_added', kind: 'factor_changed', topic: 'passkey_added' },
  { event: 'passkey_removed', kind: 'factor_changed', topic: 'passkey_removed', when: (event) => event.reason !== '2fa_disabled' && !bySupport(event) },
  { event: 'recovery_code_used', kind: 'recovery_code_used', topic: 'recovery_code_used' },
  {
    event: 'recovery_code_used',
    kind: 'recovery_codes_low',
    topic: 'recovery_codes_low',
    when: (event, config) => {
      const left = remaining(event);
      return left !== null && left <= config.recovery_codes_low_threshold;
    },
  },
  // An address's own ban says nothing about one account; throttling and account/device bans do.
  { event: 'ban', kind: 'lockout', topic: 'sign_in_slowed', when: (event) => detail(event, 'subject') === 'throttle' },
  // A paused origin after wrong passwords, or after wrong codes (the password was right: `codes_paused`).
  { event: 'ban', kind: 'lockout', topic: 'sign_in_paused', when: (event) => originBan(event) && detail(event, 'scope') !== 'second_factor' },
  { event: 'ban', kind: 'lockout', topic: 'codes_paused', when: (event) => originBan(event) && detail(event, 'scope') === 'second_factor' },
  // The failure that locks the codes (as the attack notice was sent then), and later refused attempts.
  { event: 'verification_failure', kind: 'lockout', topic: 'factor_locked', when: (event) => detail(event, 'locks_factor') === 1 },
  { event: 'factor_locked', kind: 'lockout', topic: 'factor_locked' },
  { event: '2fa_reset', kind: 'support_action', topic: 'support_reset', audience: 'old_destination', when: bySupport },
  { event: 'destination_changed', kind: 'support_action', topic: 'support_destination', audience: 'old_destination', when: bySupport },
  { event: 'sessions_revoked', kind: 'support_action', topic: 'support_sessions', when: bySupport },
  { event: 'session_revoked', kind: 'support_action', topic: 'support_sessions', when: bySupport },
  { event: 'unlocked', kind: 'support_action', topic: 'support_unlock', when: bySupport },
];

export interface AlertIntent {
  readonly kind: AlertKind;
  readonly topic: AlertTopic;
  readonly audience: AlertAudience;
  readonly user: string;
  readonly event: AuditEvent;
}

/**
 * The alerts one audit record calls for under the config: none for records without an account,
 * for disabled kinds, or when alerts are off. Pure (the dispatcher does the I/O).
 */
export function alertsFor(event: AuditEvent, config: AlertsConfig, rules: readonly AlertRule[] = ALERT_RULES): AlertIntent[] {
  if (!config.enabled || event.user === undefined || event.user === '') return [];
  const out: AlertIntent[] = [];
  for (const rule of rules) {
    if (rule.event !== event.event || !config.events[rule.kind]) continue;
    if (rule.when && !rule.when(event, config)) continue;
    out.push({ kind: rule.kind, topic: rule.topic, audience: rule.audience ?? 'owner', user: event.user, event });
  }
  return out;
}
