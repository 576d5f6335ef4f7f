/**
 * The operator's `networks.risky` and `networks.trusted` lists, compiled once per configuration
 * object (configurations are immutable values), and the client address as the network signals
 * compare it. Shared by `risky-network.ts` and `trusted-network.ts`.
 */
import { BlockList, isIP, SocketAddress } from 'node:net';
import { unmapAddress } from '../network.ts';
import type { RiskConfig } from '../../config/schema/risk.ts';

/** A list with no entries is null: it holds no address, and asking costs a SocketAddress. */
interface CompiledNetworks {
  readonly risky: BlockList | null;
  readonly trusted: BlockList | null;
}

const compiled = new WeakMap<RiskConfig, CompiledNetworks>();

function blockList(ranges: readonly string[]): BlockList | null {
  if (ranges.length === 0) return null;
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
  const { risky, trusted } = networksOf(config);
  if (!risky && !trusted) return { address, risky: false, trusted: false };
  // BlockList.check builds a SocketAddress from a string on every call (≈ 2–5 µs): one for both lists.
  const socketAddress = new SocketAddress({ address, family: type });
  return { address, risky: risky?.check(socketAddress) ?? false, trusted: trusted?.check(socketAddress) ?? false };
}
