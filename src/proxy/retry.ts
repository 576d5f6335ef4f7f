/**
 * When a proxied request is sent again: an app server closes an idle kept-alive connection on its
 * own schedule, and the close can cross a request just sent on it. Only a request that can be
 * repeated without effect goes out again (as Go's transport and nginx's `proxy_next_upstream
 * error` do; RFC 9112 §9.3.1), and only when the connection was a pooled one.
 */

/** Idempotent and, here, bodiless (RFC 9110 §9.2.2): safe to send again when no answer came. */
export const REPLAYABLE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** How a pooled connection the upstream had just closed fails: reset, or closed before any answer ("socket hang up"). */
const STALE_CONNECTION: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** Every pooled connection may have gone stale at once (an upstream restart): a bound on the tries. */
export const MAX_ATTEMPTS = 4;

export function isStaleConnection(error: unknown): boolean {
  return STALE_CONNECTION.has((error as NodeJS.ErrnoException | undefined)?.code ?? '');
}
