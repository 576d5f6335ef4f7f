/** `recent_verification_failures`: at least `threshold` wrong verification codes of the account within `window`. */
import { failureSignal } from './failures.ts';

export const recentVerificationFailures = failureSignal(
  'recent_verification_failures',
  'Recent verification failures',
  'recentVerificationFailures',
  'wrong verification code',
);
