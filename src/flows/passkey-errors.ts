import { FlowError } from './flow-error.ts';

/** Passkeys cannot be used from where the request came (no relying party can be decided). */
export const passkeysUnavailable = (): FlowError =>
  new FlowError(409, 'passkeys_unavailable', 'Passkeys cannot be used at this address. Open the site at its usual address, or ask your administrator to set public_url or webauthn.origins.');

/** An assertion that did not pass, with stable codes for the API. */
export function passkeyRefused(reason: 'no_challenge' | 'unknown_credential' | 'invalid' | 'clone_suspected' | string): FlowError {
  switch (reason) {
    case 'no_challenge':
      return new FlowError(409, 'passkey_challenge_expired', 'This passkey request has expired or was already used. Try again.');
    case 'unknown_credential':
      return new FlowError(401, 'passkey_not_recognised', 'That passkey is not registered for your account. Try another one, or use a code.');
    case 'clone_suspected':
      return new FlowError(401, 'passkey_clone_suspected', 'This passkey was refused because it may have been copied. Use another method, and contact support if this keeps happening.');
    default:
      return new FlowError(401, 'passkey_not_accepted', 'The passkey could not be verified for this site. Try again, or use a code.');
  }
}
