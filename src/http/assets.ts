import type { Context } from 'koa';
import { GUARD_CSS } from '../pages/assets.ts';
import { GUARD_JS } from '../pages/guard-script.ts';
import { PASSKEY_JS } from '../pages/passkey-script.ts';
import { LOGO_URL, type Site } from '../pages/site.ts';
import { row, type RouteRow } from './route.ts';

/**
 * The pages' own static files under /_guard/assets/: the stylesheet, the brand stylesheet
 * generated from config, the scripts, and the configured logo. Same origin (the CSP allows only
 * 'self'), cacheable for an hour, never sniffed.
 */

const ASSET_CACHE = 'public, max-age=3600';

interface Asset {
  readonly type: string;
  readonly body: string | Buffer;
  readonly extra?: Readonly<Record<string, string>>;
}

function serveAsset(asset: Asset, ctx: Context): void {
  ctx.type = asset.type;
  ctx.set({ 'Cache-Control': ASSET_CACHE, 'X-Content-Type-Options': 'nosniff', ...asset.extra });
  ctx.body = asset.body;
}

const asset = (path: string, type: string, body: string | Buffer, extra: Readonly<Record<string, string>> = {}): RouteRow => row('GET', path, 'public', serveAsset, { type, body, extra });

/** The asset rows; the passkey script only where passkeys are on. */
export function assetRows(site: Site, options: { passkeys: boolean }): RouteRow[] {
  const rows = [
    asset('/_guard/assets/guard.css', 'text/css; charset=utf-8', GUARD_CSS),
    asset('/_guard/assets/brand.css', 'text/css; charset=utf-8', site.brandCss),
    asset('/_guard/assets/guard.js', 'text/javascript; charset=utf-8', GUARD_JS),
  ];
  if (options.passkeys) rows.push(asset('/_guard/assets/passkey.js', 'text/javascript; charset=utf-8', PASSKEY_JS));
  // An SVG opened on its own is a document: no script, no plugins, no requests, sandboxed.
  if (site.logo) rows.push(asset(LOGO_URL, site.logo.type, site.logo.body, { 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox" }));
  return rows;
}
