/**
 * Where an account's email address and phone number come from (DESIGN §3): the app's JSON
 * profile, an HTML page of the app, or a read-only query on the app's own database. Flows ask the
 * directory just before sending a code, so a change made in the app is seen at once.
 */

export interface DirectoryEntry {
  /** A valid email address, or null when none is known (anything else the source held is dropped). */
  readonly email: string | null;
  /** E.164, or null when none is known. */
  readonly phone: string | null;
  /**
   * The account's roles/groups, lower-cased (policy `require_2fa.roles`); absent when this
   * directory is not configured to give roles, empty when it gives none for the account.
   */
  readonly roles?: readonly string[];
}

export type DirectoryFailureReason =
  /** The source could not be reached (database down, upstream unreachable or timing out). */
  | 'unavailable'
  /** The source answered with an error (SQL error, non-200 page, unparsable profile). */
  | 'source_error'
  /** No row / no page for this account. */
  | 'not_found'
  /** Several rows: which one is this account's is unknowable, so none is used. */
  | 'ambiguous'
  /** The source says the upstream session belongs to another account. */
  | 'account_mismatch'
  /** The kind needs the user's upstream session and there is none (e.g. support tools). */
  | 'no_session';

export type DirectoryResult =
  | { readonly ok: true; readonly entry: DirectoryEntry }
  | { readonly ok: false; readonly reason: DirectoryFailureReason; readonly message: string };

export interface LookupContext {
  /** The user's upstream session cookies (profile and html kinds read the app with them). */
  readonly upstreamCookies: Readonly<Record<string, string>>;
  readonly requestId?: string | undefined;
}

export interface Directory {
  readonly kind: string;
  /** Configured to give roles/groups (`roles_field`, `roles`, `roles_column`); a role filter needs it. */
  readonly providesRoles?: boolean;
  lookup(identifier: string, context: LookupContext): Promise<DirectoryResult>;
  /**
   * The account an upstream session belongs to, as the app says (canonicalised by the caller), or
   * null when this directory cannot tell. Used where a session must be tied to one account.
   */
  accountOfSession?(context: LookupContext): Promise<string | null>;
  close(): Promise<void>;
}

export const found = (entry: DirectoryEntry): DirectoryResult => ({ ok: true, entry });
export const failed = (reason: DirectoryFailureReason, message: string): DirectoryResult => ({ ok: false, reason, message });

/** A GET of an app page with the user's upstream session, server-side (profile and html kinds). */
export interface SessionFetcher {
  fetchWithSession(
    path: string,
    cookies: Readonly<Record<string, string>>,
    accept: string,
    requestId: string,
  ): Promise<{ readonly status: number; readonly body: Buffer } | { readonly error: string }>;
}
