import type { AuditRecorder } from '../audit/audit.ts';
import { forwardAuthOptions, guardHttpOptions, publicOrigin, signInOptions } from './options.ts';
import { trustedProxyList, type Config } from '../config/schema.ts';
import { createForwardAuthRoutes } from '../entry/forward-auth.ts';
import type { PolicyHolder } from '../policy/watch.ts';
import type { Clock } from '../core/clock.ts';
import type { Random } from '../core/random.ts';
import type { Contacts } from '../directory/index.ts';
import { webauthnSettings } from '../factors/passkey/ceremony.ts';
import type { UpstreamAccount } from '../flows/upstream-account.ts';
import { createIdentityResolver } from '../http/identity.ts';
import { createIntercept } from '../http/intercept.ts';
import type { PasskeyDeps } from '../http/passkey-api.ts';
import { loginPasskeyForm, stepUpPasskeyForm } from '../http/passkey-pages.ts';
import { rememberedBrowsersSection } from '../http/remembered-browsers.ts';
import { sidecarRoutes, type RouteDeps } from '../http/routes.ts';
import { activeSessionsSection } from '../http/sessions.ts';
import { signInFrom } from '../http/sign-in.ts';
import { createStepUpGate } from '../http/step-up-gate.ts';
import type { Logger } from '../observability/logger.ts';
import type { Site } from '../pages/site.ts';
import type { SessionKeys } from '../session/keys.ts';
import type { SessionService } from '../session/sessions.ts';
import type { DurableStore } from '../store/durable.ts';
import type { Flows } from './flows.ts';
import { createGuardHttp } from '../http/guard-http.ts';

/**
 * The sidecar's HTTP side put together: the identity and the gates the enforcement point consults,
 * the upstream login/logout takeover, and the routes: the table (src/http/routes.ts) and the
 * forward-auth entry.
 */

export interface SidecarHttpParts {
  readonly config: Config;
  readonly site: Site;
  readonly keys: SessionKeys;
  readonly flows: Flows;
  readonly policy: PolicyHolder;
  readonly sessions: SessionService;
  readonly account: UpstreamAccount;
  readonly contacts: Contacts;
  readonly durable: DurableStore;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly audit: AuditRecorder;
}

export function buildSidecarHttp(parts: SidecarHttpParts) {
  const { config, flows, clock, logger, audit } = parts;
  const landing = config.login.landing;
  const http = createGuardHttp({ keys: parts.keys, random: parts.random, logger, options: guardHttpOptions(config) });
  const { remembered } = flows;
  const webauthn = webauthnSettings(config);
  // Bound once the sign-in exists: the passkey forms finish a sign-in as the code does.
  let passkeys: PasskeyDeps | undefined;
  const signIn = signInFrom({
    passkeyForm: (ctx, pending) => (passkeys ? loginPasskeyForm(passkeys, ctx, pending) : Promise.resolve(null)),
    sessions: parts.sessions,
    login: flows.login,
    account: parts.account,
    contacts: parts.contacts,
    http,
    logger,
    audit,
    clock,
    options: signInOptions(config, parts.account.sessionCookieNames),
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
  passkeys = flows.passkeySettings
    ? { settings: flows.passkeySettings, login: flows.login, stepUp: flows.stepUp, durable: parts.durable, http, signIn, webauthn, landing }
    : undefined;
  const identity = createIdentityResolver(signIn);
  const sessions = { sessions: flows.activeSessions, http };
  const rememberedRoutes = { remembered, http, logger };
  const routeDeps: RouteDeps = {
    site: parts.site,
    http,
    signIn,
    settings: flows.settings,
    security: {
      settings: flows.settings,
      http,
      activeSessions: (ctx, session) => activeSessionsSection(sessions, ctx, session),
      rememberedSection: (ctx, session) => rememberedBrowsersSection(rememberedRoutes, ctx, session),
    },
    stepUp: {
      flow: flows.stepUp,
      http,
      landing,
      passkeyForm: (ctx, actor, record) => (passkeys ? stepUpPasskeyForm(passkeys, ctx, actor, record) : Promise.resolve(null)),
    },
    sessions,
    remembered: rememberedRoutes,
    required: { mandate: flows.requireTwoFactor, http, landing },
    passkeys,
  };
  const sensitive = createStepUpGate({ flow: flows.stepUp, risk: flows.risk, clock, logger, publicOrigin: publicOrigin(config) });
  const { policy } = parts;
  // The forward-auth entry (nginx, Traefik, Envoy) decides with the same identity and gates.
  const forwardAuth = forwardAuthOptions(config);
  const entries = forwardAuth
    ? createForwardAuthRoutes({
        policy: () => policy.current,
        identity,
        sensitive,
        requireTwoFactor: flows.requireTwoFactor,
        trusted: trustedProxyList(forwardAuth.trusted),
        userHeader: forwardAuth.userHeader,
        upstreamCookieHeader: forwardAuth.upstreamCookieHeader,
        logger,
      })
    : [];
  return { identity, intercept: createIntercept(signIn, identity), sensitive, routes: sidecarRoutes(routeDeps, entries) };
}
