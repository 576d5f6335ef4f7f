import { isIP } from 'node:net';
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from '../duration.ts';

/* The value types the configuration's sections share (durations, secrets, addresses, paths). */

/** A same-origin path (not `//host` or `/\\host`) or an https URL without user:password; no spaces or controls. */
export function isForgotPasswordUrl(value: string): boolean {
  if (/[\s\u0000-\u001f\u007f]/.test(value)) return false;
  if (value.startsWith('/')) return /^\/(?![/\\])/.test(value);
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.username === '' && url.password === '' && url.hostname !== '';
  } catch {
    return false;
  }
}

export const duration = z
  .string()
  .regex(DURATION_PATTERN, 'must be a duration such as 500ms, 30s, 10m, 12h or 1d')
  .transform((text) => parseDuration(text) as number);

export const port = z.number().int().min(0).max(65535);
export const host = z.string().min(1);

/** A secret is never written in the config itself: it names an environment variable or a file. */
export const secretRef = z.union([
  z.object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name') }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);

/** An IP address or a CIDR range (10.0.0.0/8, fd00::/8): the rule of trusted_proxies and risk.networks. */
export function isCidr(value: string): boolean {
  const [address, bits, extra] = value.split('/');
  if (extra !== undefined || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return Number.isInteger(n) && n >= 0 && n <= (family === 4 ? 32 : 128) && /^\d+$/.test(bits);
}

export const cidr = z.string().refine(isCidr, 'must be an IP address or CIDR range such as 10.0.0.0/8 or fd00::/8');

export const headerPattern = z
  .string()
  .regex(/^[a-z0-9*!#$%&'+.^_`|~-]+$/, 'must be a lower-case header name, * allowed as a wildcard');

export const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. redis-0.redis:6379 or [::1]:6379');

export const appPath = z.string().regex(/^\/[^#]*$/, 'must be an absolute path of the app such as /account');
