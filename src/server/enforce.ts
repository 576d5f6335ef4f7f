// Moved to src/access/routing.ts (issue 15); kept so route modules not yet moved compile. Remove once none import it.
export { GUARD_PREFIX, GuardRouteTable, isGuardPath, route, type GuardRoute, type RouteHost, type Routing } from '../access/routing.ts';
