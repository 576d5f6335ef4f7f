import { parseCookie, stringifySetCookie } from 'cookie';

/**
 * The sidecar's cookies. Over https they get the __Host- prefix (Secure, Path=/, no Domain), which
 * stops a sibling subdomain from planting or overwriting them (cookie tossing, THREATS T6).
 */
export type CookieKind = 'session' | 'csrf' | 'pending' | 'device' | 'flash' | 'remember';

const BASE_NAMES: Record<CookieKind, string> = { session: 'spg_session', csrf: 'spg_csrf', pending: 'spg_pending', device: 'spg_device', flash: 'spg_flash', remember: 'spg_rb' };

/** The signed device cookie lives long: a browser stays "known" for the risk engine (400 days, the browsers' cap). */
export const DEVICE_COOKIE_MAX_AGE = 400 * 24 * 3600;

// Case-insensitive: some upstream frameworks (ASP.NET Core) match cookie names without case.
const OWN_COOKIE = /^(__host-)?spg_/i;

/** A cookie that belongs to the sidecar: never forwarded upstream, never settable by the upstream. */
export function isOwnCookie(name: string): boolean {
  return OWN_COOKIE.test(name);
}

export function cookieName(kind: CookieKind, secure: boolean): string {
  return secure ? `__Host-${BASE_NAMES[kind]}` : BASE_NAMES[kind];
}

export function readCookies(header: string | undefined): Record<string, string | undefined> {
  return header ? parseCookie(header) : {};
}

export interface CookieOptions {
  readonly secure: boolean;
  readonly sameSite: 'lax' | 'strict';
  /** Seconds; omitted means a browser-session cookie. */
  readonly maxAge?: number;
}

export function setCookieHeader(kind: CookieKind, value: string, options: CookieOptions): string {
  return stringifySetCookie({
    name: cookieName(kind, options.secure),
    value,
    path: '/',
    httpOnly: true,
    secure: options.secure,
    sameSite: options.sameSite,
    ...(options.maxAge !== undefined ? { maxAge: options.maxAge } : {}),
  });
}

export function clearCookieHeader(kind: CookieKind, options: Omit<CookieOptions, 'maxAge'>): string {
  return setCookieHeader(kind, '', { ...options, maxAge: 0 });
}
