import type { IncomingMessage } from 'node:http';
import type { BlockList } from 'node:net';
import { AccessEntry, createAccessLog, type Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Explanation } from '../policy/types.ts';
import { clientFacts, type ClientFacts } from '../proxy/client-address.ts';
import type { Random } from '../core/random.ts';
import type { Routing } from '../access/routing.ts';

/**
 * What every entry does alike around the access decision: who the client is, the request id,
 * the access log line and metrics, requests in flight (graceful shutdown) and draining.
 */

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface TrafficDeps {
  readonly random: Random;
  readonly trustedProxies: BlockList;
  readonly hasTrustedProxies: boolean;
  readonly requestIdHeader: string;
  readonly logger: Logger;
  readonly metrics?: Metrics | undefined;
}

export interface Traffic {
  factsOf(req: IncomingMessage): { client: ClientFacts; requestId: string };
  logAccess(requestId: string, method: string | undefined, status: number, client: ClientFacts, started: bigint, routing?: Routing, explanation?: Explanation): void;
  /** A client limit refused a request (THREATS T17). */
  refused(limit: string, requestId: string | undefined, client: { address: string }, traffic?: string): void;
  /** Requests and upgrades being handled. */
  inFlight: number;
  /** Once set, answers ask clients to close their connections. */
  draining: boolean;
}

export function createTraffic(deps: TrafficDeps): Traffic {
  const { logger, metrics } = deps;
  // The access log line is built from fields that never hold secrets, so it skips redaction, which
  // would otherwise walk every line on the hot path.
  const accessLog = createAccessLog(logger);

  // Request ids need to be unique, not secret: a random per-process prefix and a counter cost
  // nothing per request (randomBytes per request was measured at ~5% of the hot path).
  const idPrefix = deps.random.bytes(6).toString('hex');
  let idCounter = 0;
  /** A trusted proxy's request id is kept so one id follows the request end to end. */
  const newRequestId = (headers: IncomingMessage['headers'], client: ClientFacts): string => {
    const incoming = headers[deps.requestIdHeader];
    if (client.peerTrusted && typeof incoming === 'string' && REQUEST_ID.test(incoming)) return incoming;
    idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
    return `${idPrefix}-${idCounter.toString(36)}`;
  };

  return {
    inFlight: 0,
    draining: false,
    factsOf(req) {
      const client = clientFacts(
        req.socket.remoteAddress,
        'encrypted' in req.socket && Boolean((req.socket as { encrypted?: boolean }).encrypted),
        req.headers,
        deps.trustedProxies,
        deps.hasTrustedProxies,
      );
      return { client, requestId: newRequestId(req.headers, client) };
    },
    logAccess(requestId, method, status, client, started, routing, explanation) {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const rule = routing?.kind === 'routed' ? routing.match.rule.name : undefined;
      const decision = explanation?.decision.kind ?? routing?.kind;
      metrics?.observeRequest(rule ?? '(none)', decision ?? '(none)', ms / 1000);
      metrics?.observeResponse(status);
      accessLog(new AccessEntry(requestId, method, routing?.kind === 'routed' ? routing.target.path : undefined, status, rule, decision, client.address, ms));
    },
    refused(limit, requestId, client, traffic) {
      metrics?.clientLimit(limit);
      logger.warn({ requestId, client: client.address, limit, ...(traffic ? { traffic } : {}) }, 'client limit reached: refused');
    },
  };
}
