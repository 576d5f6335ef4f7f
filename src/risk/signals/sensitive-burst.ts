/** `sensitive_burst`: more than `max` sensitive operations of the account (this one included) within `window`. */
import { isCount } from '../facts.ts';
import { configuredWeight, fired, QUIET, unevaluable, type BuiltInRiskSignal } from './signal.ts';
import { minutes, plural } from './wording.ts';

export const sensitiveBurst: BuiltInRiskSignal = {
  name: 'sensitive_burst',
  label: 'Burst of sensitive operations',
  facts: ['sensitiveOperationsInWindow'],
  weight: configuredWeight('sensitive_burst'),
  evaluate(facts, config) {
    const { max, window } = config.signals.sensitive_burst;
    const count = facts.sensitiveOperationsInWindow;
    if (!isCount(count)) return unevaluable('the count of sensitive operations could not be read');
    if (count > max) return fired(`${plural(count, 'sensitive operation')} within ${minutes(window)} (more than ${max})`);
    return QUIET;
  },
};
