import { isIP } from 'node:net';

/**
 * Parses `203.0.113.0/24` or `2001:db8::/32`; null when it is not a network. The configuration
 * validates `session.networks` with it, and the session layer builds its network lists with it.
 */
export function parseCidr(cidr: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address = '', prefixText, extra] = cidr.split('/');
  if (prefixText === undefined || extra !== undefined || !/^\d{1,3}$/.test(prefixText)) return null;
  const kind = isIP(address);
  const prefix = Number(prefixText);
  if (kind === 0 || prefix > (kind === 4 ? 32 : 128)) return null;
  return { address, prefix, family: kind === 4 ? 'ipv4' : 'ipv6' };
}
