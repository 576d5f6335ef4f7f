// Over 300 lines: the composition root builds every part of the sidecar once and wires it, in one place.
import http from 'node:http';
import type { Socket } from 'node:net';
import { ownerMessageRoute } from '../alerts/owner-message.ts';
import { AlertDispatcher } from '../alerts/dispatcher.ts';
import { watchContacts } from '../alerts/watch.ts';
import { AdminTokens } from '../admin/tokens.ts';
import type { AuditQuery, AuditRecorder } from '../audit/audit.ts';
import type { Audit } from '../audit/record.ts';
import { ConfigError, resolveSecret, secretSource, type LoadedConfig } from '../config/load.ts';
import { alertOptions, listenerOptions, sessionOptions, siteOptions, tracingOptions, upstreamAccountConfig } from './options.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import { cryptoRandom, type Random } from '../core/random.ts';
import { Contacts, identityRules, openDirectory } from '../directory/index.ts';
import type { Regulation } from '../flows/regulation.ts';
import { UpstreamAccount } from '../flows/upstream-account.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { Metrics, type MetricsOutput } from '../observability/metrics.ts';
import { startTracing } from '../observability/tracing.ts';
import { buildSite } from '../pages/site.ts';
import { requireTwoFactorRoleProblem } from '../policy/require-two-factor.ts';
import { PolicyHolder } from '../policy/watch.ts';
import { parseSessionKeys, SessionKeyError, type SessionKeys } from '../session/keys.ts';
import { SessionService } from '../session/sessions.ts';
import type { DurableStore } from '../store/durable.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import type { StoreEvents } from '../store/events.ts';
import type { GraceStore } from '../store/grace.ts';
import type { UpstreamAdmission } from '../proxy/admission.ts';
import { createAdminServer } from './admin-listener.ts';
import { createGuardApp } from './app.ts';
import { buildAudit } from './audit-trail.ts';
import { buildFactors, buildFlows } from './flows.ts';
import { listen, onClientError } from './listener.ts';
import { buildProxySide } from './proxy-side.ts';
import { reportPolicyReloads } from './policy-reloads.ts';
import { checkEncryptionKeys } from './second-factor.ts';
import { buildSidecarHttp } from './sidecar-http.ts';
import { openStores } from './stores.ts';
import { keepTickShape } from './tick-shape.ts';

/** The composition root: config in, two listening servers out. */

export interface StartOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly random?: Random;
  /** Watch the policy files for changes (default true). */
  readonly watchPolicy?: boolean;
  /** The ephemeral store (default: in-memory). */
  readonly store?: EphemeralStore;
  /** The durable store (default: the SQLite file of the config). */
  readonly durable?: DurableStore;
  /** Where secret references {env: …} are read (default: process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where audit events are also kept and the admin API reads them (tests); default: the configured sinks. */
  readonly audit?: AuditRecorder & AuditQuery;
  /** A new deployment: the SQLite store may be created when missing or empty (`serve --init-store`). */
  readonly initStore?: boolean;
  /** The event channel between processes sharing `store` (the workers of `serve --workers N`, src/server/cluster.ts). */
  readonly events?: StoreEvents;
  /** Listen on the admin address (default true); `serve --workers N` runs it in one worker only. */
  readonly adminListener?: boolean;
  /**
   * Log the "smartpush-guard listening" line (default true). Workers of `serve --workers` leave it to
   * the primary, which says it once every worker serves: a reader of that line may rely on all of them.
   */
  readonly announce?: boolean;
  /** What the admin listener's `/metrics` serves (default: this process's registry); the workers' aggregate with `--workers`. */
  readonly metricsOutput?: () => Promise<MetricsOutput>;
}

export interface RunningGuard {
  readonly url: string;
  /** The admin listener's URL ('' where this process runs none: the other workers of `serve --workers N`). */
  readonly adminUrl: string;
  readonly server: http.Server;
  readonly adminServer: http.Server;
  readonly policy: PolicyHolder;
  readonly logger: Logger;
  readonly sessions: SessionService;
  readonly regulation: Regulation;
  readonly store: EphemeralStore;
  readonly durable: DurableStore;
  /** `require_2fa` grace periods (durable). */
  readonly grace: GraceStore;
  /** The audit trail: `record` for emitters, `recent` for the admin API (durable, shared by replicas). */
  readonly audit: Audit;
  /** This sidecar's Prometheus registry and counters (`GET /metrics` on the admin listener). */
  readonly metrics: Metrics;
  /** Who holds the upstream pool (THREATS T17): sockets in use, anonymous and in total. */
  readonly admission: UpstreamAdmission;
  /** The security alerts (config `alerts`): `idle()` resolves when none is waiting to be sent. */
  readonly alerts: AlertDispatcher;
  /** Stop accepting, let in-flight requests finish (up to the grace period), then close everything. */
  close(): Promise<void>;
}

export async function startGuard(loaded: LoadedConfig, options: StartOptions = {}): Promise<RunningGuard> {
  keepTickShape();
  const { config } = loaded;
  // The logo is read and checked first: a bad brand setting stops the start before anything opens.
  const site = buildSite(config.product, loaded.file, siteOptions(config));
  const logger = options.logger ?? createLogger(config.log.level);
  const random = options.random ?? cryptoRandom;

  const metrics = new Metrics();
  const policy = await PolicyHolder.open(loaded.policyPath, {
    settleMs: config.policy_reload.settle,
    holdWeakening: config.policy_reload.hold_weakening,
  });

  const clock = options.clock ?? systemClock;
  let keys: SessionKeys;
  try {
    keys = parseSessionKeys(resolveSecret(config.session.keys, loaded.file));
  } catch (error) {
    if (error instanceof SessionKeyError) throw new ConfigError([error.message]);
    throw error;
  }
  // Read before listening: a missing or short token stops the start with a config error.
  const adminTokens = AdminTokens.fromConfig(config.admin, loaded.file);
  const stores = await openStores(loaded, {
    clock,
    logger,
    ...(options.store ? { ephemeral: options.store } : {}),
    ...(options.durable ? { durable: options.durable } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.initStore !== undefined ? { initStore: options.initStore } : {}),
    serving: true,
  });
  const { ephemeral: store, durable } = stores;
  // Security alerts consume the audit records; they are connected to the channels further down.
  const alerts = new AlertDispatcher({ ...alertOptions(config), clock, logger, onOutcome: (kind, outcome) => metrics.alert(kind, outcome) });
  // ONE message to the owner per event: the alert when its kind is on, else the flows' email notice.
  const ownerMessages = ownerMessageRoute(config.alerts);
  const audit = buildAudit({
    extraSinks: [alerts.sink()],
    config,
    configFile: loaded.file,
    clock,
    random,
    logger,
    metrics,
    durable,
    ...(stores.redis ? { redis: stores.redis } : {}),
    ...(options.audit ? { query: options.audit } : {}),
  });
  if (options.watchPolicy !== false) reportPolicyReloads(policy, { logger, audit, policyPath: loaded.policyPath });
  const sessions = new SessionService(store, keys, clock, random, {
    ...sessionOptions(config),
    ...(stores.events ? { events: stores.events } : options.events ? { events: options.events } : {}),
    cacheStats: metrics.sessionCache,
  });
  const account = new UpstreamAccount(upstreamAccountConfig(config, clock));
  const identity = identityRules(config);
  let contacts: Contacts;
  try {
    // Addresses the directory gives are also kept for the alerts (src/alerts/), sent without a session.
    contacts = watchContacts(new Contacts(openDirectory(config, loaded.file, account, options.env ?? process.env), identity, logger), alerts);
  } catch (error) {
    account.close();
    await audit.close();
    await stores.close();
    policy.close();
    throw error;
  }
  // require_2fa.roles needs a directory that gives roles: never a filter silently ignored.
  const roleProblem = requireTwoFactorRoleProblem(policy.current, contacts);
  if (roleProblem !== null) {
    account.close();
    await Promise.allSettled([audit.close(), contacts.close()]);
    await stores.close();
    policy.close();
    throw new ConfigError([roleProblem]);
  }
  const { factors, regulation } = buildFactors({ config, configFile: loaded.file, stores, contacts, alerts, ownerMessages, clock, random, logger, audit });
  try {
    await checkEncryptionKeys(durable, factors, { clock, logger, source: `factors.encryption_keys (${secretSource(config.factors.encryption_keys, loaded.file)})` });
  } catch (error) {
    await Promise.allSettled([factors.close(), audit.close(), contacts.close()]);
    await stores.close();
    policy.close();
    throw error;
  }
  const flows = buildFlows({ config, stores, factors, regulation, account, sessions, contacts, identity, policy, alerts, ownerMessages, clock, random, logger, audit });
  const sidecar = buildSidecarHttp({ config, site, keys, flows, policy, sessions, account, contacts, durable, clock, random, logger, audit });

  const { upstream, trustedProxies, clientLimits, admission } = buildProxySide(config, account, { metrics, logger });

  // Loaded only when configured: without an endpoint the OpenTelemetry SDK never enters memory.
  const tracingConfig = tracingOptions(config, loaded.file, options.env);
  const tracing = tracingConfig === undefined ? undefined : await startTracing(tracingConfig, logger);

  const guard = createGuardApp({
    policy: () => policy.current,
    upstream,
    logger,
    metrics,
    random,
    trustedProxies,
    hasTrustedProxies: config.trusted_proxies.length > 0,
    clientLimits,
    admission,
    requestIdHeader: config.headers.request_id,
    identity: sidecar.identity,
    intercept: sidecar.intercept,
    sensitive: sidecar.sensitive,
    requireTwoFactor: flows.requireTwoFactor,
    site,
    settleAudit: () => audit.settle(),
    ...(tracing ? { tracing } : {}),
    routes: sidecar.routes,
  });

  const listener = listenerOptions(config);
  const server = http.createServer(listener.server, guard.handleRequest);
  server.timeout = listener.socketTimeoutMs;
  server.on('connection', (socket: Socket) => clientLimits.accept(socket));
  server.on('upgrade', guard.handleUpgrade);
  server.on('clientError', onClientError(logger, metrics));

  let draining = false;
  const adminServer = createAdminServer({
    config,
    tokens: adminTokens,
    stores,
    audit,
    sessions,
    regulation,
    factors,
    flows,
    identity,
    contacts,
    alerts,
    ownerMessages,
    clock,
    random,
    logger,
    metrics,
    metricsOutput: options.metricsOutput,
    draining: () => draining,
  });

  const url = await listen(server, config.listen.host, config.listen.port);
  let adminUrl = '';
  try {
    if (options.adminListener !== false) adminUrl = await listen(adminServer, config.admin.host, config.admin.port);
  } catch (error) {
    server.close();
    throw error;
  }
  if (options.announce !== false) logger.info({ url, adminUrl, upstream: config.upstream.url, policy: loaded.policyPath }, 'smartpush-guard listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      guard.startDraining();
      server.close();
      server.closeIdleConnections();
      const deadline = Date.now() + config.shutdown_grace;
      while (guard.inFlight() > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
        server.closeIdleConnections();
      }
      server.closeAllConnections();
      // The last spans are exported before the process goes (bounded by tracing.timeout).
      await tracing?.shutdown().catch((error: unknown) => logger.warn({ error: String((error as Error | null)?.name) }, 'tracing: the last spans could not be exported'));
      upstream.close();
      account.close();
      await alerts.close();
      await contacts.close().catch((error: unknown) => logger.warn({ err: error }, 'directory did not close cleanly'));
      await factors.close();
      // The audit trail flushes into the durable store, so it closes first.
      await audit.close();
      await stores.close();
      policy.close();
      adminServer.close();
      adminServer.closeAllConnections();
      logger.info({ unfinished: guard.inFlight() }, 'smartpush-guard stopped');
    })();
    return closing;
  };

  return { url, adminUrl, server, adminServer, policy, logger, sessions, regulation, store, durable, grace: stores.grace, audit, metrics, admission, alerts, close };
}

/** SIGTERM/SIGINT drain and exit; SIGHUP reloads the policy. For the CLI, not for tests. */
export function handleSignals(guard: RunningGuard): void {
  const stop = (signal: string): void => {
    guard.logger.info({ signal }, 'shutting down');
    guard.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    void guard.policy.reload();
  });
}
