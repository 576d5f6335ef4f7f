import { refusal } from '../core/errors.ts';

/**
 * "The same channel never counts as both the identity check and the second factor" (Ory Kratos
 * #4317, NIST SP 800-63B §5.1.3: the out-of-band proof must come from a separate channel).
 *
 * In this codebase the place it can happen is the enable flow: it first checks who this is with a
 * code sent to the account's email or phone on file, then enrolls the second factor and proves it
 * with a code. Were the identity code and the new factor's code to go to the same inbox or phone,
 * one mailbox would be the whole proof twice: anyone holding the password and that mailbox would
 * pass both steps and end up "with 2FA". So in one flow a destination that proved identity cannot
 * also be enrolled (and confirmed) as the second factor: choose another method (an authenticator
 * app, or the other channel), or prove identity through the other channel first.
 *
 * Elsewhere the channels do not meet: sign-in is password + the enrolled factor (or, for risky
 * sign-ins without 2FA, password + an email code, which never enrolls anything); step-up asks one
 * fresh proof; disabling, regenerating codes and changing the method prove the enrolled factor
 * itself; support resets are a support action, not a proof. A sign-in's codes are bound to its
 * pending login, and an enable flow's identity code to `identity:<session>`, so no code is ever
 * accepted for another step (factors/one-time-codes.ts keys each code by flow).
 */

/** What proved identity in a flow: the channel and the destination the code went to. */
export interface IdentityProof {
  readonly channel: 'email' | 'sms';
  readonly destination: string | null;
}

/** Normalised for comparison: email addresses case-insensitively, phone numbers as E.164. */
function same(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

/** The identity proof recorded in an enable flow record (none before the identity step). */
export function identityProofOf(record: { readonly identityChannel?: 'email' | 'sms' | undefined; readonly identityDestination?: string | null | undefined; readonly email?: string | null | undefined; readonly phone?: string | null }): IdentityProof | null {
  if (!record.identityChannel) return null;
  // Records written before the destination was kept: the channel's destination on file.
  const destination = record.identityDestination !== undefined ? record.identityDestination : record.identityChannel === 'email' ? (record.email ?? null) : (record.phone ?? null);
  return { channel: record.identityChannel, destination };
}

/**
 * Whether enrolling a factor that sends by `channel` (its CodeSender kind; null or any other name:
 * nothing is sent the way identity was proven) at `destination` would reuse that proof.
 */
export function provenByIdentity(proof: IdentityProof | null, channel: string | null, destination: string | null): boolean {
  if (proof === null || channel === null) return false;
  if (channel !== proof.channel) return false;
  // Same channel, and the same destination (or one that cannot be told apart): the same proof.
  return destination === null || proof.destination === null || same(destination, proof.destination);
}

const SAME_CHANNEL_MESSAGE =
  'You confirmed it is you with a code sent to this same address or phone, so it cannot also be your second step. Choose another method (such as an authenticator app), or confirm it is you through the other channel first.';

export function refuseSameChannel(proof: IdentityProof | null, channel: string | null, destination: string | null): void {
  if (provenByIdentity(proof, channel, destination)) throw refusal('same_channel', { message: SAME_CHANNEL_MESSAGE, extra: { channel } });
}
