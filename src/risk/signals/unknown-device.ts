/** `unknown_device`: the request carries no device cookie this account has signed in with before. */
import { configuredWeight, fired, QUIET, unevaluable, type BuiltInRiskSignal } from './signal.ts';

export const unknownDevice: BuiltInRiskSignal = {
  name: 'unknown_device',
  label: 'Unknown device',
  facts: ['deviceKnown'],
  weight: configuredWeight('unknown_device'),
  evaluate(facts) {
    if (facts.deviceKnown === 'unknown') return unevaluable('the known devices could not be read');
    if (!facts.deviceKnown) return fired('this device has not signed in to the account before');
    return QUIET;
  },
};
