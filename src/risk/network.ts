/**
 * Pure helpers that turn a client address into comparable values for the risk signals: the
 * address an IPv4-mapped IPv6 address carries, and the network (/24, /48) an address belongs to.
 * Nothing here does I/O.
 */
import { isIP } from 'node:net';

const IPV4_PREFIX = 24;
const IPV6_PREFIX = 48;

/** `::ffff:198.51.100.7` (or its hex form) → `198.51.100.7`; anything else unchanged. */
export function unmapAddress(address: string): string {
  if (isIP(address) !== 6) return address;
  const groups = ipv6Groups(address);
  if (groups && groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const high = groups[6] as number;
    const low = groups[7] as number;
    return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  }
  return address;
}

/**
 * The network a client address belongs to for "seen before" comparisons: the /24 of an IPv4
 * address (`198.51.100.0/24`), the /48 of an IPv6 address (`2001:db8:1::/48`, the usual
 * allocation to one site). IPv4-mapped IPv6 addresses count as the IPv4 address they carry. A
 * prefix this function produced is returned unchanged, so login histories may keep prefixes
 * instead of full addresses. Null for anything that is not an address.
 */
export function networkPrefix(address: string): string | null {
  const slash = address.indexOf('/');
  if (slash !== -1) {
    const base = address.slice(0, slash);
    const bits = address.slice(slash + 1);
    const family = isIP(base);
    if (family === 0 || bits !== String(family === 4 ? IPV4_PREFIX : IPV6_PREFIX)) return null;
    // A mapped address with a /48 is not a form this function produces.
    if (family === 6 && unmapAddress(base) !== base) return null;
    return networkPrefix(base);
  }
  const plain = unmapAddress(stripZone(address));
  const family = isIP(plain);
  if (family === 4) {
    const [a, b, c] = plain.split('.');
    return `${Number(a)}.${Number(b)}.${Number(c)}.0/${IPV4_PREFIX}`;
  }
  if (family === 6) {
    const groups = ipv6Groups(plain);
    if (!groups) return null;
    const kept = groups.map((g, i) => (i < IPV6_PREFIX / 16 ? g : 0));
    return `${formatIpv6(kept)}/${IPV6_PREFIX}`;
  }
  return null;
}

function stripZone(address: string): string {
  const percent = address.indexOf('%');
  return percent === -1 ? address : address.slice(0, percent);
}

/** The eight 16-bit groups of a valid IPv6 address (with `::` and a dotted IPv4 tail expanded). */
function ipv6Groups(address: string): number[] | null {
  let text = stripZone(address).toLowerCase();
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const octets = (tail[1] as string).split('.').map(Number);
    const [a, b, c, d] = octets as [number, number, number, number];
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string | undefined): number[] => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const head = parse(halves[0]);
  const rest = parse(halves[1]);
  const missing = 8 - head.length - rest.length;
  const groups = halves.length === 2 ? [...head, ...new Array<number>(missing).fill(0), ...rest] : head;
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return null;
  return groups;
}

/** RFC 5952 text of eight groups: lower-case, no leading zeros, the longest zero run (2+) as `::`. */
function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
