import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Header hygiene between the client and the upstream. The upstream trusts whatever arrives, so
 * the sidecar is the only place where client-controlled framing, forwarding and identity headers
 * are removed and its own are written (THREATS T3, T4).
 */

/** RFC 9110 §7.6.1 connection-specific fields, plus legacy ones proxies still see. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'transfer-encoding',
  'http2-settings',
]);

/**
 * Identity and routing headers an upstream (or a framework in front of it) may believe. Compared
 * after lower-casing and folding '_' and '.' to '-', because servers such as PHP/CGI, Traefik and
 * WSGI treat X_Auth_User or X.Auth.User as X-Auth-User (Traefik CVE-2026-39858).
 */
export const BUILTIN_STRIPPED_HEADERS: readonly string[] = [
  // client address, scheme and host, as frameworks read them
  'forwarded',
  'forwarded-*',
  'x-forwarded',
  'x-forwarded-*',
  'x-real-ip',
  'x-client-ip',
  'client-ip',
  'true-client-ip',
  'x-cluster-client-ip',
  'x-originating-ip',
  'x-proxyuser-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-original-host',
  'x-host',
  'x-http-host-override',
  'x-original-forwarded-for',
  'proxy-client-ip',
  'wl-proxy-client-ip',
  'z-forwarded-*',
  'x-envoy-*',
  // scheme and TLS facts: an app that believes them builds https links, sets Secure cookies or
  // trusts a client certificate that no TLS hand-shake ever checked
  'x-scheme',
  'x-url-scheme',
  'front-end-https',
  'x-arr-ssl',
  'x-arr-clientcert',
  'x-ssl-*',
  'ssl-client-*',
  'x-client-cert*',
  'x-client-verify',
  'x-amzn-mtls-*',
  // request rewriting
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'x-original-method',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  // identity as auth proxies and gateways pass it on
  'x-auth-*',
  'x-authenticated-*',
  'x-remote-*',
  'remote-user',
  'x-user',
  'x-user-*',
  'x-userinfo',
  'x-email',
  'x-webauth-*',
  'x-ms-client-principal*',
  'x-ms-token-*',
  'oidc-*',
  'x-amzn-oidc-*',
  'cf-access-*',
  'x-goog-authenticated-user-*',
  'x-consumer-*',
  'x-credential-*',
  'x-anonymous-consumer',
  'x-id-token',
  'x-access-token',
  'x-guard-*',
];

export type HeaderFilter = (name: string) => boolean;

/** Compiles patterns ('x-auth-*') into one predicate over raw header names. */
export function compileHeaderFilter(patterns: readonly string[]): HeaderFilter {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const p of patterns) {
    const folded = foldHeaderName(p);
    if (folded.endsWith('*') && !folded.slice(0, -1).includes('*')) prefixes.push(folded.slice(0, -1));
    else if (!folded.includes('*')) exact.add(folded);
    else throw new Error(`header pattern "${p}": '*' is allowed only at the end`);
  }
  const decide = (name: string): boolean => {
    const folded = foldHeaderName(name);
    if (exact.has(folded)) return true;
    for (const prefix of prefixes) if (folded.startsWith(prefix)) return true;
    return false;
  };
  // Clients send the same few header names over and over: remember the answers (bounded, since
  // names are client-chosen) instead of folding and scanning patterns for every header of every request.
  const seen = new Map<string, boolean>();
  return (name) => {
    let answer = seen.get(name);
    if (answer === undefined) {
      answer = decide(name);
      if (seen.size >= 4096) seen.clear();
      seen.set(name, answer);
    }
    return answer;
  };
}

function foldHeaderName(name: string): string {
  return name.toLowerCase().replace(/[_.]/g, '-');
}

/** Connection values that name only hop-by-hop headers (removed anyway): nothing more to drop. */
const ONLY_HOP_BY_HOP_LISTED: ReadonlySet<string> = new Set(['keep-alive', 'Keep-Alive']);

/** Names listed in Connection (lower-case): a client may name any header there to make proxies drop it. */
function connectionListed(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const joined = Array.isArray(value) ? value.join(',') : value;
  return joined
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.length > 0);
}

export interface ForwardingFacts {
  /** Client address chain to send as X-Forwarded-For (already decided by the trusted-proxy logic). */
  readonly forwardedFor: string;
  readonly proto: 'http' | 'https';
  /** The canonical host the client asked for (Host header, or a trusted proxy's X-Forwarded-Host): sent as Host and X-Forwarded-Host. */
  readonly host: string;
  readonly requestId: string;
  readonly requestIdHeader: string;
}

interface RequestHeaderOptions {
  readonly stripped: HeaderFilter;
  /** Cookie names that belong to the sidecar and never reach the upstream. */
  readonly ownCookie: (name: string) => boolean;
  /** Keep `Connection: Upgrade` and `Upgrade: websocket` (websocket hand-shake only). */
  readonly websocket?: boolean;
}

/**
 * Rewrites the incoming request's headers in place into what the upstream may see. The request
 * body framing is kept as exactly one of Content-Length or `Transfer-Encoding: chunked`, matching
 * what Node's parser used, so the upstream frames the body the same way we did (THREATS T1).
 */
export function sanitiseRequestHeaders(headers: IncomingHttpHeaders, facts: ForwardingFacts, options: RequestHeaderOptions): void {
  const chunked = headers['transfer-encoding'] !== undefined;
  const contentLength = headers['content-length'];
  const host = headers.host;
  // Left undefined rather than deleted on the forwarding path: `delete` turns Node's header object
  // into a dictionary, and every later read of it is slower; the head is written from
  // headerList(), which skips undefined values. http-proxy-3 (websockets) sets every key it finds.
  const remove = options.websocket ? (name: string) => delete headers[name] : (name: string) => (headers[name] = undefined);
  const connection = headers.connection;
  if (connection !== undefined && !ONLY_HOP_BY_HOP_LISTED.has(connection)) for (const name of connectionListed(connection)) remove(name);
  for (const name in headers) {
    if (headers[name] !== undefined && (HOP_BY_HOP.has(name) || options.stripped(name))) remove(name);
  }
  // Framing and Host cannot be dropped by naming them in Connection: the body must be framed
  // upstream exactly as Node's parser framed it, or the bytes after it become a second request.
  // The upstream gets the canonical host the policy decided on (THREATS T20), not the client's spelling.
  if (facts.host.length > 0) headers.host = facts.host;
  else if (host !== undefined) headers.host = host;
  if (chunked) {
    // Node already rejected every TE that is not a final "chunked"; never send CL alongside it.
    headers['transfer-encoding'] = 'chunked';
    remove('content-length');
  } else if (contentLength !== undefined) {
    headers['content-length'] = contentLength;
  }
  if (options.websocket) {
    headers.connection = 'Upgrade';
    headers.upgrade = 'websocket';
  }
  const cookie = headers.cookie;
  if (cookie !== undefined && /spg_/i.test(cookie)) {
    const kept = filterCookieHeader(cookie, options.ownCookie);
    if (kept) headers.cookie = kept;
    else remove('cookie');
  }
  headers['x-forwarded-for'] = facts.forwardedFor;
  headers['x-forwarded-proto'] = facts.proto;
  headers['x-forwarded-host'] = facts.host;
  headers[facts.requestIdHeader] = facts.requestId;
}

/**
 * Drops the named cookies from a Cookie header, keeping the others byte for byte and in order.
 * A pair is dropped when any name in it matches, also after a ',' (Tomcat's legacy parser and
 * RFC 2965 servers split there too), so `a=1,sp_session=x` cannot carry a cookie past the filter.
 */
export function filterCookieHeader(header: string, drop: (name: string) => boolean): string {
  return header
    .split(';')
    .filter((pair) => {
      let first = true;
      for (const piece of pair.split(',')) {
        const eq = piece.indexOf('=');
        const name = (eq === -1 ? piece : piece.slice(0, eq)).trim();
        if (first && name.length === 0) return false;
        first = false;
        if (name.length > 0 && drop(name)) return false;
      }
      return true;
    })
    .map((pair) => pair.trim())
    .join('; ');
}

/** Name of the cookie a Set-Cookie header sets. */
export function setCookieName(header: string): string {
  const eq = header.indexOf('=');
  const semi = header.indexOf(';');
  const end = eq === -1 ? (semi === -1 ? header.length : semi) : eq;
  return header.slice(0, end).trim();
}

/**
 * Cleans the upstream response headers in place: hop-by-hop and Connection-listed headers go, and
 * upstream cookies named by `ownCookie` (the sidecar's own, and the bound upstream session cookies)
 * never reach the browser. The sidecar's cookies already set on the
 * response are merged in rather than replaced.
 */
export function sanitiseResponseHeaders(
  headers: IncomingHttpHeaders,
  ownSetCookies: readonly string[],
  ownCookie: (name: string) => boolean,
  keepAlive: boolean,
  removal: 'delete' | 'unset' = 'delete',
): void {
  // `unset` (the proxied-response path) leaves a removed header as undefined, which the
  // forwarder's header list skips: deleting keys turns the object into a slow dictionary on every response
  // (every Node upstream sends Connection and Keep-Alive), which cost more than the rest of this.
  const remove = removal === 'delete' ? (name: string) => delete headers[name] : (name: string) => (headers[name] = undefined);
  for (const name of connectionListed(headers.connection)) if (headers[name] !== undefined) remove(name);
  for (const name of Object.keys(headers)) if (HOP_BY_HOP.has(name) && headers[name] !== undefined) remove(name);
  const upstream = headers['set-cookie'];
  if (upstream === undefined && ownSetCookies.length === 0) {
    // Nothing to filter or merge.
  } else {
    const merged = [...(upstream ?? []).filter((c) => !ownCookie(setCookieName(c))), ...ownSetCookies];
    if (merged.length > 0) headers['set-cookie'] = merged;
    else remove('set-cookie');
  }
  // The client connection's fate is ours to decide, not the upstream's keep-alive state.
  headers.connection = keepAlive ? 'keep-alive' : 'close';
}

export function asSetCookieList(value: OutgoingHttpHeaders[string]): string[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value.map(String);
  return [String(value)];
}

export type FramingPolicy = 'same_origin' | 'deny' | 'off';

const FRAMING_HEADERS: Record<Exclude<FramingPolicy, 'off'>, { csp: string; xfo: string }> = {
  same_origin: { csp: "frame-ancestors 'self'", xfo: 'SAMEORIGIN' },
  deny: { csp: "frame-ancestors 'none'", xfo: 'DENY' },
};

/**
 * Clickjacking protection for legacy pages that never had any: an HTML response (or one without a
 * Content-Type, which browsers sniff) that sets neither X-Frame-Options nor a CSP frame-ancestors
 * gets both. An upstream's own choice is never overridden, so pages meant to be framed keep working.
 */
export function addFramingProtection(headers: IncomingHttpHeaders, policy: FramingPolicy): void {
  if (policy === 'off' || headers['x-frame-options'] !== undefined) return;
  const type = headers['content-type'];
  if (type !== undefined && !/^\s*(text\/html|application\/xhtml\+xml)\b/i.test(type)) return;
  const csp = headers['content-security-policy'];
  const cspValues = csp === undefined ? [] : Array.isArray(csp) ? csp : [csp];
  if (cspValues.some((v) => /(^|;)\s*frame-ancestors\b/i.test(v))) return;
  const { csp: directive, xfo } = FRAMING_HEADERS[policy];
  // A second CSP header is enforced alongside the upstream's own (both must allow), so it only adds.
  (headers as Record<string, string | string[]>)['content-security-policy'] = [...cspValues, directive];
  headers['x-frame-options'] = xfo;
}
