import type { Config } from '../config/schema.ts';
import { withQuery, type FormFetchConfig } from '../config/login-schema.ts';
import type { FormFetch, UpstreamAccountConfig } from '../flows/upstream-account.ts';
import type { RegulationLimits } from '../flows/regulation.ts';
import type { Clock } from '../core/clock.ts';
import { resolveSecret } from '../config/load.ts';

/**
 * The parsed config mapped once into the typed options the components take: start.ts hands each
 * component its options from here and reads no config field itself. It sits with the composition
 * root, not in config/, because the option types belong to the components (flows, http) above config.
 */

/** The origin the sidecar is served under (config public_url); undefined: as each request arrived. */
export function publicOrigin(config: Config): string | undefined {
  return config.public_url !== undefined ? new URL(config.public_url).origin : undefined;
}

const limitsOf = (l: { max_failures: number; window: number; ban: number; max_ban: number }): RegulationLimits => ({
  maxFailures: l.max_failures,
  windowMs: l.window,
  banMs: l.ban,
  maxBanMs: l.max_ban,
});

/** Failure regulation (config regulation): per account and per address, and the account throttle. */
export function regulationOptions(config: Config) {
  const { throttle } = config.regulation;
  return {
    limits: { account: limitsOf(config.regulation.account), address: limitsOf(config.regulation.address) },
    throttle: { after: throttle.after, windowMs: throttle.window, delayMs: throttle.delay, maxDelayMs: throttle.max_delay },
  };
}

/** Sidecar sessions (config session). */
export function sessionOptions(config: Config) {
  return { idleTimeoutMs: config.session.idle_timeout, absoluteLifetimeMs: config.session.absolute_lifetime };
}

/** What every sidecar page and API handler needs from HTTP (src/http/guard-http.ts). */
export function guardHttpOptions(config: Config) {
  const origin = publicOrigin(config);
  return { ...(origin !== undefined ? { publicOrigin: origin } : {}), sameSite: config.session.same_site };
}

/** Sign-in over HTTP (src/http/sign-in.ts); the upstream's session cookie names come from the account. */
export function signInOptions(config: Config, upstreamCookies: readonly string[]) {
  const origin = publicOrigin(config);
  return {
    ...(origin !== undefined ? { publicOrigin: origin } : {}),
    landing: config.login.landing,
    upstreamCookies,
    loginFields: config.login.upstream.fields,
    accept: config.login.accept,
    pendingMs: config.factors.pending_login,
  };
}

/** The pages' brand words beside config product (src/pages/site.ts). */
export function siteOptions(config: Config) {
  return { identifier: config.login.identifier, landing: config.login.landing, forgotPasswordUrl: config.login.forgot_password_url };
}

/** The login flow's timing (src/flows/login.ts). */
export function loginFlowOptions(config: Config) {
  return { minResponseMs: config.login.min_response_time, pendingMs: config.factors.pending_login };
}

/** The forward-auth entry (src/entry/forward-auth.ts); undefined when config forward_auth is off. */
export function forwardAuthOptions(config: Config) {
  const fa = config.forward_auth;
  return fa.enabled ? { trusted: fa.trusted, userHeader: fa.user_header, upstreamCookieHeader: fa.upstream_cookie_header } : undefined;
}

/** The 2FA settings flows (src/flows/two-factor-settings.ts). */
export function settingsOptions(config: Config) {
  return {
    methods: config.factors.methods,
    product: config.product.name,
    support: config.product.support,
    reauthWindowMs: config.factors.reauth_window,
  };
}

/** Per-address connection cap and request-body pace (src/entry/client-limits.ts). */
export function clientLimitOptions(config: Config) {
  return {
    bodyTimeoutMs: config.limits.body_timeout,
    bodyMinRate: config.limits.body_min_rate,
    connectionsPerAddress: config.limits.connections_per_address,
  };
}

/** Who may hold an upstream socket (src/proxy/admission.ts). */
export function admissionOptions(config: Config) {
  return {
    maxSockets: config.upstream.max_sockets,
    anonymousShare: config.upstream.anonymous_share,
    queueTimeoutMs: config.upstream.queue_timeout,
    perAddress: config.limits.upstream_requests_per_address,
  };
}

/**
 * The listener's timeouts. Bodies stream, so there is no whole-request deadline (requestTimeout
 * would cut a legitimate 1 GiB upload): ClientLimits judges bodies by their pace instead.
 * headersTimeout bounds the head (and a connection that sends nothing); Node checks it every
 * connectionsCheckingInterval, so that interval is kept well below it. The socket timeout is only
 * the last backstop.
 */
export function listenerOptions(config: Config) {
  const { limits } = config;
  return {
    server: {
      headersTimeout: limits.headers_timeout,
      requestTimeout: 0,
      connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(limits.headers_timeout / 4))),
      keepAliveTimeout: 5_000,
      insecureHTTPParser: false,
      requireHostHeader: true,
    },
    socketTimeoutMs: Math.max(120_000, limits.send_timeout, limits.body_timeout, config.upstream.response_timeout) + 1_000,
  };
}

/** Security alerts (config alerts): what they say and where they point. */
export function alertOptions(config: Config) {
  return {
    config: config.alerts,
    product: config.product.name,
    support: config.alerts.support ?? config.product.support,
    securityUrl: config.alerts.security_url ?? (config.public_url !== undefined ? new URL('/_guard/security', config.public_url).href : '/_guard/security'),
    attackEveryMs: config.regulation.notify_every,
  };
}

/**
 * The upstream connection pool (config upstream, headers, limits). Stripped too: the request id
 * header (the sidecar writes its own, and a client's `X_Request_Id` would otherwise arrive beside it
 * and read as the same header to PHP/CGI), and Authorization unless the deployment opts in
 * (headers.forward_authorization): an app that takes Basic credentials would otherwise sign in a
 * client the sidecar never saw.
 */
export function upstreamOptions(config: Config) {
  return {
    url: new URL(config.upstream.url),
    connectTimeoutMs: config.upstream.connect_timeout,
    responseTimeoutMs: config.upstream.response_timeout,
    idleTimeoutMs: config.upstream.idle_timeout,
    maxSockets: config.upstream.max_sockets,
    strippedHeaders: [...config.headers.strip, config.headers.request_id, ...(config.headers.forward_authorization ? [] : ['authorization'])],
    requestIdHeader: config.headers.request_id,
    framing: config.headers.framing,
    sendTimeoutMs: config.limits.send_timeout,
  };
}

/** OpenTelemetry export (config tracing); undefined without an endpoint (the SDK is then never loaded). */
export function tracingOptions(config: Config, configFile: string, env?: Readonly<Record<string, string | undefined>>) {
  const tracing = config.tracing;
  if (tracing.otlp_endpoint === undefined) return undefined;
  return {
    endpoint: tracing.otlp_endpoint,
    serviceName: tracing.service_name,
    sampleRatio: tracing.sample_ratio,
    headers: Object.fromEntries(Object.entries(tracing.headers).map(([name, value]) => [name, typeof value === 'string' ? value : resolveSecret(value, configFile, env)])),
    recordPath: tracing.record_path,
    timeoutMs: tracing.timeout,
    upstreamUrl: new URL(config.upstream.url),
  };
}

/** The `login` config mapped once into what the upstream replay needs (serve and `login probe` alike). */

const formFetch = (form: FormFetchConfig | undefined): FormFetch | undefined =>
  form ? { fetch: form.fetch, page: form.page, selector: form.selector, hiddenFields: form.hidden_fields } : undefined;

/** The session cookies: `login.session_cookies`, else the success cookie(s). */
function sessionCookieNames(config: Config): string[] {
  return [...new Set(config.login.session_cookies ?? config.login.success.cookie)];
}

export function upstreamAccountConfig(config: Config, clock: Clock): UpstreamAccountConfig {
  const upstream = new URL(config.upstream.url);
  const publicUrl = config.public_url !== undefined ? new URL(config.public_url) : undefined;
  const { login } = config;
  return {
    upstream,
    defaultHost: publicUrl?.host ?? upstream.host,
    defaultProto: (publicUrl ?? upstream).protocol === 'https:' ? 'https' : 'http',
    login: {
      path: withQuery(login.upstream.path, login.upstream.query),
      encoding: login.upstream.encoding,
      fields: login.upstream.fields,
      form: formFetch(login.upstream.form),
      extraFields: login.upstream.extra_fields,
      extraHeaders: login.upstream.extra_headers,
      returnField: login.upstream.return_field !== undefined ? { name: login.upstream.return_field, value: login.landing } : undefined,
    },
    timeoutMs: login.upstream.timeout,
    success: {
      status: login.success.status,
      location: login.success.location !== undefined ? new RegExp(login.success.location) : undefined,
      cookies: login.success.cookie,
      body: login.success.body !== undefined ? new RegExp(login.success.body) : undefined,
    },
    failure: login.failure
      ? {
          status: login.failure.status,
          location: login.failure.location !== undefined ? new RegExp(login.failure.location) : undefined,
          body: login.failure.body !== undefined ? new RegExp(login.failure.body) : undefined,
        }
      : undefined,
    sessionCookies: sessionCookieNames(config),
    logout: login.logout
      ? { path: withQuery(login.logout.path, login.logout.query), method: login.logout.method, form: formFetch(login.logout.form), extraFields: login.logout.extra_fields, check: login.logout.check }
      : undefined,
    clock,
  };
}
