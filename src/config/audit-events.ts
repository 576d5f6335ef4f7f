/**
 * The names of the audit events: a stable vocabulary the configuration filters by
 * (`events.webhook.events`, `events.syslog.events`), the admin API queries by, and security teams
 * match on. Here, under the recorder, so that the configuration can list them.
 */

export const AUDIT_EVENTS = [
  'login_success',
  'login_failure',
  'login_verification_required',
  'ban',
  'code_sent',
  'verification_success',
  'verification_failure',
  'factor_locked',
  'recovery_code_used',
  '2fa_enabled',
  '2fa_disabled',
  '2fa_reset',
  'destination_changed',
  'recovery_codes_regenerated',
  'step_up',
  'logout',
  'sessions_revoked',
  /** One session ended from "My sessions" (by the user) or the admin API (by support, `actor` set). */
  'session_revoked',
  'unlocked',
  'risk_assessed',
  'policy_reload',
  'admin_action',
  /** The upstream ended its session (or served its login page): the sidecar session ended too. */
  'session_ended',
  /** The app's own login or logout URL was opened while signed in: the signed-in state was shown. */
  'signed_in_page',
  /** "Don't ask again on this browser" (src/flows/remember-browser.ts): never the token itself. */
  'remembered_browser_added',
  'remembered_browser_used',
  'remembered_browser_revoked',
  /** Remembered browsers dropped by a change of the account (details: count; reason says why). */
  'remembered_browsers_dropped',
  /** Passkeys (WebAuthn, src/factors/passkey/): one added, removed, used, or refused as a likely clone. */
  'passkey_added',
  'passkey_removed',
  'passkey_used',
  'passkey_clone_suspected',
  /** "Not now" on the page of a `require_2fa` policy: one skip of the grace period counted. */
  '2fa_required_skipped',
] as const;

export type AuditEventType = (typeof AUDIT_EVENTS)[number];
