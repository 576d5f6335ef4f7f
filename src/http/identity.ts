import type { IncomingMessage } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { ClientFacts } from '../proxy/client-address.ts';
import { filterCookieHeader } from '../proxy/headers.ts';
import { cookieNameMatcher, mayMentionCookie } from '../proxy/cookie-names.ts';
import { readSetCookie } from '../flows/login-answer.ts';
import { cookieName, isOwnCookie, readCookies } from '../session/cookies.ts';
import { boundCookiePairs, type SessionRecord } from '../session/sessions.ts';
import type { Identity, IdentityResolver } from '../access/ports.ts';
import type { SignInDeps } from './sign-in.ts';

/**
 * Who a request is (the sidecar session its cookie names), the Cookie header the upstream may see
 * (its session cookies only as bound to that session), and the upstream's session rotation
 * followed: the identity the enforcement point consults.
 */

const ANONYMOUS: Identity = { user: { authenticated: false }, session: null };

/** Longer Cookie headers are read afresh every time rather than remembered. */
const MAX_REMEMBERED_HEADER = 16_384;

/**
 * What a connection's last Cookie header says. It is read (parsed, then filtered for the upstream)
 * once per connection and header rather than once per request, and the strings kept here carry the
 * hashes that the session caches' look-ups need, so a repeated header is not hashed again. Only
 * what the header itself says is remembered, keyed by the exact header and scheme: a different
 * header on the same connection (a proxy in front that mixes clients) is read afresh, and the
 * session it names is still looked up on every request.
 */
interface ReadHeader {
  readonly header: string;
  readonly secure: boolean;
  readonly sessionCookie: string | undefined;
  /** The header without the sidecar's and the upstream's session cookies, once asked for. */
  kept: string | undefined;
}

const readOnConnection = new WeakMap<object, ReadHeader>();

/** The connection a request came on (absent for requests built by hand). */
function connectionOf(req: Pick<IncomingMessage, 'socket'>): object | undefined {
  return (req.socket as object | null | undefined) ?? undefined;
}

export type IdentityDeps = Pick<SignInDeps, 'sessions' | 'account' | 'logger' | 'audit' | 'clock' | 'contacts'> & {
  readonly options: Pick<SignInDeps['options'], 'publicOrigin' | 'upstreamCookies'>;
};

export function createIdentityResolver(deps: IdentityDeps): IdentityResolver {
  const { sessions, options, logger } = deps;
  const upstreamNames = new Set(options.upstreamCookies);
  const isUpstreamSessionCookie = cookieNameMatcher(options.upstreamCookies);
  const mentionsUpstreamCookie = mayMentionCookie(options.upstreamCookies);
  // A browser sends the same Cookie header request after request: its filtered form is remembered.
  const keptCache = new LRUCache<string, string>({ max: 1000, maxSize: 4_000_000, sizeCalculation: (value, key) => key.length + value.length + 1 });
  const filtered = (header: string): string => filterCookieHeader(header, (name) => isUpstreamSessionCookie(name) || isOwnCookie(name));
  const keptCookies = (header: string, connection: object | undefined): string => {
    const read = connection === undefined ? undefined : readOnConnection.get(connection);
    if (read !== undefined && read.header === header) return (read.kept ??= filtered(header));
    let kept = keptCache.get(header);
    if (kept === undefined) {
      kept = filtered(header);
      if (header.length <= MAX_REMEMBERED_HEADER) keptCache.set(header, kept);
    }
    return kept;
  };
  /**
   * The header as read on this connection: the last one read there when it is the same header
   * (a kept-alive browser connection sends the same one every time), else read and remembered.
   */
  const readHeader = (header: string, secure: boolean, connection: object | undefined): ReadHeader => {
    const last = connection === undefined ? undefined : readOnConnection.get(connection);
    if (last !== undefined && last.header === header && last.secure === secure) return last;
    const read: ReadHeader = { header, secure, sessionCookie: readCookies(header)[cookieName('session', secure)], kept: undefined };
    if (connection !== undefined && header.length <= MAX_REMEMBERED_HEADER) readOnConnection.set(connection, read);
    return read;
  };
  const publicSecure = options.publicOrigin === undefined ? undefined : options.publicOrigin.startsWith('https:');
  const sessionCookieOf = (req: IncomingMessage, client: ClientFacts): string | undefined => {
    const header = req.headers.cookie;
    if (!header) return undefined;
    return readHeader(header, publicSecure ?? client.proto === 'https', connectionOf(req)).sessionCookie;
  };
  const identityOf = (session: SessionRecord | null): Identity =>
    session ? { user: { authenticated: true, twoFactorEnabled: session.twoFactor !== null }, session } : ANONYMOUS;
  return {
    async resolve(req: IncomingMessage, client: ClientFacts): Promise<Identity> {
      const value = sessionCookieOf(req, client);
      return value ? identityOf(await sessions.resolve(value)) : ANONYMOUS;
    },
    resolveKnown(req, client) {
      const value = sessionCookieOf(req, client);
      if (!value) return ANONYMOUS;
      const session = sessions.resolveKnown(value);
      return session === undefined ? undefined : identityOf(session);
    },
    upstreamCookieHeader(header, who, connection) {
      // Most anonymous requests carry none of the upstream's session cookies: nothing to rewrite.
      if (!who.session && (header === undefined || !mentionsUpstreamCookie(header))) return header;
      // The sidecar's own cookies go in the same pass (the proxy's own filter then has nothing to do).
      const kept = header ? keptCookies(header, connection) : '';
      // Built once per session record string (src/session/sessions.ts), not per request.
      const pairs = who.session ? boundCookiePairs(who.session.upstreamCookies, upstreamNames) : '';
      // The bound pairs go first: parsers that keep the first of two same-named pairs (PHP) read them.
      const joined = pairs.length > 0 && kept.length > 0 ? `${pairs}; ${kept}` : pairs || kept;
      return joined.length > 0 ? joined : undefined;
    },
    /**
     * The upstream answered a request made with the bound session. A new value of a bound cookie
     * is how apps rotate their session (password change, privilege change, every page): it is
     * adopted. The session ends only on a clear sign that the app's session is over (a bound cookie
     * deleted, a redirect to the app's login page) or, where a profile says so, that the new session
     * belongs to another account (a password-reset auto-login must not inherit verified factors).
     */
    observeUpstreamResponse(who, answer) {
      const session = who.session;
      // Most answers set no cookie and lead nowhere: nothing to follow.
      if (!session || (answer.setCookies.length === 0 && (answer.status < 300 || answer.status >= 400))) return;
      const changes: Record<string, string | null> = {};
      const now = deps.clock.now();
      for (const header of answer.setCookies) {
        const cookie = readSetCookie(header, now);
        if (cookie === null || !upstreamNames.has(cookie.name)) continue;
        if (cookie.deleted) changes[cookie.name] = null;
        else if (session.upstreamCookies[cookie.name] !== cookie.value) changes[cookie.name] = cookie.value;
      }
      const toLoginPage = answer.status >= 300 && answer.status < 400 && deps.account.isLoginLocation(answer.location ?? '');
      if (Object.keys(changes).length === 0 && !toLoginPage) return;
      const end = (reason: string): Promise<void> => {
        logger.warn({ event: 'session_ended', user: session.user, reason }, 'upstream session ended; sidecar session ended');
        deps.audit.record({ event: 'session_ended', outcome: 'info', user: session.user, reason });
        return sessions.revoke(session.id);
      };
      const adopt = async (): Promise<void> => {
        if (toLoginPage) return end('upstream_login_page');
        if (Object.values(changes).some((v) => v === null)) return end('upstream_session_ended');
        const next = { ...session.upstreamCookies, ...(changes as Record<string, string>) };
        // The directory (or login.profile) names the account of the new session where it can
        // (canonicalised as sign-in keys are): another account's session ends this one. One it
        // cannot name (a SQL directory, none) is adopted: that is how apps rotate (decision 2).
        const named = deps.contacts ? await deps.contacts.accountOfSession({ upstreamCookies: next, requestId: 'session-rotation' }) : null;
        if (named !== null && named !== session.user) return end('upstream_session_of_unknown_account');
        session.upstreamCookies = next;
        await sessions.save(session);
        logger.info({ event: 'upstream_session_rotated', user: session.user, cookies: Object.keys(changes) }, 'the upstream rotated its session; the new one is bound');
      };
      adopt().catch((error: unknown) => logger.error({ err: error }, 'could not update the upstream cookie binding'));
    },
  };
}
