/**
 * The canonical request target: computed once per request, decided on by the policy, and forwarded
 * byte for byte. Anything that two parsers could read differently is refused (THREATS T2), because
 * a policy decision is only as good as its agreement with what the upstream will route.
 */
import { canonicalHost } from './host.ts';

export interface CanonicalTarget {
  /** Absolute path, dot segments resolved, unreserved escapes decoded, other escapes upper-cased. */
  readonly path: string;
  /** Query string without the leading '?', '' when absent or empty. Never consulted by the policy. */
  readonly query: string;
  /** Exactly what is sent upstream as the request-target. */
  readonly forwarded: string;
}

type CanonicalResult =
  | { readonly ok: true; readonly target: CanonicalTarget }
  | { readonly ok: false; readonly reason: string };

interface CanonicalOptions {
  /** ';' inside a path segment: refuse (default) or keep as an ordinary character. */
  readonly pathParameters: 'reject' | 'allow';
  /**
   * Canonical host name (proxy/host.ts, without port) this request was addressed to, used to accept an absolute-form
   * target for ourselves; absolute-form for any other host is refused.
   */
  readonly host?: string | undefined;
}

const fail = (reason: string): CanonicalResult => ({ ok: false, reason });

const HEX = '0123456789ABCDEF';
const isHex = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const hexValue = (c: number): number => (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10);
const isUnreserved = (b: number): boolean =>
  (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) ||
  b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e;
// pchar minus '%' per RFC 3986 (unreserved, sub-delims, ':' and '@'); everything else must be escaped.
const PATH_SAFE = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
// The query may hold '/' and '?' too; control characters, spaces, '#', '\' and non-ASCII are refused.
const QUERY_SAFE = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%[\]|^`{}"<>]*$/;

const utf8 = new TextDecoder('utf-8', { fatal: true });
/**
 * After one decoding pass, '%25' followed by the escape of '.', '/', '\', a control character or
 * another '%' (THREATS T23): an upstream or file system that decodes again would read '%252e%252e'
 * as '..', a path the policy never saw. Compared on the normalised form, so '%25%32%65' is caught too.
 */
const DOUBLE_ENCODED = /%25(?:2e|2f|5c|25|[01][0-9a-f]|7f)/i;
/** A segment that is '.', '..' or ends in a dot: needs dot-segment resolution or is refused. */
const SEGMENT_ENDS_WITH_DOT = /\.(?:\/|$)/;

/**
 * Percent-escapes are checked for shape, for decoded bytes that would change the path structure
 * (/ \ NUL, control characters) and for valid UTF-8 (overlong forms such as %C0%AE are invalid), then
 * unreserved characters are decoded and the rest re-emitted upper-case.
 */
function normaliseEscapes(raw: string): { ok: true; value: string } | { ok: false; reason: string } {
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const c = raw.charCodeAt(i);
    if (c !== 0x25) {
      out += raw[i];
      i++;
      continue;
    }
    // A run of escapes is decoded together so multi-byte UTF-8 sequences can be validated.
    const bytes: number[] = [];
    while (i < raw.length && raw.charCodeAt(i) === 0x25) {
      const h = raw.charCodeAt(i + 1);
      const l = raw.charCodeAt(i + 2);
      if (!isHex(h) || !isHex(l)) return { ok: false, reason: 'malformed percent-escape in path' };
      bytes.push(hexValue(h) * 16 + hexValue(l));
      i += 3;
    }
    try {
      utf8.decode(Uint8Array.from(bytes));
    } catch {
      return { ok: false, reason: 'percent-escapes in path are not valid UTF-8' };
    }
    for (const b of bytes) {
      if (b === 0x2f || b === 0x5c) return { ok: false, reason: 'encoded slash or backslash in path' };
      if (b < 0x20 || b === 0x7f) return { ok: false, reason: 'encoded control character in path' };
      out += isUnreserved(b) ? String.fromCharCode(b) : `%${HEX[b >> 4]}${HEX[b & 15]}`;
    }
  }
  return { ok: true, value: out };
}

/** RFC 3986 §5.2.4, except that climbing above the root is refused rather than silently clamped. */
function resolveDotSegments(path: string): string | null {
  const input = path.split('/');
  const output: string[] = [];
  // input[0] is '' (the path is absolute); the last element decides whether a trailing '/' remains.
  for (let k = 1; k < input.length; k++) {
    const segment = input[k] as string;
    const last = k === input.length - 1;
    if (segment === '.') {
      if (last) output.push('');
      continue;
    }
    if (segment === '..') {
      if (output.length === 0) return null;
      output.pop();
      if (last) output.push('');
      continue;
    }
    output.push(segment);
  }
  return '/' + output.join('/');
}

export function canonicaliseTarget(rawTarget: string, options: CanonicalOptions): CanonicalResult {
  let target = rawTarget;
  if (target.length === 0) return fail('empty request target');
  if (target === '*') return fail('asterisk-form request target is not supported');
  if (target.charCodeAt(0) !== 0x2f) {
    // absolute-form: accepted only when it names this very host, then reduced to origin-form.
    const m = /^https?:\/\/([^/?#]*)(.*)$/i.exec(target);
    if (!m) return fail('request target must be an absolute path');
    const authority = m[1] ?? '';
    if (authority.includes('@')) return fail('userinfo in request target');
    // Compared in canonical form (proxy/host.ts): `APP.example.com.:80` is the host Host named.
    const named = canonicalHost(authority);
    if (!named.ok || !options.host || named.host.hostname !== options.host) return fail('absolute-form target for another host');
    target = m[2] || '/';
    if (target.charCodeAt(0) !== 0x2f) return fail('request target must be an absolute path');
  }
  if (target.includes('#')) return fail('fragment in request target');
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q + 1);

  if (rawPath.includes('\\')) return fail('backslash in path');
  if (!PATH_SAFE.test(rawPath)) return fail('character in path that must be percent-encoded');
  if (!QUERY_SAFE.test(query)) return fail('character in query that must be percent-encoded');
  if (rawPath.includes('//')) return fail('empty path segment (//)');

  // Most paths hold no escape and no segment ending in '.': they are already canonical.
  if (!rawPath.includes('%') && !SEGMENT_ENDS_WITH_DOT.test(rawPath)) {
    if (options.pathParameters === 'reject' && rawPath.includes(';')) return fail("path parameters (';') are not allowed");
    return { ok: true, target: { path: rawPath, query, forwarded: query ? `${rawPath}?${query}` : rawPath } };
  }
  const escaped = normaliseEscapes(rawPath);
  if (!escaped.ok) return fail(escaped.reason);
  if (DOUBLE_ENCODED.test(escaped.value)) return fail('double-encoded dot, slash, backslash, percent or control character in path');
  // Decoding may have produced '.' segments (e.g. %2e%2e), so dot segments are resolved afterwards.
  const path = resolveDotSegments(escaped.value);
  if (path === null) return fail('path climbs above the root');
  if (path.includes('//')) return fail('empty path segment (//)');
  if (options.pathParameters === 'reject' && path.includes(';')) {
    return fail("path parameters (';') are not allowed");
  }
  // Some servers (IIS, Windows file systems) drop trailing dots and spaces from names; refuse the ambiguity.
  for (const segment of path.split('/')) {
    if (segment.endsWith('.') || segment.endsWith('%20')) {
      return fail('path segment ends with a dot or space');
    }
  }
  return { ok: true, target: { path, query, forwarded: query ? `${path}?${query}` : path } };
}
