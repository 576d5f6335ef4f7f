/**
 * The operator's `networks.risky` and `networks.trusted` lists, compiled once per configuration
 * object (configurations are immutable values), and the client address as the network signals
 * compare it. Shared by `risky-network.ts` and `trusted-network.ts`.
 */
import { BlockList, isIP } from 'node:net';
import { unmapAddress } from '../network.ts';
import type { RiskConfig } from '../../config/schema/risk.ts';

interface CompiledNetworks {
  readonly risky: BlockList;
  readonly trusted: BlockList;
}

const compiled = new WeakMap<RiskConfig, CompiledNetworks>();

function blockList(ranges: readonly string[]): BlockList {
  const list = new BlockList();
  for (const range of ranges) {
    const [rawAddress, bits] = range.split('/') as [string, string | undefined];
    const address = unmapAddress(rawAddress);
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    // A mapped range (::ffff:a.b.c.d/n, n ≥ 96) is the IPv4 range it carries.
    const prefix = bits === undefined ? undefined : address === rawAddress ? Number(bits) : Math.max(0, Number(bits) - 96);
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, prefix, type);
  }
  return list;
}

function networksOf(config: RiskConfig): CompiledNetworks {
  let networks = compiled.get(config);
  if (!networks) {
    networks = { risky: blockList(config.networks.risky), trusted: blockList(config.networks.trusted) };
    compiled.set(config, networks);
  }
  return networks;
}

interface ListedAddress {
  /** The client address, an IPv4-mapped IPv6 address as the IPv4 address it carries. */
  readonly address: string;
  readonly risky: boolean;
  readonly trusted: boolean;
}

/** Where the client address stands in the configured lists; null when it is not an IP address. */
export function listedAddress(config: RiskConfig, network: string): ListedAddress | null {
  const address = unmapAddress(network);
  const family = isIP(address);
  if (family === 0) return null;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  const networks = networksOf(config);
  return { address, risky: networks.risky.check(address, type), trusted: networks.trusted.check(address, type) };
}
