/**
 * `trusted_network`: the client address is in `networks.trusted` and not in `networks.risky` (an
 * address in both counts as risky only). Lowers the score (never below 0). Never unevaluable: an
 * address that is not an address is not trusted, and `risky_network` already counts it as risky.
 */
import { listedAddress } from './network-lists.ts';
import { configuredWeight, fired, QUIET, type BuiltInRiskSignal } from './signal.ts';

export const trustedNetwork: BuiltInRiskSignal = {
  name: 'trusted_network',
  label: 'Trusted network',
  facts: ['network'],
  weight: configuredWeight('trusted_network'),
  evaluate(facts, config) {
    const listed = listedAddress(config, facts.network);
    if (listed === null || listed.risky || !listed.trusted) return QUIET;
    return fired(`${listed.address} is in a trusted network`);
  },
};
