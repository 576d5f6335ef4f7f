import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

/**
 * The one canonical form of the host a request is addressed to (THREATS T20). Host rules, known
 * hosts, absolute-form targets, `policy explain`/`policy test` and the Host the upstream receives
 * all use it, so `App.Example.com.`, `app.example.com:443` and `ａｐｐ.example.com` cannot be three
 * different hosts to the policy and one to the upstream.
 */

interface CanonicalHost {
  /** Lower case, IDNA A-label form, no trailing dot, no port; IPv6 as `[…]` in its shortest form. */
  readonly hostname: string;
  /** The port the client named (leading zeros dropped), or null. */
  readonly port: string | null;
  /** What the upstream receives as Host: the hostname, and the port when the client named one. */
  readonly header: string;
}

type HostResult = { readonly ok: true; readonly host: CanonicalHost } | { readonly ok: false; readonly reason: string };

const fail = (reason: string): HostResult => ({ ok: false, reason });

// Anything that could end the authority or hide another one: userinfo, paths, queries, escapes,
// separators of lists, whitespace and control characters.
const FORBIDDEN = /[\x00-\x20\x7f@/\\?#%,;"'<>`{}|^]/;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

function canonicalPort(port: string): string | null | false {
  if (port === '') return null;
  if (!/^[0-9]{1,5}$/.test(port)) return false;
  const value = Number(port);
  return value <= 65535 ? String(value) : false;
}

/** Non-ASCII arrives as latin1 from Node's parser; a browser would have sent UTF-8 bytes. */
function asUnicode(raw: string): string | null {
  if (/^[\x00-\x7f]*$/.test(raw)) return raw;
  // Characters above U+00FF: already decoded text (e.g. given on the command line), not raw bytes.
  if (/[^\x00-\xff]/.test(raw)) return raw;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(raw, 'latin1'));
  } catch {
    return null;
  }
}

// A deployment sees a handful of Host values; IDNA conversion is the costly step of every request,
// so results (immutable) are remembered. Bounded: a flood of distinct hosts only empties it.
const remembered = new Map<string, HostResult>();
const REMEMBERED_MAX = 256;

export function canonicalHost(raw: string | undefined): HostResult {
  if (raw === undefined) return computeCanonicalHost(raw);
  let result = remembered.get(raw);
  if (result === undefined) {
    result = computeCanonicalHost(raw);
    if (remembered.size >= REMEMBERED_MAX) remembered.clear();
    remembered.set(raw, result);
  }
  return result;
}

function computeCanonicalHost(raw: string | undefined): HostResult {
  if (raw === undefined || raw.length === 0) return fail('the Host header is missing or empty');
  if (raw.length > 300) return fail('the Host header is too long');
  const text = asUnicode(raw);
  if (text === null) return fail('the Host header is not valid UTF-8');
  if (FORBIDDEN.test(text)) return fail('the Host header holds a character a host name cannot have');

  let name: string;
  let portText = '';
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) return fail('the Host header has an unterminated IPv6 address');
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return fail('the Host header has text after its IPv6 address');
    const inner = text.slice(1, close);
    if (isIP(inner) !== 6) return fail('the Host header holds a malformed IPv6 address');
    name = new URL(`http://[${inner}]/`).hostname;
    portText = rest.slice(1);
  } else {
    const colon = text.indexOf(':');
    if (colon !== -1 && text.indexOf(':', colon + 1) !== -1) return fail('the Host header holds an IPv6 address without brackets');
    name = colon === -1 ? text : text.slice(0, colon);
    portText = colon === -1 ? '' : text.slice(colon + 1);
    // One trailing dot names the same host (the root of the DNS); anything more is malformed.
    if (name.endsWith('.')) name = name.slice(0, -1);
    if (name.length === 0) return fail('the Host header has no host name');
    const ascii = domainToASCII(name);
    if (ascii === '') return fail('the Host header is not a valid host name');
    if (ascii.length > 253 || !ascii.split('.').every((label) => LABEL.test(label))) {
      return fail('the Host header is not a valid host name');
    }
    name = ascii;
  }
  const port = canonicalPort(portText);
  if (port === false) return fail('the Host header has an invalid port');
  return { ok: true, host: { hostname: name, port, header: port === null ? name : `${name}:${port}` } };
}

/** Why a host the policy does not serve is refused (421); the enforcement point and `policy explain` say the same. */
export const UNKNOWN_HOST_REASON = "this host is not served here (it is not in the policy's settings.known_hosts)";

/** `*.example.com` matches every subdomain of example.com (not example.com itself); others match exactly. */
export function hostMatches(patterns: readonly string[], hostname: string): boolean {
  for (const pattern of patterns) {
    if (pattern.startsWith('*.')) {
      const suffix = pattern.slice(1);
      if (hostname.length > suffix.length && hostname.endsWith(suffix)) return true;
    } else if (pattern === hostname) {
      return true;
    }
  }
  return false;
}
