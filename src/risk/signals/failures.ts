/** The shape shared by `recent_login_failures` and `recent_verification_failures`. */
import { isCount, type RiskFacts } from '../facts.ts';
import { configuredWeight, fired, QUIET, unevaluable, type BuiltInRiskSignal } from './signal.ts';
import { minutes, plural } from './wording.ts';

/** Fires when the count of `what`s within the signal's window reached its `threshold`. */
export function failureSignal(
  name: 'recent_login_failures' | 'recent_verification_failures',
  label: string,
  fact: 'recentLoginFailures' | 'recentVerificationFailures',
  what: string,
): BuiltInRiskSignal {
  return {
    name,
    label,
    facts: [fact] satisfies (keyof RiskFacts)[],
    weight: configuredWeight(name),
    evaluate(facts, config) {
      const { threshold, window } = config.signals[name];
      const count = facts[fact];
      if (!isCount(count)) return unevaluable(`the count of ${what}s could not be read`);
      if (count >= threshold) return fired(`${plural(count, what)} within ${minutes(window)} (threshold ${threshold})`);
      return QUIET;
    },
  };
}
