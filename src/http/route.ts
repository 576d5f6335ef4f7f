import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Access } from '../policy/types.ts';
import type { GuardRoute } from '../access/routing.ts';

/**
 * One row of the sidecar's route table (src/http/routes.ts) and how the rows reach the router and
 * the enforcement point. Who may call a route is the enforcement point's decision (the rule it
 * builds from `access`); a handler only re-reads the session for the type system.
 */

/**
 * Who a route is for. `pending` routes are public to the enforcement point: the pending sign-in
 * they continue lives in its own cookie, which the handler looks up.
 */
export type Who = 'public' | 'pending' | 'authenticated';

const ACCESS: Readonly<Record<Who, Access>> = { public: 'public', pending: 'public', authenticated: 'authenticated' };

export type Method = 'GET' | 'POST' | 'DELETE';

export interface RouteRow {
  readonly method: Method;
  readonly path: string;
  readonly who: Who;
  readonly handle: (ctx: Context) => unknown;
}

/** What the app mounts: one entry per path (the shape src/server/app.ts and src/entry/ take). */
export type RouteDefinition = GuardRoute & { register(router: Router): void };

/** A row whose handler takes its deps explicitly: `row('GET', '/_guard/x', 'authenticated', showX, deps)`. */
export function row<D>(method: Method, path: string, who: Who, handler: (deps: D, ctx: Context) => unknown, deps: D): RouteRow {
  return { method, path, who, handle: (ctx) => handler(deps, ctx) };
}

/**
 * The access level of every path in the table, for the enforcement point. Two methods of one path
 * must agree on who may call it (the enforcement point decides per path): a table that disagrees
 * stops the start.
 */
export function guardAccess(rows: readonly RouteRow[]): GuardRoute[] {
  const byPath = new Map<string, Access>();
  for (const r of rows) {
    const access = ACCESS[r.who];
    const seen = byPath.get(r.path);
    if (seen !== undefined && seen !== access) throw new Error(`route table: ${r.path} is both ${seen} and ${access}`);
    byPath.set(r.path, access);
  }
  return [...byPath].map(([path, access]) => ({ path, access }));
}

/** The table as the app mounts it: one definition per path, registering each of its methods. */
export function mountRoutes(rows: readonly RouteRow[]): RouteDefinition[] {
  return guardAccess(rows).map((route) => ({
    ...route,
    register(router: Router) {
      for (const r of rows) {
        if (r.path !== route.path) continue;
        if (r.method === 'GET') router.get(r.path, async (ctx) => void (await r.handle(ctx)));
        else if (r.method === 'POST') router.post(r.path, async (ctx) => void (await r.handle(ctx)));
        else router.delete(r.path, async (ctx) => void (await r.handle(ctx)));
      }
    },
  }));
}
