import type { AlertDispatcher } from '../alerts/dispatcher.ts';
import { watchDurable } from '../alerts/watch.ts';
import type { OwnerMessageRoute } from '../alerts/owner-message.ts';
import type { Audit } from '../audit/record.ts';
import { notificationMessage } from '../channels/templates.tsx';
import { loginFlowOptions, regulationOptions, settingsOptions } from './options.ts';
import type { Config } from '../config/schema.ts';
import { realSleep, type Clock } from '../core/clock.ts';
import type { Random } from '../core/random.ts';
import type { Contacts, identityRules } from '../directory/index.ts';
import { PasskeyCeremonies } from '../factors/passkey/ceremony.ts';
import { AccountGenerations, factorState } from '../flows/account-generation.ts';
import { ActiveSessions } from '../flows/active-sessions.ts';
import { LoginFlow } from '../flows/login.ts';
import { PasskeySettings } from '../flows/passkey-settings.ts';
import { Regulation } from '../flows/regulation.ts';
import { RememberedBrowsers } from '../flows/remember-browser.ts';
import { StepUpFlow } from '../flows/step-up.ts';
import { TwoFactorSettings } from '../flows/two-factor-settings.ts';
import type { UpstreamAccount } from '../flows/upstream-account.ts';
import type { Logger } from '../observability/logger.ts';
import { requireTwoFactorRoleProblem } from '../policy/require-two-factor.ts';
import type { PolicyHolder } from '../policy/watch.ts';
import { RiskService } from '../risk/service.ts';
import { NetworkLabels } from '../session/session-origin.ts';
import type { SessionService } from '../session/sessions.ts';
import { createRequiredTwoFactor } from '../http/two-factor-mandate.ts';
import { buildSecondFactor } from './second-factor.ts';
import type { Stores } from './stores.ts';

/** The factors and the flows (login, 2FA settings, step-up, passkeys, sessions) made from the parts start.ts opened. */

export interface FlowParts {
  readonly config: Config;
  readonly stores: Stores;
  readonly factors: ReturnType<typeof buildSecondFactor>;
  readonly regulation: Regulation;
  readonly account: UpstreamAccount;
  readonly sessions: SessionService;
  readonly contacts: Contacts;
  readonly identity: ReturnType<typeof identityRules>;
  readonly policy: PolicyHolder;
  readonly alerts: AlertDispatcher;
  readonly ownerMessages: OwnerMessageRoute;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly audit: Audit;
}

/** The second factors (keys, channels, codes, budgets) and failure regulation, connected to the alerts. */
export function buildFactors(input: {
  config: Config;
  configFile: string;
  stores: Stores;
  contacts: Contacts;
  alerts: AlertDispatcher;
  ownerMessages: OwnerMessageRoute;
  clock: Clock;
  random: Random;
  logger: Logger;
  audit: Audit;
}) {
  const { config, stores, contacts, alerts, ownerMessages, clock, random, logger, audit } = input;
  const { ephemeral: store, durable, riskHistory } = stores;
  const factors = buildSecondFactor({
    config,
    configFile: input.configFile,
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
  const { limits: regulationLimits, throttle } = regulationOptions(config);
  const regulation = new Regulation(store, regulationLimits, '', audit, { throttle, onAttack: (account) => factors.notifier.notify(account, 'password') });
  return { factors, regulation };
}

export function buildFlows(parts: FlowParts) {
  const { config, stores, factors, regulation, account, sessions, contacts, identity, policy, alerts, ownerMessages, clock, random, logger, audit } = parts;
  const { ephemeral: store, durable, riskHistory } = stores;
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
    sleep: realSleep,
    random,
    logger,
    audit,
    ...loginFlowOptions(config),
    elapsed: () => performance.now(),
    identity,
    contacts,
    remembered,
  });
  const requireTwoFactor = createRequiredTwoFactor({
    policy: () => policy.current,
    grace: stores.grace,
    durable,
    store,
    clock,
    logger,
    audit,
    rolesOf: async (session, requestId) => {
      // A policy reloaded with a role filter the directory cannot serve covers everyone (fail closed).
      const problem = requireTwoFactorRoleProblem(policy.current, contacts);
      if (problem !== null) logger.error({ event: 'require_2fa_roles_unavailable' }, problem);
      return contacts.rolesOf(session.user, { upstreamCookies: session.upstreamCookies, requestId });
    },
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
    email: factors.channels.email,
    clock,
    random,
    logger,
    audit,
    ...settingsOptions(config),
    smsCountryAllowed: factors.smsCountryAllowed,
    contacts,
    ownerMessages,
    remembered,
    onDisabled: async (user, context) => {
      await passkeys?.removeAll(user, context, '2fa_disabled');
    },
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
  const stepUp = new StepUpFlow({ store, generations, sessions, durable, factor: factors.factor, clock, logger, audit, nudgeSnoozeMs: config.factors.nudge_snooze, contacts, passkeys });
  return { risk, remembered, generations, passkeys, login, requireTwoFactor, settings, passkeySettings, activeSessions, stepUp };
}

export type Flows = ReturnType<typeof buildFlows>;
