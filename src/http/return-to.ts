import { canonicaliseTarget } from '../proxy/canonical-target.ts';
import { isGuardPath } from '../access/routing.ts';

/**
 * Where to send someone after signing in. Only a same-origin path survives (THREATS T5): it must
 * start with exactly one '/', hold nothing a browser would strip or reinterpret (tabs, newlines,
 * backslashes), and canonicalise cleanly; anything else, and the sidecar's own pages, land on the
 * fallback. The language switcher, which comes back to the sidecar's own page, allows those
 * (`guardPages`), but never its API.
 */
export function safeReturnTo(value: unknown, fallback: string, options: { guardPages?: boolean } = {}): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return fallback;
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return fallback;
  if (/[\u0000-\u001f\u007f\\\s]/.test(value)) return fallback;
  const canonical = canonicaliseTarget(value, { pathParameters: 'allow' });
  if (!canonical.ok || canonical.target.forwarded.startsWith('//')) return fallback;
  if (isGuardPath(canonical.target.path)) {
    const path = canonical.target.path.toLowerCase();
    if (!options.guardPages || path === '/_guard/api' || path.startsWith('/_guard/api/')) return fallback;
  }
  return canonical.target.forwarded;
}
