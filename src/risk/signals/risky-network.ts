/** `risky_network`: the client address is in `networks.risky` (also when it is listed as trusted). */
import { listedAddress } from './network-lists.ts';
import { configuredWeight, fired, QUIET, unevaluable, type BuiltInRiskSignal } from './signal.ts';

export const riskyNetwork: BuiltInRiskSignal = {
  name: 'risky_network',
  label: 'Risky network',
  facts: ['network'],
  weight: configuredWeight('risky_network'),
  evaluate(facts, config) {
    const listed = listedAddress(config, facts.network);
    if (listed === null) return unevaluable('the client address is not an IP address');
    if (!listed.risky) return QUIET;
    return fired(
      listed.trusted
        ? `${listed.address} is in a risky network (also listed as trusted: counted as risky)`
        : `${listed.address} is in a risky network`,
    );
  },
};
