/**
 * `new_network`: the client's network (/24 for IPv4, /48 for IPv6) is not among the account's last
 * logins. Never on a first login: with no history there is nothing to compare with.
 */
import { networkPrefix, unmapAddress } from '../network.ts';
import { configuredWeight, fired, QUIET, unevaluable, type BuiltInRiskSignal } from './signal.ts';
import { plural } from './wording.ts';

export const newNetwork: BuiltInRiskSignal = {
  name: 'new_network',
  label: 'New network',
  facts: ['network', 'recentNetworks'],
  weight: configuredWeight('new_network'),
  evaluate(facts) {
    const prefix = networkPrefix(unmapAddress(facts.network));
    if (prefix === null) return unevaluable('the client address is not an IP address');
    const recent = facts.recentNetworks;
    if (recent === 'unknown') return unevaluable('the login history could not be read');
    if (recent.length > 0 && !recent.some((seen) => networkPrefix(seen) === prefix)) {
      return fired(`network ${prefix} is not among the account's last ${plural(recent.length, 'login')}`);
    }
    return QUIET;
  },
};
