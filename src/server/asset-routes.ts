import type Router from '@koa/router';
import type { Context } from 'koa';
import { GUARD_CSS } from '../pages/assets.ts';
import { GUARD_JS } from '../pages/guard-script.ts';
import { LOGO_URL, type Site } from '../pages/site.ts';
import type { GuardRoute } from './enforce.ts';

/**
 * The pages' own static files under /_guard/assets/: the stylesheet, the brand stylesheet
 * generated from config, the one script, and the configured logo. Same origin (the CSP allows
 * only 'self'), cacheable for an hour, never sniffed.
 */

const ASSET_CACHE = 'public, max-age=3600';

function asset(path: string, type: string, body: string | Buffer, extra: Readonly<Record<string, string>> = {}): GuardRoute & { register(router: Router): void } {
  return {
    path,
    access: 'public',
    register: (router) =>
      router.get(path, (ctx: Context) => {
        ctx.type = type;
        ctx.set({ 'Cache-Control': ASSET_CACHE, 'X-Content-Type-Options': 'nosniff', ...extra });
        ctx.body = body;
      }),
  };
}

export function createAssetRoutes(site: Site): Array<GuardRoute & { register(router: Router): void }> {
  const routes = [
    asset('/_guard/assets/guard.css', 'text/css; charset=utf-8', GUARD_CSS),
    asset('/_guard/assets/brand.css', 'text/css; charset=utf-8', site.brandCss),
    asset('/_guard/assets/guard.js', 'text/javascript; charset=utf-8', GUARD_JS),
  ];
  // An SVG opened on its own is a document: no script, no plugins, no requests, sandboxed.
  if (site.logo) routes.push(asset(LOGO_URL, site.logo.type, site.logo.body, { 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox" }));
  return routes;
}
