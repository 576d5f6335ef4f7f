import type { IncomingHttpHeaders } from 'node:http';

/**
 * HTML for browsers, JSON for everything else (DESIGN §5): an `Accept` that names text/html and
 * no X-Requested-With means a person is looking at the answer. The decision needs it too: during
 * a require_2fa grace period an API client goes on where a page would be asked to set up 2FA.
 */
export function wantsHtml(headers: IncomingHttpHeaders): boolean {
  if (headers['x-requested-with'] !== undefined) return false;
  const accept = headers.accept;
  return typeof accept === 'string' && accept.toLowerCase().includes('text/html');
}
