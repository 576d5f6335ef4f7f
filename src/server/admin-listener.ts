import http from 'node:http';
import { createAdminApp } from '../admin/app.ts';
import { AdminOperations } from '../admin/operations.ts';
import type { AdminTokens } from '../admin/tokens.ts';
import { type AlertDispatcher } from '../alerts/dispatcher.ts';
import { watchDurable } from '../alerts/watch.ts';
import type { OwnerMessageRoute } from '../alerts/owner-message.ts';
import type { Audit } from '../audit/record.ts';
import type { Config } from '../config/schema.ts';
import type { Clock } from '../core/clock.ts';
import type { Random } from '../core/random.ts';
import type { Contacts, identityRules } from '../directory/index.ts';
import type { Regulation } from '../flows/regulation.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics, MetricsOutput } from '../observability/metrics.ts';
import type { SessionService } from '../session/sessions.ts';
import type { Flows } from './flows.ts';
import type { buildSecondFactor } from './second-factor.ts';
import type { Stores } from './stores.ts';

/** The admin listener's server: health and readiness, metrics, and the support API (bearer token). */

export interface AdminListenerParts {
  readonly config: Config;
  readonly tokens: AdminTokens;
  readonly stores: Stores;
  readonly audit: Audit;
  readonly sessions: SessionService;
  readonly regulation: Regulation;
  readonly factors: ReturnType<typeof buildSecondFactor>;
  readonly flows: Flows;
  readonly identity: ReturnType<typeof identityRules>;
  readonly contacts: Contacts;
  readonly alerts: AlertDispatcher;
  readonly ownerMessages: OwnerMessageRoute;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** What `/metrics` serves (default: this process's registry). */
  readonly metricsOutput?: (() => Promise<MetricsOutput>) | undefined;
  /** True once shutdown began: readiness then says so. */
  readonly draining: () => boolean;
}

export function createAdminServer(parts: AdminListenerParts): http.Server {
  const { config, stores, audit, factors, flows, logger, metrics } = parts;
  const operations = new AdminOperations({
    // The destination before support changes it is handed to the alerts: the old one is told.
    durable: watchDurable(stores.durable, parts.alerts),
    riskHistory: stores.riskHistory,
    passkeys: stores.passkeys,
    audit,
    live: { sessions: parts.sessions, regulation: parts.regulation, factor: factors.factor, accounts: flows.generations, activeSessions: flows.activeSessions },
    email: factors.channels.email,
    smsCountryAllowed: factors.smsCountryAllowed,
    clock: parts.clock,
    logger,
    product: config.product.name,
    support: config.product.support,
    identity: parts.identity,
    contacts: parts.contacts,
    remembered: flows.remembered,
    ownerMessages: parts.ownerMessages,
  });
  const ready = async (): Promise<{ ready: boolean; reason?: string }> => {
    if (parts.draining()) return { ready: false, reason: 'shutting down' };
    try {
      await Promise.all([stores.ephemeral.ping(), stores.durable.ping()]);
    } catch (error) {
      logger.error({ err: error }, 'readiness: a store cannot answer');
      return { ready: false, reason: 'a store cannot answer' };
    }
    return { ready: true };
  };
  // Prometheus sees what the load balancer sees (the "store down" alert reads spg_ready).
  metrics.setReadiness(ready);
  return http.createServer(
    createAdminApp({
      api: { tokens: parts.tokens, operations, logger, random: parts.random },
      ready,
      metrics: parts.metricsOutput ?? (() => metrics.render()),
      settleAudit: () => audit.settle(),
    }).callback(),
  );
}
