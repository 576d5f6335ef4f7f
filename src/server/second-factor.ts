import { dirname, resolve } from 'node:path';
import type { AuditRecorder } from '../audit/audit.ts';
import { ChannelError, type Channel } from '../channels/channel.ts';
import { channelFromConfig } from '../channels/index.ts';
import { OutboxChannel } from '../channels/outbox.ts';
import { phoneCountryAllowed } from '../channels/phone.ts';
import { ConfigError, resolveSecret, secretSource } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { isKeyCheckPort, verifyEncryptionKeys } from '../factors/key-check.ts';
import { OneTimeCodes } from '../factors/one-time-codes.ts';
import { parseEncryptionKeys, SecretBox, SecretBoxError, type EncryptionKeys } from '../factors/secret-box.ts';
import { SendBudget } from '../factors/send-budget.ts';
import { FactorRegistry } from '../factors/registry.ts';
import { RecoveryCodes } from '../factors/recovery/factor.ts';
import { TotpFactor } from '../factors/totp/factor.ts';
import { SmsFactor } from '../factors/sms/factor.ts';
import { EmailFactor } from '../factors/email/factor.ts';
import type { OwnerMessageRoute } from '../alerts/owner-message.ts';
import { AttackNotifier } from '../flows/attack-notice.ts';
import { Regulation } from '../flows/regulation.ts';
import { deriveKey, SecondFactor } from '../flows/second-factor.ts';
import type { Logger } from '../observability/logger.ts';
import type { DurableStore } from '../store/durable.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import type { Clock } from '../core/clock.ts';
import type { Random } from '../core/random.ts';

/**
 * Composition of the second factors from the config: keys, channels, code issuing, budgets and
 * failure regulation. Kept apart from start.ts so the composition root reads as a list of parts.
 */
/** Stands in for channels.sms when it is not configured; refuses rather than pretending to send. */
const noSmsChannel: Channel = {
  name: 'none',
  send: () => Promise.reject(new ChannelError('Text messages are not configured here. Use another method, or contact support.', false)),
  close: () => Promise.resolve(),
};

export function buildSecondFactor(input: {
  config: Config;
  configFile: string;
  store: EphemeralStore;
  durable: DurableStore;
  clock: Clock;
  random: Random;
  logger: Logger;
  audit: AuditRecorder;
  /** Where the outbox prints its console line (default stdout; the admin CLI keeps stdout for its output). */
  outboxConsole?: (line: string) => void;
  /** Whether an account exists beyond its enrollment (e.g. a verified sign-in in the risk history), for attack notices. */
  accountSeen?: (account: string) => Promise<boolean>;
  /** The account's email address for attack notices (the directory); default: the account when it is one. */
  addressOf?: (account: string) => Promise<string | null>;
  /** Whether attacks are told by the `lockout` alert instead of the attack notice (absent: the notice). */
  ownerMessages?: OwnerMessageRoute;
}) {
  const { config, configFile, store, durable, clock, random, logger, audit } = input;
  const factors = config.factors;
  let keysText: string;
  let box: SecretBox;
  let encryptionKeys: EncryptionKeys;
  let rawKeys: ReadonlyMap<string, Buffer>;
  try {
    keysText = resolveSecret(factors.encryption_keys, configFile);
    const keys = parseEncryptionKeys(keysText);
    encryptionKeys = keys;
    box = new SecretBox(keys, random);
    rawKeys = keys.keys;
  } catch (error) {
    if (error instanceof SecretBoxError) throw new ConfigError([`factors.encryption_keys (${secretSource(factors.encryption_keys, configFile)}): ${error.message}`]);
    throw error;
  }
  // Code and recovery-code hashes use keys derived from the encryption keys, never the keys themselves.
  const hashKeys = new Map([...rawKeys].map(([id, key]) => [id, deriveKey(key, 'recovery-code-hash')]));
  const newestId = [...rawKeys.keys()].sort((a, b) => Number(b) - Number(a))[0] as string;
  const codes = new OneTimeCodes(store, clock, random, deriveKey(rawKeys.get(newestId) as Buffer, 'one-time-code-hash'), {
    lifetimeMs: factors.code_lifetime,
    maxAttempts: factors.code_attempts,
    resendCooldownMs: factors.resend_cooldown,
    digits: 6,
  });
  const budget = new SendBudget(store, {
    perAccount: { max: factors.send_budget.per_account.max, windowMs: factors.send_budget.per_account.window },
    perDestination: { max: factors.send_budget.per_destination.max, windowMs: factors.send_budget.per_destination.window },
    perAddress: { max: factors.send_budget.per_address.max, windowMs: factors.send_budget.per_address.window },
    global: { max: factors.send_budget.global.max, windowMs: factors.send_budget.global.window },
  });
  const failureLimits = {
    maxFailures: factors.failures.max_failures,
    windowMs: factors.failures.window,
    banMs: factors.failures.ban,
    maxBanMs: factors.failures.max_ban,
  };
  const outboxFile = resolve(dirname(configFile), config.channels.outbox_file);
  let outbox: OutboxChannel | undefined;
  const channelFor = (spec: Config['channels']['email']): Channel => {
    if (spec.kind === 'outbox') {
      // The outbox prints codes by design (development and the demo), so it writes to the terminal,
      // never into the structured logs that production ships elsewhere (THREATS T15).
      if (!outbox) logger.warn({ file: outboxFile }, 'outbox channel: codes go to a file and the terminal; use smtp/twilio/webhook in production');
      outbox ??= new OutboxChannel(outboxFile, { clock, console: input.outboxConsole ?? ((line) => process.stdout.write(`${line}\n`)) });
      return outbox;
    }
    return channelFromConfig(resolveChannelSecrets(spec, configFile), { clock, random });
  };
  // Without an SMS channel (allowed when sms is not a method) nothing is ever sent by SMS: every
  // number is "not allowed", so identity verification and step-up never offer it.
  const smsChannel = config.channels.sms;
  const channels = { email: channelFor(config.channels.email), sms: smsChannel ? channelFor(smsChannel) : noSmsChannel };
  // The owner hears about attacks on their account through the same email channel (THREATS T21).
  const accountSeen = input.accountSeen;
  const notifier = new AttackNotifier({
    store,
    email: channels.email,
    clock,
    logger,
    audit,
    product: config.product.name,
    support: config.product.support,
    everyMs: config.regulation.notify_every,
    accountKnown: async (account) => (await durable.getEnrollment(account)) !== null || (accountSeen ? await accountSeen(account) : false),
    ...(input.addressOf ? { addressOf: input.addressOf } : {}),
    ...(input.ownerMessages ? { ownerMessages: input.ownerMessages } : {}),
  });
  // Per account and place the cap is the configured one; per address it is higher, as many accounts may share one.
  const failures = new Regulation(
    store,
    { account: failureLimits, address: { ...failureLimits, maxFailures: failureLimits.maxFailures * 5 } },
    'factor:',
    audit,
    { onAttack: (account) => notifier.notify(account, 'code') },
  );
  const allowList = factors.sms_countries ?? null;
  const smsCountryAllowed = (e164: string): boolean => smsChannel !== undefined && phoneCountryAllowed(e164, allowList);
  // The built-in methods; config `factors.methods` decides which of them enabling offers.
  const registry = new FactorRegistry(new RecoveryCodes({ durable, clock, random, logger, hashKeys }), [
    new TotpFactor({ box, clock, random, durable, issuer: factors.issuer }),
    new SmsFactor({ channel: channels.sms, codes, countryAllowed: smsCountryAllowed }),
    new EmailFactor({ channel: channels.email, codes }),
  ]);
  const factor = new SecondFactor({
    durable,
    factors: registry,
    codes,
    budget,
    failures,
    clock,
    logger,
    audit,
    product: config.product.name,
    codeLifetimeMs: factors.code_lifetime,
    store,
    lockoutAfter: factors.failures.lockout_after,
    onAttack: (account) => notifier.notify(account, 'code'),
  });
  // Device cookies are signed with keys derived from the same material, newest first (all verify).
  const deviceKeys = [...rawKeys]
    .sort(([a], [b]) => Number(b) - Number(a))
    .map(([, key]) => deriveKey(key, 'device-id'));
  return {
    factor,
    registry,
    box,
    encryptionKeys,
    deviceKeys,
    channels,
    notifier,
    smsCountryAllowed,
    close: async (): Promise<void> => {
      await channels.email.close();
      if (channels.sms !== channels.email) await channels.sms.close();
    },
  };
}

function resolveChannelSecrets(spec: Exclude<Config['channels']['email'], { kind: 'outbox' }>, configFile: string) {
  switch (spec.kind) {
    case 'smtp':
      return {
        kind: 'smtp' as const,
        host: spec.host,
        port: spec.port,
        secure: spec.secure,
        starttls: spec.starttls,
        from: spec.from,
        timeoutMs: spec.timeout,
        ...(spec.user !== undefined ? { user: spec.user } : {}),
        ...(spec.password !== undefined ? { password: resolveSecret(spec.password, configFile) } : {}),
      };
    case 'twilio':
      return {
        kind: 'twilio' as const,
        accountSid: spec.account_sid,
        authToken: resolveSecret(spec.auth_token, configFile),
        baseUrl: spec.base_url,
        timeoutMs: spec.timeout,
        ...(spec.from !== undefined ? { from: spec.from } : {}),
        ...(spec.messaging_service_sid !== undefined ? { messagingServiceSid: spec.messaging_service_sid } : {}),
      };
    case 'webhook':
      return {
        kind: 'webhook' as const,
        url: spec.url,
        headers: spec.headers,
        timeoutMs: spec.timeout,
        ...(spec.secret !== undefined ? { secret: resolveSecret(spec.secret, configFile) } : {}),
      };
  }
}

/**
 * The configured encryption keys checked against the store's key-check records before serving: a
 * wrong key stops the start instead of failing every sign-in later.
 */
export async function checkEncryptionKeys(
  durable: DurableStore,
  factors: Pick<ReturnType<typeof buildSecondFactor>, 'encryptionKeys' | 'box'>,
  input: { clock: Clock; logger: Logger; source: string },
): Promise<void> {
  if (!isKeyCheckPort(durable)) return;
  const outcome = await verifyEncryptionKeys(durable, factors.encryptionKeys, factors.box, { clock: input.clock, source: input.source });
  if (outcome.added.length > 0) input.logger.info({ keyIds: outcome.added }, 'encryption keys: key-check records written');
  if (outcome.retired.length > 0) input.logger.info({ keyIds: outcome.retired }, 'encryption keys: the store knows key ids no longer configured (retired)');
}
