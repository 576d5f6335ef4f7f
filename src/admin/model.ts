import type { AuditQuery, AuditRecorder } from '../audit/audit.ts';
import type { RememberedBrowsers } from '../flows/remember-browser.ts';
import type { Channel } from '../channels/channel.ts';
import { checkIdentifier, EMAIL_IDENTITY, type IdentityRules } from '../directory/identity.ts';
import type { Contacts } from '../directory/index.ts';
import type { Regulation } from '../flows/regulation.ts';
import type { SecondFactor } from '../flows/second-factor.ts';
import type { Logger } from '../observability/logger.ts';
import type { RiskHistoryStore } from '../risk/history.ts';
import type { Clock } from '../core/clock.ts';
import type { SessionService } from '../session/sessions.ts';
import type { DurableStore, FactorMethod } from '../store/durable.ts';
import type { PasskeyStore } from '../factors/passkey/store.ts';
import type { OwnerMessageRoute } from '../alerts/owner-message.ts';
import type { AccountGenerations } from '../flows/account-generation.ts';
import type { ActiveSessions } from '../flows/active-sessions.ts';

/* What the support operations (operations.ts) take and answer, their errors, and how their inputs are read. */

export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

/** Who is acting, for the audit record: `admin:<token name>` (API) or `cli:<os user>` (CLI). */
export interface AdminActor {
  readonly actor: string;
  readonly requestId?: string;
  readonly client?: string;
}

/** The actor as audit records and flow contexts carry it (the request and client only when known). */
export function actorFields(by: AdminActor): AdminActor {
  return {
    actor: by.actor,
    ...(by.requestId !== undefined ? { requestId: by.requestId } : {}),
    ...(by.client !== undefined ? { client: by.client } : {}),
  };
}

/**
 * Sessions, bans and lockouts live in the ephemeral store. The service always sees them; the CLI
 * sees them only when that store is shared (Redis), not with the embedded in-memory store.
 */
export interface LiveState {
  readonly sessions: Pick<SessionService, 'revokeUser'>;
  readonly regulation: Pick<Regulation, 'unlock' | 'accountState'>;
  readonly factor: Pick<SecondFactor, 'unlock' | 'lockState'>;
  /** Ends the account's pending sign-ins, 2FA flows and step-ups on every replica (THREATS T18). */
  readonly accounts: Pick<AccountGenerations, 'bump'>;
  /** The account's sessions one by one (the service only: ending one replays the app's logout). */
  readonly activeSessions?: Pick<ActiveSessions, 'list' | 'revoke'>;
}

export interface AdminOperationsDeps {
  readonly durable: DurableStore;
  readonly riskHistory: RiskHistoryStore;
  /** Where admin actions are recorded and audit queries answered. */
  readonly audit: AuditRecorder & AuditQuery;
  /** null: this process cannot reach sessions and bans (see LiveState); `liveUnavailable` says why. */
  readonly live: LiveState | null;
  readonly liveUnavailable?: string;
  /** The email channel security notifications go through. */
  readonly email: Channel;
  readonly smsCountryAllowed: (e164: string) => boolean;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly product: string;
  readonly support: string;
  /** How account identifiers are written (`login.identifier`); default email addresses. */
  readonly identity?: IdentityRules;
  /** Where the account's email address comes from for notifications (the directory). */
  readonly contacts?: Contacts;
  /** Remembered browsers (issue 17): listed in the status, dropped by every support action. */
  readonly remembered?: RememberedBrowsers | undefined;
  /** The accounts' passkeys: a 2FA reset removes them too (they sit on top of the enrollment). */
  readonly passkeys?: Pick<PasskeyStore, 'removeAll'>;
  /**
   * Whether the owner's message about a reset or a destination change is the security alert
   * (src/alerts/owner-message.ts); absent (the CLI, which runs no alert dispatcher): the email notice.
   */
  readonly ownerMessages?: OwnerMessageRoute;
}

export type KnownBy = 'enrollment' | 'sign_in_history' | 'audit' | 'lockout';

export interface UserStatus {
  readonly user: string;
  readonly known_by: KnownBy[];
  readonly two_factor:
    | { readonly enabled: false }
    | {
        readonly enabled: true;
        readonly method: FactorMethod;
        /** The full phone or address, for support to compare with what the merchant says. */
        readonly destination: string | null;
        readonly destination_masked: string | null;
        readonly created_at: string;
        readonly updated_at: string;
        readonly recovery_codes_left: number;
      };
  /** null when this process cannot see lockouts (CLI on the embedded store). */
  readonly lockout: {
    readonly second_factor: {
      readonly locked: boolean;
      readonly consecutive_failures: number;
      readonly locked_for_seconds: number | null;
      readonly banned_for_seconds: number | null;
    };
    readonly login: { readonly banned_for_seconds: number | null; readonly recent_failures: number };
  } | null;
  readonly last_sign_in: { readonly at: string; readonly network: string } | null;
  /** Browsers that skip the sign-in second factor ("remember this browser"); absent when the feature is not wired. */
  readonly remembered_browsers?: RememberedBrowserView[];
}

interface RememberedBrowserView {
  readonly id: string;
  readonly label: string;
  readonly created_at: string;
  readonly last_used_at: string;
  readonly expires_at: string;
}

export function rememberedBrowserView(r: { id: string; label: string; createdAt: number; lastUsedAt: number; expiresAt: number }): RememberedBrowserView {
  return { id: r.id, label: r.label, created_at: new Date(r.createdAt).toISOString(), last_used_at: new Date(r.lastUsedAt).toISOString(), expires_at: new Date(r.expiresAt).toISOString() };
}

export interface ActionResult {
  readonly user: string;
  readonly action: 'reset_2fa' | 'set_destination' | 'revoke_sessions' | 'revoke_session' | 'unlock' | 'revoke_remembered_browsers';
  /** Whether every session of the account was ended (false only where live state is unreachable). */
  readonly sessions_revoked: boolean;
  /** Whether the account was told by email (false for revoke/unlock, which change no factor). */
  readonly notified: boolean;
  readonly warnings: string[];
  readonly [extra: string]: unknown;
}

const MAX_REASON = 500;
export const EMAIL = /^[^\s@"<>()[\]\\,;:]{1,64}@(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/**
 * An account identifier as the sidecar keys it (canonicalised as at sign-in); 400 when it cannot
 * be one. With `login.identifier: username` any sane username is accepted (length, no control
 * characters); the app, not the sidecar, knows which exist.
 */
export function parseAccount(raw: unknown, rules: IdentityRules = EMAIL_IDENTITY): string {
  const checked = checkIdentifier(raw, rules);
  if (!checked.ok) throw new AdminError(400, rules.kind === 'email' ? 'invalid_email' : 'invalid_identifier', checked.message);
  return checked.identity;
}

/** The reason support gives for a change: required, 1 to 500 characters, one line of text. */
export function parseReason(raw: unknown): string {
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) {
    throw new AdminError(400, 'reason_required', 'Give a reason for this change (1 to 500 characters), e.g. the support ticket; it is kept in the audit log.');
  }
  if (typeof raw !== 'string') throw new AdminError(400, 'invalid_reason', 'The reason must be text.');
  const reason = raw.trim();
  if (reason.length > MAX_REASON) throw new AdminError(400, 'invalid_reason', `The reason is too long (${reason.length} characters; at most ${MAX_REASON}).`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(reason)) throw new AdminError(400, 'invalid_reason', 'The reason must be one line of text without control characters.');
  return reason;
}

