import type { Channel } from '../channels/channel.ts';
import type { FactorMethod, SealedSecret, TotpParameters } from '../store/durable.ts';

/**
 * One second-factor method behind one interface (as better-auth's plugins/two-factor/<method>/ and
 * Kratos' selfservice/strategy/<method>/). The flows (login, enable, change, disable, step-up,
 * recovery codes) ask a factor only these questions; how codes are made, sent and compared stays
 * in the factor's folder. What every code shares (the failure cap, the replay guard of one-time
 * codes, the send budget, the audit trail) is kept by flows/second-factor.ts around these calls.
 */

/** What an enrollment keeps for its factor; the same two fields the durable store writes. */
export interface FactorMaterial {
  /** Where codes are sent (E.164 phone, email address); null: nothing is sent. */
  readonly destination: string | null;
  /** A sealed device secret (TOTP); null: none. */
  readonly totp: { readonly secret: SealedSecret; readonly parameters: TotpParameters } | null;
}

/** A factor's answer to one code (the flows add the account-wide cap around it). */
export type CodeVerdict =
  | { readonly ok: true }
  /** `attemptsLeft` < 0: the factor counts no attempts of its own (the account's count applies). */
  | { readonly ok: false; readonly reason: 'invalid'; readonly attemptsLeft: number }
  | { readonly ok: false; readonly reason: 'expired' }
  | { readonly ok: false; readonly reason: 'too_many_attempts'; readonly retryAfterMs: number }
  | { readonly ok: false; readonly reason: 'malformed' };

/** One code to check: digits, whitespace removed, for one flow's key. */
export interface CodeCheck {
  readonly account: string;
  readonly flowKey: string;
  readonly code: string;
  /** The enrollment's material, or the material of one being set up (enable's confirm step). */
  readonly material: FactorMaterial;
}

/** What the enable flow knows when the person picks this method. */
export interface EnrollChoice {
  readonly account: string;
  /** The account's address and phone from the directory (null: none known). */
  readonly email: string | null;
  readonly phone: string | null;
  /** What the person typed with the choice (a phone number), unchecked. */
  readonly given: unknown;
}

/** How an enrollment is confirmed: by a code the factor shows how to get, or by one it sends. */
export type EnrollSetup =
  | {
      readonly kind: 'shown';
      readonly material: FactorMaterial;
      /** Fields for the page and the JSON answer (TOTP: secret, otpauth_uri, qr_svg). */
      readonly shown: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'sent'; readonly material: FactorMaterial & { readonly destination: string } };

/** How a factor sends its codes (absent: the person reads them off a device). */
export interface CodeSender {
  readonly channel: Channel;
  /** The channel's message kind. */
  readonly kind: 'sms' | 'email';
  /** Whether a code may go to this destination now (SMS: the country allow-list). */
  allowed(destination: string): boolean;
}

export interface Factor {
  readonly method: FactorMethod;
  /** Present when codes are sent: the flows send one at each step that asks for a code. */
  readonly sender?: CodeSender | undefined;
  /** The destination as pages and answers show it (masked); null when there is none to show. */
  describe(destination: string | null): string | null;
  /** Whether enabling may offer this method, from what is known of the account. */
  offered(known: { readonly email: string | null; readonly phone: string | null }): boolean;
  /** Prepares a new enrollment of this method; throws a refusal (src/core/errors.ts) when it cannot. */
  enroll(choice: EnrollChoice): Promise<EnrollSetup>;
  /** Checks one code against the material. */
  verify(check: CodeCheck): Promise<CodeVerdict>;
}
