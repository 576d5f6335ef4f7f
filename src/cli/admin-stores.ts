import { RememberedBrowsers } from '../flows/remember-browser.ts';
import { Contacts, identityRules, NO_UPSTREAM_SESSION, openDirectory } from '../directory/index.ts';
import { AdminOperations } from '../admin/operations.ts';
import { type LiveState } from '../admin/model.ts';
import type { Audit } from '../audit/record.ts';
import { Metrics } from '../observability/metrics.ts';
import { buildAudit } from '../server/audit-trail.ts';
import { ConfigError, resolveSecret, secretSource, type LoadedConfig } from '../config/load.ts';
import { AccountGenerations, factorState } from '../flows/account-generation.ts';
import { isKeyCheckPort, verifyEncryptionKeys } from '../factors/key-check.ts';
import { Regulation } from '../flows/regulation.ts';
import { type Logger } from '../observability/logger.ts';
import { buildSecondFactor } from '../server/second-factor.ts';
import { systemClock } from '../core/clock.ts';
import { cryptoRandom } from '../core/random.ts';
import { openStores, type Stores } from '../server/stores.ts';
import { parseSessionKeys, SessionKeyError } from '../session/keys.ts';
import { SessionService } from '../session/sessions.ts';
import { MemoryStore } from '../store/memory.ts';

/* What `admin` opens: the configured stores, audit, factors and directory, as the running service does. */

interface Opened {
  readonly operations: AdminOperations;
  close(): Promise<void>;
}

export async function openOperations(loaded: LoadedConfig, logger: Logger, stderr: (line: string) => void): Promise<Opened> {
  const { config } = loaded;
  const clock = systemClock;
  const stores: Stores = await openStores(loaded, { clock, logger });
  let factors: ReturnType<typeof buildSecondFactor>;
  let audit: Audit;
  try {
    // The same audit trail as the service: the file of the config and the durable query store
    // (SQLite or Redis), so `admin audit` shows what the service recorded and vice versa.
    audit = buildAudit({ config, configFile: loaded.file, clock, random: cryptoRandom, logger, metrics: new Metrics(), durable: stores.durable, ...(stores.redis ? { redis: stores.redis } : {}) });
    factors = buildSecondFactor({ config, configFile: loaded.file, store: stores.ephemeral, durable: stores.durable, clock, random: cryptoRandom, logger, audit, outboxConsole: stderr });
    // The same key check as the service: support must not act on a store its keys cannot open.
    if (isKeyCheckPort(stores.durable)) {
      await verifyEncryptionKeys(stores.durable, factors.encryptionKeys, factors.box, {
        clock,
        source: `factors.encryption_keys (${secretSource(config.factors.encryption_keys, loaded.file)})`,
      });
    }
  } catch (error) {
    await stores.close();
    throw error;
  }
  // A fresh in-memory store is this process's own: the service's sessions and bans are elsewhere.
  const shared = !(stores.ephemeral instanceof MemoryStore);
  let live: LiveState | null = null;
  if (shared) {
    let keys;
    try {
      keys = parseSessionKeys(resolveSecret(config.session.keys, loaded.file));
    } catch (error) {
      if (error instanceof SessionKeyError) throw new ConfigError([error.message]);
      throw error;
    }
    const limits = (l: { max_failures: number; window: number; ban: number; max_ban: number }) => ({ maxFailures: l.max_failures, windowMs: l.window, banMs: l.ban, maxBanMs: l.max_ban });
    live = {
      // With the replicas' event channel, a revocation from here reaches their caches at once.
      sessions: new SessionService(stores.ephemeral, keys, clock, cryptoRandom, {
        idleTimeoutMs: config.session.idle_timeout,
        absoluteLifetimeMs: config.session.absolute_lifetime,
        ...(stores.events ? { events: stores.events } : {}),
      }),
      regulation: new Regulation(stores.ephemeral, { account: limits(config.regulation.account), address: limits(config.regulation.address) }, '', audit),
      factor: factors.factor,
      accounts: new AccountGenerations(stores.ephemeral, cryptoRandom),
    };
  }
  // Support has no upstream session: directories that read the app's pages answer "no session"
  // here, and a sql directory answers as for the service.
  let contacts: Contacts;
  try {
    contacts = new Contacts(openDirectory(config, loaded.file, NO_UPSTREAM_SESSION), identityRules(config), logger);
  } catch (error) {
    await factors.close();
    await audit.close();
    await stores.close();
    throw error;
  }
  const operations = new AdminOperations({
    durable: stores.durable,
    riskHistory: stores.riskHistory,
    passkeys: stores.passkeys,
    audit,
    live,
    liveUnavailable:
      'with the embedded store, sessions and lockouts live in the running service\'s memory. ' +
      'Use the admin API on the admin listener instead (POST /admin/users/<email>/sessions/revoke or /unlock, see README "Support: admin API and CLI"); ' +
      'restarting the service also ends every session and lockout',
    email: factors.channels.email,
    smsCountryAllowed: factors.smsCountryAllowed,
    clock,
    logger,
    product: config.product.name,
    support: config.product.support,
    identity: identityRules(config),
    contacts,
    remembered: new RememberedBrowsers({
      store: stores.rememberedBrowsers,
      config: config.factors.remember_browser,
      clock,
      random: cryptoRandom,
      audit,
      logger,
      keys: factors.deviceKeys,
      currentFactors: async (user) => factorState(await stores.durable.getEnrollment(user)),
    }),
  });
  return {
    operations,
    close: async () => {
      await contacts.close();
      await factors.close();
      await audit.close();
      await stores.close();
    },
  };
}
