/** `user_agent_change`: the browser or OS family differs from the account's previous login. */
import { formatUserAgentFamily, userAgentFamily } from '../user-agent.ts';
import { configuredWeight, fired, QUIET, unevaluable, type BuiltInRiskSignal } from './signal.ts';

export const userAgentChange: BuiltInRiskSignal = {
  name: 'user_agent_change',
  label: 'Browser change',
  facts: ['previousUserAgent', 'userAgent'],
  weight: configuredWeight('user_agent_change'),
  evaluate(facts) {
    if (facts.previousUserAgent === 'unknown') return unevaluable('the previous login could not be read');
    if (facts.previousUserAgent === null) return QUIET;
    const before = formatUserAgentFamily(userAgentFamily(facts.previousUserAgent));
    const current = formatUserAgentFamily(userAgentFamily(facts.userAgent));
    return before === current ? QUIET : fired(`browser changed from ${before} to ${current}`);
  },
};
