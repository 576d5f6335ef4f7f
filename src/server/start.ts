import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import { createAdminApp } from '../admin/app.ts';
import { AdminOperations } from '../admin/operations.ts';
import { ownerMessageRoute } from '../alerts/owner-message.ts';
import { AlertDispatcher } from '../alerts/dispatcher.ts';
import { watchContacts, watchDurable } from '../alerts/watch.ts';
import { AdminTokens } from '../admin/tokens.ts';
import { MemoryAudit, type AuditQuery, type AuditRecorder } from '../audit/audit.ts';
import type { LoadedConfig } from '../config/load.ts';
import { trustedProxyList } from '../config/schema.ts';
import { createForwardAuthRoutes } from '../entry/forward-auth.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { Metrics, type MetricsOutput } from '../observability/metrics.ts';
import { startTracing } from '../observability/tracing.ts';
import type { Audit } from '../audit/record.ts';
import { buildAudit } from './audit-wiring.ts';
import { PolicyHolder } from '../policy/watch.ts';
import { BUILTIN_STRIPPED_HEADERS, compileHeaderFilter } from '../proxy/headers.ts';
import { cookieNameMatcher } from '../proxy/cookie-names.ts';
import { Upstream } from '../proxy/forward.ts';
import { UpstreamAdmission } from '../proxy/admission.ts';
import { ClientLimits } from './client-limits.ts';
import { createGuardApp } from './app.ts';
import { createAuth } from './auth-routes.ts';
import { ConfigError, resolveSecret, secretSource } from '../config/load.ts';
import { AccountGenerations, factorState } from '../flows/account-generation.ts';
import { isKeyCheckPort, verifyEncryptionKeys } from '../factors/key-check.ts';
import { LoginFlow } from '../flows/login.ts';
import { Regulation, type RegulationLimits } from '../flows/regulation.ts';
import { UpstreamAccount } from '../flows/upstream-account.ts';
import { upstreamAccountConfig } from './upstream-account-config.ts';
import { Contacts, identityRules, openDirectory } from '../directory/index.ts';
import { parseSessionKeys, SessionKeyError, type SessionKeys } from '../session/keys.ts';
import { SessionService } from '../session/sessions.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import type { StoreEvents } from '../store/events.ts';
import { isOwnCookie } from '../session/cookies.ts';
import type { DurableStore } from '../store/durable.ts';
import { RiskService } from '../risk/service.ts';
import { StepUpFlow } from '../flows/step-up.ts';
import { createStepUp } from './step-up-routes.ts';
import { TwoFactorSettings } from '../flows/two-factor-settings.ts';
import { buildSecondFactor } from './second-factor-wiring.ts';
import { createGuardHttp } from './guard-http.ts';
import { createTwoFactorApi } from './two-factor-routes.ts';
import { createSecurityPages } from './security-pages.ts';
import { createSessionRoutes } from './session-routes.ts';
import { ActiveSessions } from '../flows/active-sessions.ts';
import { NetworkLabels } from '../session/session-origin.ts';
import { createRememberedBrowserRoutes } from './remembered-browser-routes.ts';
import { RememberedBrowsers } from '../flows/remember-browser.ts';
import { createLanguageRoute } from './language-route.ts';
import { buildSite } from '../pages/site.ts';
import { openStores } from './stores.ts';
import { PasskeyCeremonies, webauthnSettings } from '../factors/passkey/ceremony.ts';
import { PasskeySettings } from '../flows/passkey-settings.ts';
import { notificationMessage } from '../channels/templates.tsx';
import { createPasskeyApi } from './passkey-routes.ts';
import { createPasskeyPages, type PasskeyPageHooks } from './passkey-pages.ts';
import { createChangeMethodRoutes } from './change-method-pages.ts';
import type { GraceStore } from '../store/grace.ts';
import { createRequiredTwoFactor } from './required-two-factor.ts';
import { requireTwoFactorRoleProblem } from '../policy/require-two-factor.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import { cryptoRandom, type Random } from '../core/random.ts';

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


function listen(server: http.Server, host: string, port: number): Promise<string> {
  server.listen(port, host);
  return once(server, 'listening').then(() => {
    const address = server.address() as AddressInfo;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${shown}:${address.port}`;
  });
}

/** Answers malformed requests (smuggling attempts, bad framing, oversized headers) and closes the socket. */
function onClientError(logger: Logger, metrics: Metrics) {
  return (error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket): void => {
    const code = error.code ?? '';
    const timedOut = code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : timedOut ? 408 : 400;
    if (timedOut) {
      // Node's headersTimeout: the request head (or nothing at all) came too slowly (THREATS T17).
      metrics.clientLimit('headers_timeout');
      logger.warn({ code, client: socket.remoteAddress, limit: 'headers_timeout' }, 'client limit reached: request head too slow');
    } else {
      logger.info({ code, client: socket.remoteAddress }, 'malformed request refused');
    }
    // A response may still be streaming on this connection (pipelining): writing a 400 now would
    // splice it into that body, so the connection is only cut (as Node itself does).
    const current = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !socket.destroyed && !current?.headersSent) {
      const body = JSON.stringify(
        timedOut
          ? { error: 'request_timeout', message: 'The request did not arrive in time and was refused. Please try again.' }
          : { error: 'bad_request', message: 'The request could not be parsed.' },
      );
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

function limitsOf(l: { max_failures: number; window: number; ban: number; max_ban: number }): RegulationLimits {
  return { maxFailures: l.max_failures, windowMs: l.window, banMs: l.ban, maxBanMs: l.max_ban };
}

export async function startGuard(loaded: LoadedConfig, options: StartOptions = {}): Promise<RunningGuard> {
  const { config } = loaded;
  // The logo is read and checked first: a bad brand setting stops the start before anything opens.
  const site = buildSite(config.product, loaded.file, {
    identifier: config.login.identifier,
    landing: config.login.landing,
    forgotPasswordUrl: config.login.forgot_password_url,
  });
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
  const { ephemeral: store, durable, riskHistory } = stores;
  // Security alerts consume the audit records; they are connected to the channels further down.
  const alerts = new AlertDispatcher({
    config: config.alerts,
    product: config.product.name,
    support: config.alerts.support ?? config.product.support,
    securityUrl: config.alerts.security_url ?? (config.public_url !== undefined ? new URL('/_guard/security', config.public_url).href : '/_guard/security'),
    clock,
    logger,
    onOutcome: (kind, outcome) => metrics.alert(kind, outcome),
    attackEveryMs: config.regulation.notify_every,
  });
  // ONE message to the owner per event: the alert when its kind is on, else the flows' email notice.
  const ownerMessages = ownerMessageRoute(config.alerts);
  const audit = buildAudit({
    extraSinks: [alerts.sink()],
    config,
    configFile: loaded.file,
    clock,
    logger,
    metrics,
    durable,
    ...(stores.redis ? { redis: stores.redis } : {}),
    ...(options.audit ? { query: options.audit } : {}),
  });
  if (options.watchPolicy !== false) {
    policy.watch((event) => {
      if (event.outcome === 'failure') {
        logger.error({ origin: event.origin, error: String(event.error) }, 'policy reload failed; keeping the previous policy');
        audit.record({
          event: 'policy_reload',
          outcome: 'failure',
          reason: String(event.error).slice(0, 500),
          details: { origin: String(event.origin), file: loaded.policyPath },
        });
        return;
      }
      const { diff } = event;
      const summary = { added: diff.added, removed: diff.removed, changed: diff.changed };
      for (const weakening of diff.weakened) logger.warn({ origin: event.origin, weakening }, `policy reload weakens protection: ${weakening}`);
      if (event.outcome === 'held') {
        logger.warn(
          { origin: event.origin, ...summary, weakened: diff.weakened },
          'policy change held: it weakens sensitive rules; the previous policy stays in force until SIGHUP confirms the change',
        );
      } else {
        logger.info({ origin: event.origin, ...summary, weakened: diff.weakened }, 'policy reloaded');
      }
      audit.record({
        event: 'policy_reload',
        outcome: event.outcome === 'held' ? 'failure' : 'success',
        ...(event.outcome === 'held' ? { reason: 'held: weakens sensitive rules; send SIGHUP to apply' } : {}),
        details: {
          origin: String(event.origin),
          file: loaded.policyPath,
          added: diff.added.join(',').slice(0, 500),
          removed: diff.removed.join(',').slice(0, 500),
          changed: diff.changed.join(',').slice(0, 500),
          weakened: diff.weakened.join('; ').slice(0, 1000),
        },
      });
    });
  }
  const sessions = new SessionService(store, keys, clock, random, {
    idleTimeoutMs: config.session.idle_timeout,
    absoluteLifetimeMs: config.session.absolute_lifetime,
    ...(stores.events ? { events: stores.events } : options.events ? { events: options.events } : {}),
    cacheStats: metrics.sessionCache,
  });
  const upstreamUrl = new URL(config.upstream.url);
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
  const factors = buildSecondFactor({
    config,
    configFile: loaded.file,
    store,
    durable,
    clock,
    random,
    logger,
    audit,
    accountSeen: async (account) => (await riskHistory.recentLogins(account, 1)).length > 0,
    ownerMessages,
    // Attack notices go to the address the directory holds, never to a username.
    addressOf: async (user) => {
      const contact = await contacts.of(user, { upstreamCookies: {} });
      return contact.ok ? contact.email : null;
    },
  });
  alerts.connect({
    store,
    durable,
    accountSeen: async (user) => (await riskHistory.recentLogins(user, 1)).length > 0 || (await durable.getEnrollment(user)) !== null,
    contacts,
    email: factors.channels.email,
    sms: config.channels.sms !== undefined ? factors.channels.sms : null,
  });
  const throttle = config.regulation.throttle;
  const regulation = new Regulation(
    store,
    { account: limitsOf(config.regulation.account), address: limitsOf(config.regulation.address) },
    '',
    audit,
    {
      throttle: { after: throttle.after, windowMs: throttle.window, delayMs: throttle.delay, maxDelayMs: throttle.max_delay },
      onAttack: (account) => factors.notifier.notify(account, 'password'),
    },
  );
  if (isKeyCheckPort(durable)) {
    try {
      const outcome = await verifyEncryptionKeys(durable, factors.encryptionKeys, factors.box, {
        clock,
        source: `factors.encryption_keys (${secretSource(config.factors.encryption_keys, loaded.file)})`,
      });
      if (outcome.added.length > 0) logger.info({ keyIds: outcome.added }, 'encryption keys: key-check records written');
      if (outcome.retired.length > 0) logger.info({ keyIds: outcome.retired }, 'encryption keys: the store knows key ids no longer configured (retired)');
    } catch (error) {
      await Promise.allSettled([factors.close(), audit.close(), contacts.close()]);
      await stores.close();
      policy.close();
      throw error;
    }
  }
  const risk = new RiskService({ config: config.risk, history: riskHistory, store, clock, random, logger, audit, deviceKeys: factors.deviceKeys });
  // "Remember this browser" (issue 17): device-bound, rotating records in the durable store.
  const remembered = new RememberedBrowsers({
    store: stores.rememberedBrowsers,
    config: config.factors.remember_browser,
    clock,
    random,
    audit,
    logger,
    keys: factors.deviceKeys,
    currentFactors: async (user) => factorState(await durable.getEnrollment(user)),
    policy: () => policy.current,
  });
  const generations = new AccountGenerations(store, random);
  // Passkeys (WebAuthn) beside the enrollments: README "Passkeys".
  const passkeys = config.webauthn.enabled ? new PasskeyCeremonies({ store: stores.passkeys, ephemeral: store, clock, random, audit, logger }) : undefined;
  const webauthn = webauthnSettings(config);
  const login = new LoginFlow({
    passkeys,
    regulation,
    account,
    sessions,
    durable,
    factor: factors.factor,
    risk,
    store,
    generations,
    clock,
    random,
    logger,
    audit,
    minResponseMs: config.login.min_response_time,
    elapsed: () => performance.now(),
    pendingMs: config.factors.pending_login,
    identity,
    contacts,
    remembered,
  });
  const settings = new TwoFactorSettings({
    // The enrollment before a turn-off is handed to the alerts (its SMS phone is still the owner's).
    durable: watchDurable(durable, alerts),
    store,
    generations,
    sessions,
    factor: factors.factor,
    account,
    regulation,
    box: factors.box,
    email: factors.channels.email,
    clock,
    random,
    logger,
    audit,
    methods: config.factors.methods,
    issuer: config.factors.issuer,
    product: config.product.name,
    support: config.product.support,
    reauthWindowMs: config.factors.reauth_window,
    smsCountryAllowed: factors.smsCountryAllowed,
    contacts,
    ownerMessages,
    remembered,
    onDisabled: async (user, context) => {
      await passkeys?.removeAll(user, context, '2fa_disabled');
    },
    // require_2fa (required-two-factor.ts): bound late, the gate needs guardHttp made below.
    factorRequired: (session, requestId) => requireTwoFactor.isRequired(session, requestId),
    onEnabled: (user, now) => requireTwoFactor.enabled(user, now),
  });
  const passkeySettings = passkeys
    ? new PasskeySettings({
        passkeys,
        remembered,
        settings,
        durable,
        store,
        generations,
        sessions,
        factor: factors.factor,
        clock,
        logger,
        audit,
        notify: async (actor, event) => {
          const contact = await contacts.of(actor.session.user, { upstreamCookies: actor.session.upstreamCookies, requestId: actor.requestId });
          if (!contact.ok || !contact.email) return;
          if (ownerMessages(event) === 'alert') return;
          const message = notificationMessage({ event, time: new Date(clock.now()), product: config.product.name, support: config.product.support });
          await factors.channels.email
            .send({ kind: 'email', to: contact.email, subject: message.subject, text: message.text, html: message.html, purpose: 'notification' })
            .catch((error: unknown) => logger.error({ err: error, user: actor.session.user, event }, 'security notification could not be sent'));
        },
      })
    : undefined;
  const activeSessions = new ActiveSessions({ sessions, account, audit, logger, networks: new NetworkLabels(config.session.networks) });
  const guardHttp = createGuardHttp({
    keys,
    random,
    logger,
    options: {
      ...(config.public_url !== undefined ? { publicOrigin: new URL(config.public_url).origin } : {}),
      sameSite: config.session.same_site,
    },
  });
  const rememberedRoutes = createRememberedBrowserRoutes({ remembered, http: guardHttp, logger });
  // Bound once the passkey pages exist (they need the sign-in helpers of `auth`).
  let passkeyPages: PasskeyPageHooks | undefined;
  const requireTwoFactor = createRequiredTwoFactor({
    policy: () => policy.current,
    grace: stores.grace,
    durable,
    store,
    clock,
    logger,
    audit,
    http: guardHttp,
    landing: config.login.landing,
    rolesOf: async (session, requestId) => {
      // A policy reloaded with a role filter the directory cannot serve covers everyone (fail closed).
      const problem = requireTwoFactorRoleProblem(policy.current, contacts);
      if (problem !== null) logger.error({ event: 'require_2fa_roles_unavailable' }, problem);
      return contacts.rolesOf(session.user, { upstreamCookies: session.upstreamCookies, requestId });
    },
  });
  const auth = createAuth({
    passkeyForm: (ctx, pending) => passkeyPages?.loginForm(ctx, pending) ?? Promise.resolve(null),
    sessions,
    login,
    account,
    contacts,
    http: guardHttp,
    logger,
    audit,
    clock,
    options: {
      ...(config.public_url !== undefined ? { publicOrigin: new URL(config.public_url).origin } : {}),
      landing: config.login.landing,
      upstreamCookies: account.sessionCookieNames,
      loginFields: config.login.upstream.fields,
      accept: config.login.accept,
      pendingMs: config.factors.pending_login,
    },
    ...(remembered.enabled
      ? {
          rememberMaxAge: remembered.maxAgeSeconds,
          rememberDays: remembered.days,
          // The policy's remember_browser, read at each page (a reload applies from the next sign-in).
          rememberDaysFor: (returnTo: string, hostname: string) => {
            const allowance = remembered.allowance(returnTo, hostname);
            return allowance.allowed ? allowance.days : null;
          },
        }
      : {}),
  });

  const upstream = new Upstream({
    url: upstreamUrl,
    connectTimeoutMs: config.upstream.connect_timeout,
    responseTimeoutMs: config.upstream.response_timeout,
    maxSockets: config.upstream.max_sockets,
    // The request id header too: the sidecar writes its own, and a client's `X_Request_Id` would
    // otherwise arrive beside it and read as the same header to PHP/CGI.
    // Authorization too unless the deployment opts in (headers.forward_authorization): an app that
    // takes Basic credentials would otherwise sign in a client the sidecar never saw.
    stripped: compileHeaderFilter([
      ...BUILTIN_STRIPPED_HEADERS,
      ...config.headers.strip,
      config.headers.request_id,
      ...(config.headers.forward_authorization ? [] : ['authorization']),
    ]),
    ownCookie: isOwnCookie,
    upstreamSessionCookie: cookieNameMatcher(account.sessionCookieNames),
    requestIdHeader: config.headers.request_id,
    framing: config.headers.framing,
    sendTimeoutMs: config.limits.send_timeout,
    onSendStall: (req, requestId) => {
      metrics.clientLimit('send_timeout');
      logger.warn({ requestId, client: req.socket.remoteAddress, limit: 'send_timeout' }, 'client limit reached: the client stopped reading its response');
    },
  });
  const trustedProxies = trustedProxyList(config.trusted_proxies);
  const clientLimits = new ClientLimits(
    {
      bodyTimeoutMs: config.limits.body_timeout,
      bodyMinRate: config.limits.body_min_rate,
      connectionsPerAddress: config.limits.connections_per_address,
    },
    trustedProxies,
    config.trusted_proxies.length > 0,
  );
  const admission = new UpstreamAdmission({
    maxSockets: config.upstream.max_sockets,
    anonymousShare: config.upstream.anonymous_share,
    queueTimeoutMs: config.upstream.queue_timeout,
    perAddress: config.limits.upstream_requests_per_address,
  });

  const stepUpFlow = new StepUpFlow({ store, generations, sessions, durable, factor: factors.factor, clock, logger, audit, nudgeSnoozeMs: config.factors.nudge_snooze, contacts, passkeys });
  const stepUp = createStepUp({
    flow: stepUpFlow,
    passkeyForm: (ctx, actor, record) => passkeyPages?.stepUpForm(ctx, actor, record) ?? Promise.resolve(null),
    risk,
    http: guardHttp,
    clock,
    logger,
    ...(config.public_url !== undefined ? { publicOrigin: new URL(config.public_url).origin } : {}),
    landing: config.login.landing,
  });

  passkeyPages = passkeySettings
    ? createPasskeyPages({ settings: passkeySettings, login, stepUp: stepUpFlow, durable, http: guardHttp, signIn: auth.signIn, webauthn, landing: config.login.landing })
    : undefined;

  // Loaded only when configured: without an endpoint the OpenTelemetry SDK never enters memory.
  const tracingConfig = config.tracing;
  const tracing =
    tracingConfig.otlp_endpoint === undefined
      ? undefined
      : await startTracing(
          {
            endpoint: tracingConfig.otlp_endpoint,
            serviceName: tracingConfig.service_name,
            sampleRatio: tracingConfig.sample_ratio,
            headers: Object.fromEntries(
              Object.entries(tracingConfig.headers).map(([name, value]) => [name, typeof value === 'string' ? value : resolveSecret(value, loaded.file, options.env)]),
            ),
            recordPath: tracingConfig.record_path,
            timeoutMs: tracingConfig.timeout,
            upstreamUrl,
          },
          logger,
        );

  const sessionRoutes = createSessionRoutes({ sessions: activeSessions, http: guardHttp });
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
    identity: auth.identity,
    intercept: auth.intercept,
    sensitive: stepUp.gate,
    requireTwoFactor,
    site,
    settleAudit: () => audit.settle(),
    ...(tracing ? { tracing } : {}),
    routes: [
      ...stepUp.routes,
      ...requireTwoFactor.routes,
      ...auth.routes,
      ...createTwoFactorApi({ settings, http: guardHttp }),
      ...sessionRoutes,
      ...createSecurityPages({ settings, http: guardHttp, activeSessions: sessionRoutes.section, rememberedSection: rememberedRoutes.section }),
      ...rememberedRoutes.routes,
      ...(passkeyPages?.routes ?? []),
      ...(passkeySettings
        ? createPasskeyApi({ settings: passkeySettings, login, stepUp: stepUpFlow, durable, http: guardHttp, signIn: auth.signIn, webauthn })
        : []),
      ...createChangeMethodRoutes({ settings, http: guardHttp }),
      createLanguageRoute(guardHttp),
      ...(config.forward_auth.enabled
        ? createForwardAuthRoutes({
            policy: () => policy.current,
            identity: auth.identity,
            sensitive: stepUp.gate,
            requireTwoFactor,
            trusted: trustedProxyList(config.forward_auth.trusted),
            userHeader: config.forward_auth.user_header,
            upstreamCookieHeader: config.forward_auth.upstream_cookie_header,
            logger,
          })
        : []),
    ],
  });

  // Bodies stream, so there is no whole-request deadline (requestTimeout would cut a legitimate
  // 1 GiB upload): ClientLimits judges bodies by their pace instead. headersTimeout bounds the head
  // (and a connection that sends nothing); Node checks it every connectionsCheckingInterval, so
  // that interval is kept well below it. The socket timeout is only the last backstop.
  const { limits } = config;
  const server = http.createServer(
    {
      headersTimeout: limits.headers_timeout,
      requestTimeout: 0,
      connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(limits.headers_timeout / 4))),
      keepAliveTimeout: 5_000,
      insecureHTTPParser: false,
      requireHostHeader: true,
    },
    guard.handleRequest,
  );
  server.timeout = Math.max(120_000, limits.send_timeout, limits.body_timeout, config.upstream.response_timeout) + 1_000;
  server.on('connection', (socket: Socket) => clientLimits.accept(socket));
  server.on('upgrade', guard.handleUpgrade);
  server.on('clientError', onClientError(logger, metrics));

  const adminOperations = new AdminOperations({
    // The destination before support changes it is handed to the alerts: the old one is told.
    durable: watchDurable(durable, alerts),
    riskHistory,
    passkeys: stores.passkeys,
    audit,
    live: { sessions, regulation, factor: factors.factor, accounts: generations, activeSessions },
    email: factors.channels.email,
    smsCountryAllowed: factors.smsCountryAllowed,
    clock,
    logger,
    product: config.product.name,
    support: config.product.support,
    identity,
    contacts,
    remembered,
    ownerMessages,
  });

  let draining = false;
  const ready = async (): Promise<{ ready: boolean; reason?: string }> => {
    if (draining) return { ready: false, reason: 'shutting down' };
    try {
      await Promise.all([store.ping(), durable.ping()]);
    } catch (error) {
      logger.error({ err: error }, 'readiness: a store cannot answer');
      return { ready: false, reason: 'a store cannot answer' };
    }
    return { ready: true };
  };
  // Prometheus sees what the load balancer sees (the "store down" alert reads spg_ready).
  metrics.setReadiness(ready);
  const adminServer = http.createServer(
    createAdminApp({
      api: { tokens: adminTokens, operations: adminOperations, logger },
      ready,
      metrics: options.metricsOutput ?? (() => metrics.render()),
      settleAudit: () => audit.settle(),
    }).callback(),
  );

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
