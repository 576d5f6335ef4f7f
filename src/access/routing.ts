import { canonicaliseTarget, type CanonicalTarget } from '../proxy/canonical-target.ts';
import { UNKNOWN_HOST_REASON } from '../proxy/host.ts';
import type { Access, CompiledPolicy, CompiledRule, PolicyMatch } from '../policy/types.ts';

/**
 * The first half of every access decision (access/decide.ts), shared by all entries: one
 * canonical target and one matched rule, the sidecar's own /_guard/ routes included.
 */

export const GUARD_PREFIX = '/_guard';

/** The sidecar's own routes, decided by the same `decide` as upstream routes. */
export interface GuardRoute {
  readonly path: string;
  readonly access: Access;
}

export type Routing =
  /** 400: the target or Host is ambiguous or invalid; 421: a host the policy does not serve. */
  | { readonly kind: 'reject'; readonly reason: string; readonly status: 400 | 421 }
  | {
      readonly kind: 'routed';
      readonly target: CanonicalTarget;
      readonly match: PolicyMatch;
      /** True for /_guard/ routes served by the sidecar itself. */
      readonly internal: boolean;
    };

function internalRule(index: number, route: GuardRoute): CompiledRule {
  return {
    index,
    name: `guard:${route.path.slice(GUARD_PREFIX.length + 1) || 'root'}`,
    access: route.access,
    methods: null,
    hosts: null,
    paths: [route.path],
    sensitive: null,
    intercept: null,
    source: null,
  };
}

const UNKNOWN_GUARD_ROUTE: CompiledRule = { ...internalRule(-1, { path: `${GUARD_PREFIX}/`, access: 'public' }), name: 'guard:not-found' };

export class GuardRouteTable {
  private readonly rules = new Map<string, CompiledRule>();
  /** Paths with a `:name` segment (one path segment each), e.g. /_guard/api/sessions/:handle/revoke. */
  private readonly patterns: Array<readonly [RegExp, CompiledRule]> = [];

  constructor(routes: readonly GuardRoute[]) {
    routes.forEach((route, i) => {
      if (route.path.includes('/:')) {
        const source = route.path
          .split('/')
          .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
          .join('/');
        this.patterns.push([new RegExp(`^${source}/?$`), internalRule(i, route)]);
      } else {
        this.rules.set(route.path, internalRule(i, route));
      }
    });
  }

  /** Unknown sidecar paths are public so the router can answer 404 without a login detour. */
  lookup(path: string): CompiledRule {
    return this.rules.get(path) ?? this.rules.get(path.replace(/\/$/, '')) ?? this.patterns.find(([pattern]) => pattern.test(path))?.[1] ?? UNKNOWN_GUARD_ROUTE;
  }
}

export function isGuardPath(path: string): boolean {
  return path.length >= GUARD_PREFIX.length &&
    path.slice(0, GUARD_PREFIX.length).toLowerCase() === GUARD_PREFIX &&
    (path.length === GUARD_PREFIX.length || path[GUARD_PREFIX.length] === '/');
}

/** The request's host as proxy/client-address.ts canonicalised it (proxy/host.ts). */
export interface RouteHost {
  readonly hostname: string;
  readonly hostProblem?: string | undefined;
}

/**
 * Checks the host, canonicalises the target and finds its rule; identity is not needed for this
 * part. An invalid Host is refused and an unknown one (settings.known_hosts) is never decided by
 * the default rule (THREATS T20).
 */
export function route(
  policy: CompiledPolicy,
  guardRoutes: GuardRouteTable,
  method: string,
  rawTarget: string,
  host: RouteHost,
): Routing {
  if (host.hostProblem !== undefined) return { kind: 'reject', reason: host.hostProblem, status: 400 };
  const hostname = host.hostname;
  if (!policy.isKnownHost(hostname)) return { kind: 'reject', reason: UNKNOWN_HOST_REASON, status: 421 };
  const canonical = canonicaliseTarget(rawTarget, { pathParameters: policy.settings.pathParameters, host: hostname });
  if (!canonical.ok) return { kind: 'reject', reason: canonical.reason, status: 400 };
  const target = canonical.target;
  if (isGuardPath(target.path)) {
    // The sidecar's own routes obey the policy's method list too: an unknown method is denied.
    const rule = policy.settings.knownMethods.has(method) ? guardRoutes.lookup(target.path) : policy.unknownMethodRule;
    return { kind: 'routed', target, internal: true, match: { rule, params: {} } };
  }
  // The policy decides on the very query string that is forwarded (target.forwarded holds it as is).
  const query = policy.parseQuery(target.query);
  if (!query.ok) return { kind: 'reject', reason: query.reason, status: 400 };
  return { kind: 'routed', target, internal: false, match: policy.match(method, target.path, hostname, query.query) };
}
