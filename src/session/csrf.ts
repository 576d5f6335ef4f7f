import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * CSRF defences for the sidecar's own forms and API (THREATS T7). Form tokens are an HMAC of a
 * value bound to the visitor: the random pre-login nonce before sign-in, the session id after, so
 * a token lifted from one visitor is useless for another. Browsers' Origin and Sec-Fetch-Site
 * headers are checked on every unsafe method as a second, independent line.
 */
export function csrfToken(key: Buffer, binding: string): string {
  return createHmac('sha256', key).update(binding).digest('base64url');
}

export function csrfTokenValid(key: Buffer, binding: string, token: unknown): boolean {
  if (typeof token !== 'string' || token.length === 0 || token.length > 128) return false;
  const expected = Buffer.from(csrfToken(key, binding));
  const given = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * A cross-site request: Sec-Fetch-Site says so, or Origin names another origin (or is "null").
 * Requests without either header come from non-browser clients, which cannot be forged by a page.
 */
export function crossSite(headers: IncomingHttpHeaders, ownOrigin: string): string | null {
  const site = headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site: ${site}`;
  const origin = headers.origin;
  // The sidecar's pages send Referrer-Policy: no-referrer, under which browsers send `Origin: null`
  // for the pages' own form posts (Fetch, "serialize a request origin"). Sec-Fetch-Site, which no
  // page can set, then tells where the post came from; without it, "null" stays a refusal.
  if (origin === 'null' && site === 'same-origin') return null;
  if (typeof origin === 'string' && origin.toLowerCase() !== ownOrigin.toLowerCase()) return `Origin: ${origin}`;
  return null;
}
