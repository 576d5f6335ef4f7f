import { refusal, type DomainError } from '../core/errors.ts';

/** Passkeys cannot be used from where the request came (no relying party can be decided). */
export const passkeysUnavailable = (): DomainError =>
  refusal('passkeys_unavailable');

/** An assertion that did not pass, with stable codes for the API. */
export function passkeyRefused(reason: 'no_challenge' | 'unknown_credential' | 'invalid' | 'clone_suspected' | string): DomainError {
  switch (reason) {
    case 'no_challenge':
      return refusal('passkey_challenge_expired');
    case 'unknown_credential':
      return refusal('passkey_not_recognised');
    case 'clone_suspected':
      return refusal('passkey_clone_suspected');
    default:
      return refusal('passkey_not_accepted');
  }
}
