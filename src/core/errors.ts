/**
 * The sidecar's refusals by stable code: one row per code with its HTTP status and the English
 * words of the JSON API. The codes are an API (clients and tests match on them), so a row's code
 * and status never change; pages word the same codes in both languages in src/i18n (`flow`
 * and `passkey.errors`, chosen by src/pages/flow-messages.ts). A new refusal adds a row here and
 * its page words there.
 */

export interface ErrorRow {
  readonly status: number;
  /** The JSON `message` unless the refusal gives its own (a channel's words, a count). */
  readonly message: string;
}

export const ERRORS = {
  // ---- flow order and account state (THREATS T18) ----
  step_out_of_order: { status: 409, message: 'This step is not the next one. Please start again from the beginning.' },
  account_changed: {
    status: 409,
    message: "Your account's security settings changed while you were doing this (in another session, or by support), so this step has ended. Please start again.",
  },
  login_required: { status: 401, message: 'Your session has ended. Sign in again.' },
  account_mismatch: { status: 409, message: 'Your session with the app belongs to another account. Sign out and sign in again.' },
  directory_unavailable: { status: 503, message: 'Your email address and phone number cannot be looked up right now. Please try again in a moment.' },
  no_contact_on_file: { status: 409, message: 'No email address or phone number is known for your account, so a code cannot be sent to check that it is you.' },
  no_email_on_file: {
    status: 409,
    message: 'This operation needs a code sent to your email address, but no email address is known for your account, so none was sent. Contact your administrator to add one.',
  },

  // ---- password re-check ----
  password_required: { status: 400, message: 'Enter your password to continue.' },
  invalid_credentials: { status: 401, message: 'The password is not correct.' },
  upstream_unavailable: { status: 503, message: 'Your password cannot be checked right now. Please try again in a moment.' },
  upstream_error: { status: 502, message: 'Your password cannot be checked right now because the app answered unexpectedly. Please try again later.' },

  // ---- codes: verifying (flows/code-refusals.ts maps every VerifyResult here) ----
  invalid_code: { status: 401, message: 'That code is not correct.' },
  code_expired: { status: 410, message: 'That code has expired. Ask for a new one.' },
  invalid_code_format: { status: 400, message: 'Enter the code as digits only.' },
  too_many_attempts: { status: 429, message: 'Too many wrong codes. Try again later.' },

  // ---- codes: sending (flows/code-refusals.ts maps every SendResult here) ----
  too_many_codes: { status: 429, message: 'A code was sent recently. Please wait before asking for another.' },
  sms_country_not_allowed: { status: 400, message: 'Text messages cannot be sent to this country.' },
  delivery_failed: { status: 502, message: 'The code could not be sent. Please try again in a moment.' },
  not_applicable: { status: 400, message: 'Your authenticator app shows the code; nothing is sent.' },

  // ---- enabling, changing, disabling ----
  already_enabled: { status: 409, message: 'Two-factor authentication is already on. Turn it off first to change the method.' },
  not_enabled: { status: 409, message: 'Two-factor authentication is not on.' },
  '2fa_required_by_policy': {
    status: 409,
    message: 'Your organisation requires two-step verification, so it cannot be turned off. You can change the method instead, or ask support to reset it if you lost your device.',
  },
  same_channel: {
    status: 400,
    message: 'You confirmed it is you with a code sent to this same address or phone, so it cannot also be your second step. Choose another method, or confirm it is you another way first.',
  },
  invalid_channel: { status: 400, message: 'Choose email or sms.' },
  invalid_method: { status: 400, message: 'Choose totp, sms or email.' },
  method_not_offered: { status: 400, message: 'That method is not offered.' },
  invalid_phone: { status: 400, message: 'Enter the phone number in international format, e.g. +1 555 555 0189.' },
  phone_mismatch: { status: 400, message: 'Codes go to the phone number on your account. Contact support to change it.' },
  phone_required: { status: 400, message: 'Enter the phone number that should receive codes.' },

  // ---- step-up ----
  no_step_up: { status: 409, message: 'There is nothing to verify right now. Go back and try the operation again.' },
  phishing_resistant_required: {
    status: 403,
    message: 'This operation needs a passkey or security key. Add one under Login & Security first, or ask your administrator.',
  },

  // ---- passkeys ----
  two_factor_required: {
    status: 409,
    message: 'Turn on two-factor authentication first: passkeys are added next to your authenticator app, text messages or email codes.',
  },
  verification_required: { status: 403, message: 'Confirm it is you first: enter your password, then a code of your two-factor method.' },
  too_many_passkeys: { status: 409, message: 'You already have the most passkeys allowed. Remove one before adding another.' },
  invalid_passkey_name: { status: 400, message: 'Give the passkey a name of 1 to 64 characters, e.g. "Work laptop".' },
  invalid_passkey_id: { status: 400, message: 'Say which passkey to remove.' },
  passkey_exists: { status: 409, message: 'This passkey is already on your account.' },
  passkey_not_found: { status: 404, message: 'That passkey is not on your account (it may have been removed already).' },
  passkeys_unavailable: {
    status: 409,
    message: 'Passkeys cannot be used at this address. Open the site at its usual address, or ask your administrator to set public_url or webauthn.origins.',
  },
  passkey_not_applicable: { status: 409, message: 'This verification needs a code sent to your email address; a passkey cannot be used for it.' },
  no_passkey: { status: 409, message: 'Your account has no passkey. Use a code instead.' },
  passkey_challenge_expired: { status: 409, message: 'This passkey request has expired or was already used. Try again.' },
  passkey_not_recognised: { status: 401, message: 'That passkey is not registered for your account. Try another one, or use a code.' },
  passkey_clone_suspected: {
    status: 401,
    message: 'This passkey was refused because it may have been copied. Use another method, and contact support if this keeps happening.',
  },
  passkey_not_accepted: { status: 401, message: 'The passkey could not be verified for this site. Try again, or use a code.' },
} as const satisfies Readonly<Record<string, ErrorRow>>;

export type ErrorCode = keyof typeof ERRORS;

export interface RefusalOptions {
  /** Facts for the client (`retry_after`, `attempts_left`…): sent in the JSON body next to `error`. */
  readonly extra?: Readonly<Record<string, unknown>>;
  /** The JSON words when the row's do not fit (a channel's own message, a number in the sentence). */
  readonly message?: string;
  /**
   * The page catalogue's key when the code has more than one wording (default: the code), e.g.
   * `invalid_code_format_or_recovery` where a recovery code would also have been taken.
   */
  readonly words?: string;
  /** Only for a row whose code two surfaces answer differently (passkey_not_accepted: 400 when adding). */
  readonly status?: number;
}

/** A refusal with a stable code: what the person is told, never a crash. */
export class DomainError extends Error {
  readonly status: number;
  readonly extra: Readonly<Record<string, unknown>>;
  /** The page catalogue key (src/pages/flow-messages.ts). */
  readonly words: string;
  constructor(
    readonly code: string,
    options: RefusalOptions & { readonly status: number; readonly message: string },
  ) {
    super(options.message);
    this.name = 'DomainError';
    this.status = options.status;
    this.extra = options.extra ?? {};
    this.words = options.words ?? code;
  }
}

/** The refusal of `code`, its status and words from the table. */
export function refusal(code: ErrorCode, options: RefusalOptions = {}): DomainError {
  const row: ErrorRow = ERRORS[code];
  return new DomainError(code, { ...options, status: options.status ?? row.status, message: options.message ?? row.message });
}

/** Seconds for `retry_after` and Retry-After: never 0 (a client would retry at once). */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
