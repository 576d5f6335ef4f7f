import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { canonicalHost } from './host.ts';

/**
 * Who is really asking. Client-supplied X-Forwarded-* are believed only when the TCP peer is a
 * configured trusted proxy (THREATS T3); rate limits and risk key on the result of this, never on
 * a raw header.
 */
export interface ClientFacts {
  /** The client's address as far as trusted hops can tell. */
  readonly address: string;
  /** X-Forwarded-For to send upstream: the trusted chain plus the TCP peer. */
  readonly forwardedFor: string;
  readonly proto: 'http' | 'https';
  /** Host the client addressed in canonical form (proxy/host.ts), with port if one was given; sent upstream as Host. */
  readonly host: string;
  /** `host` without the port, for policy host matching and absolute-form targets. */
  readonly hostname: string;
  /** Why the Host header was refused (the request is answered 400); absent when it is valid. */
  readonly hostProblem?: string;
  /** The TCP peer is a configured trusted proxy (its forwarding headers were believed). */
  readonly peerTrusted: boolean;
}

export function normaliseAddress(address: string | undefined): string {
  if (!address) return '0.0.0.0';
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

function familyOf(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** The request's own Host, canonical; an invalid one leaves the host empty and says why. */
function directHostOf(raw: string | undefined): { host: string; hostname: string; hostProblem?: string } {
  const result = canonicalHost(raw);
  if (!result.ok) return { host: '', hostname: '', hostProblem: result.reason };
  return { host: result.host.header, hostname: result.host.hostname };
}

export function clientFacts(
  peerAddress: string | undefined,
  encrypted: boolean,
  headers: IncomingHttpHeaders,
  trusted: BlockList,
  hasTrusted: boolean,
): ClientFacts {
  const peer = normaliseAddress(peerAddress);
  const direct = directHostOf(headers.host);
  const directProto = encrypted ? 'https' : 'http';
  if (!hasTrusted || !trusted.check(peer, familyOf(peer))) {
    return { address: peer, forwardedFor: peer, proto: directProto, ...direct, peerTrusted: false };
  }
  // Walk the chain from the right: the first address not itself a trusted proxy is the client.
  const chain = (firstValue(headers['x-forwarded-for']) ?? '')
    .split(',')
    .map((a) => normaliseAddress(a.trim()))
    .filter((a) => isIP(a) !== 0);
  let address = peer;
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = chain[i] as string;
    address = hop;
    if (!trusted.check(hop, familyOf(hop))) break;
  }
  const fwdProto = firstValue(headers['x-forwarded-proto'])?.split(',')[0]?.trim().toLowerCase();
  const proto = fwdProto === 'https' || fwdProto === 'http' ? fwdProto : directProto;
  // A trusted proxy's X-Forwarded-Host is believed only when it is a valid host; otherwise the
  // request's own Host decides (and is itself refused when invalid).
  const fwdHost = firstValue(headers['x-forwarded-host'])?.split(',')[0]?.trim();
  const forwarded = fwdHost ? canonicalHost(fwdHost) : null;
  const hostFacts = forwarded?.ok ? { host: forwarded.host.header, hostname: forwarded.host.hostname } : direct;
  return { address, forwardedFor: [...chain, peer].join(', '), proto, ...hostFacts, peerTrusted: true };
}
