/**
 * The one place an account identifier becomes the key everything else uses (sessions, enrollments,
 * regulation, risk history, audit, the admin API and CLI). Two spellings of one account must map
 * to one key, or a second enrollment could be made for the same upstream account (issue 14).
 *
 * Email addresses fold case (providers treat them so, and the sidecar always has); usernames keep
 * their case unless the app compares them without it (`login.identifier_case: insensitive`),
 * because on case-sensitive apps `Admin` and `admin` are two accounts. Both are trimmed and put in
 * Unicode NFC, so a composed and a decomposed "é" are one spelling.
 */

type IdentifierKind = 'email' | 'username';

export interface IdentityRules {
  readonly kind: IdentifierKind;
  /** Only for usernames: fold case as well (email addresses always fold). */
  readonly caseInsensitive: boolean;
}

export const EMAIL_IDENTITY: IdentityRules = { kind: 'email', caseInsensitive: true };

/** Longest identifier accepted anywhere (an email address is at most 254 characters). */
const MAX_IDENTIFIER_LENGTH = 254;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

const EMAIL_ADDRESS =
  /^[^\s@"<>()[\]\\,;:]{1,64}@(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** Whether a value is an email address codes can be sent to (not merely something with an @). */
export function isEmailAddress(value: string): boolean {
  return value.length <= 254 && EMAIL_ADDRESS.test(value);
}

/** The canonical key of an identifier. Does not validate: see `checkIdentifier`. */
export function canonicalIdentity(raw: string, rules: IdentityRules): string {
  const trimmed = raw.trim().normalize('NFC');
  return rules.kind === 'email' || rules.caseInsensitive ? trimmed.toLowerCase() : trimmed;
}

type IdentifierCheck = { readonly ok: true; readonly identity: string } | { readonly ok: false; readonly message: string };

/**
 * Canonicalises an identifier given by support or read from a URL and says what is wrong with it,
 * if anything. An account keyed by email must still look like one; a username only has to be a
 * sane string: the app decides what usernames exist.
 */
export function checkIdentifier(raw: unknown, rules: IdentityRules): IdentifierCheck {
  if (typeof raw !== 'string') return { ok: false, message: 'The account identifier must be text.' };
  const identity = canonicalIdentity(raw, rules);
  if (identity.length === 0) return { ok: false, message: 'The account identifier is empty.' };
  if (identity.length > MAX_IDENTIFIER_LENGTH) return { ok: false, message: `The account identifier is too long (at most ${MAX_IDENTIFIER_LENGTH} characters).` };
  if (CONTROL.test(identity)) return { ok: false, message: 'The account identifier contains control characters.' };
  if (rules.kind === 'email' && !isEmailAddress(identity)) {
    return { ok: false, message: 'The account must be an email address such as merchant@example.com (this sidecar signs in by email: login.identifier).' };
  }
  return { ok: true, identity };
}
