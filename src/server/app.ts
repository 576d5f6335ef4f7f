import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlockList } from 'node:net';
import type { Duplex } from 'node:stream';
import type Router from '@koa/router';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Tracing } from '../observability/tracing.ts';
import type { Upstream } from '../proxy/forward.ts';
import type { UpstreamAdmission } from '../proxy/admission.ts';
import type { CompiledPolicy } from '../policy/types.ts';
import type { Random } from '../core/random.ts';
import type { Site } from '../pages/site.ts';
import { createAccess } from '../access/decide.ts';
import type { IdentityResolver, MandateFacts, SensitiveFacts } from '../access/ports.ts';
import { GuardRouteTable, type GuardRoute } from '../access/routing.ts';
import type { InterceptHandler, MandateAnswer, StepUpAnswer } from '../http/answer.ts';
import type { ClientLimits } from '../entry/client-limits.ts';
import { createTraffic } from '../entry/traffic.ts';
import { createForwarder, createProxyEntry } from '../entry/proxy.ts';
import { createUpgradeEntry } from '../entry/upgrade.ts';
import { createOwnRoutes } from '../entry/own-routes.ts';


export interface GuardAppDeps {
  readonly policy: () => CompiledPolicy;
  readonly upstream: Upstream;
  readonly logger: Logger;
  readonly random: Random;
  readonly trustedProxies: BlockList;
  readonly hasTrustedProxies: boolean;
  readonly requestIdHeader: string;
  readonly identity: IdentityResolver;
  readonly intercept: InterceptHandler;
  readonly sensitive: SensitiveFacts & StepUpAnswer;
  /** Request, upstream and store counters (none when absent). */
  readonly metrics?: Metrics;
  /** The sidecar's own routes (login, verify, security, …) mounted under /_guard/. */
  readonly routes: ReadonlyArray<GuardRoute & { register(router: Router): void }>;
  /** The pages' brand and its assets (config `product`). */
  readonly site: Site;
  /** Per-address connection cap and request-body pace (THREATS T17); none: unlimited. */
  readonly clientLimits?: ClientLimits;
  /** Who may hold an upstream socket (THREATS T17); none: every passed request is forwarded at once. */
  readonly admission?: UpstreamAdmission;
  /**
   * Resolves once the security events recorded so far are stored by every audit sink; awaited
   * before a sidecar answer is sent, so what a user was told happened is in the audit trail even
   * after a kill -9 (issue 14 item 15). Returns at once when nothing was recorded.
   */
  readonly settleAudit?: () => Promise<void>;
  /** OpenTelemetry spans (config `tracing`); none: tracing is off and costs a null check per hook. */
  readonly tracing?: Tracing;
  /** Policy `require_2fa` (required-two-factor.ts); none: a covered rule refuses users without 2FA (fail closed). */
  readonly requireTwoFactor?: MandateFacts & MandateAnswer;
}

export interface GuardApp {
  /** The listener's request handler: the access decision, then the proxy or the sidecar's pages. */
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Requests and upgrades still being handled (for graceful shutdown). */
  inFlight(): number;
  /** Once set, responses ask clients to close their connections. */
  startDraining(): void;
}

/**
 * The listener's handlers, assembled: one access decision (src/access/) shared by three entries
 * (src/entry/): the proxy (HTTP), websocket upgrades, and the sidecar's own routes.
 */
export function createGuardApp(deps: GuardAppDeps): GuardApp {
  const routes = deps.routes;
  const brand = deps.site.brand;
  const tracing = deps.tracing;
  const access = createAccess({
    policy: deps.policy,
    guardRoutes: new GuardRouteTable(routes),
    identity: deps.identity,
    sensitive: deps.sensitive,
    mandate: deps.requireTwoFactor,
    logger: deps.logger,
    metrics: deps.metrics,
    trace: tracing ? (req) => tracing.spanOf(req) : undefined,
  });
  const traffic = createTraffic(deps);
  const forwarder = createForwarder({ ...deps, traffic, brand });
  const ownRoutes = createOwnRoutes({
    access,
    traffic,
    forward: forwarder.forward,
    routes,
    brand,
    logger: deps.logger,
    metrics: deps.metrics,
    tracing,
    intercept: deps.intercept,
    stepUp: deps.sensitive,
    mandate: deps.requireTwoFactor,
    settleAudit: deps.settleAudit,
  });
  return {
    handleRequest: createProxyEntry({ access, traffic, forwarder, brand, logger: deps.logger, metrics: deps.metrics, tracing, clientLimits: deps.clientLimits, handOver: ownRoutes.handOver }),
    handleUpgrade: createUpgradeEntry({ access, traffic, upstream: deps.upstream, identity: deps.identity, requestIdHeader: deps.requestIdHeader, logger: deps.logger, clientLimits: deps.clientLimits }),
    inFlight: () => traffic.inFlight,
    startDraining: () => {
      traffic.draining = true;
    },
  };
}
