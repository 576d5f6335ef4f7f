import { userInfo } from 'node:os';
import { RememberedBrowsers } from '../flows/remember-browser.ts';
import { parseArgs } from 'node:util';
import { Contacts, identityRules, NO_UPSTREAM_SESSION, openDirectory } from '../directory/index.ts';
import { AdminOperations } from '../admin/operations.ts';
import { AdminError, parseAccount, type ActionResult, type LiveState, type UserStatus } from '../admin/model.ts';
import type { AuditEvent } from '../audit/audit.ts';
import type { Audit } from '../audit/record.ts';
import { Metrics } from '../observability/metrics.ts';
import { buildAudit } from '../server/audit-wiring.ts';
import { loadConfig, ConfigError, resolveSecret, secretSource, type LoadedConfig } from '../config/load.ts';
import { AccountGenerations, factorState } from '../flows/account-generation.ts';
import { isKeyCheckPort, verifyEncryptionKeys } from '../factors/key-check.ts';
import { Regulation } from '../flows/regulation.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { buildSecondFactor } from '../server/second-factor-wiring.ts';
import { systemClock } from '../core/clock.ts';
import { cryptoRandom } from '../core/random.ts';
import { openStores, type Stores } from '../server/stores.ts';
import { parseSessionKeys, SessionKeyError } from '../session/keys.ts';
import { SessionService } from '../session/sessions.ts';
import { MemoryStore } from '../store/memory.ts';
import { configPathFrom, UsageError } from './policy.ts';

/**
 * `smartpush-guard admin …`: the support operations of the admin API, run directly on the stores
 * (break-glass, when the service is down or unreachable). The same AdminOperations as the API, so
 * the same checks, refusals, notifications and audit records; the actor is `cli:<os user>`.
 *
 * With the embedded store, sessions and lockouts live in the running service's memory: the CLI
 * cannot reach them and says so (exit 1) rather than pretending.
 */

export const ADMIN_USAGE = `  admin status ACCOUNT             an account's 2FA state (method, destination, lockouts)
  admin reset-2fa ACCOUNT --reason R
                                   turn 2FA off after a lost device (the user is notified)
  admin set-destination ACCOUNT --destination PHONE|ADDRESS --reason R
                                   change where SMS or email codes go
  admin revoke-sessions ACCOUNT --reason R
                                   end every session (needs a shared store: Redis)
  admin unlock ACCOUNT --reason R  lift lockouts and bans (needs a shared store: Redis)
  admin forget-browsers ACCOUNT --reason R [--id ID]
                                   drop the account's remembered browsers (one with --id)
  admin audit ACCOUNT [--limit N]  the account's audit events
    (admin: [--config FILE] [--json]; exit 0 done, 1 refused or failed, 2 bad usage;
     ACCOUNT: the email, or the username with login.identifier: username)
`;

const COMMANDS = ['status', 'reset-2fa', 'set-destination', 'revoke-sessions', 'unlock', 'forget-browsers', 'audit'] as const;
type Command = (typeof COMMANDS)[number];

/** The OS account running the CLI, for the audit actor. */
function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    // Containers often run a uid without a passwd entry.
    return process.env['USER'] ?? `uid-${process.getuid?.() ?? 'unknown'}`;
  }
}

interface Opened {
  readonly operations: AdminOperations;
  close(): Promise<void>;
}

async function openOperations(loaded: LoadedConfig, logger: Logger, stderr: (line: string) => void): Promise<Opened> {
  const { config } = loaded;
  const clock = systemClock;
  const stores: Stores = await openStores(loaded, { clock, logger });
  let factors: ReturnType<typeof buildSecondFactor>;
  let audit: Audit;
  try {
    // The same audit trail as the service: the file of the config and the durable query store
    // (SQLite or Redis), so `admin audit` shows what the service recorded and vice versa.
    audit = buildAudit({ config, configFile: loaded.file, clock, logger, metrics: new Metrics(), durable: stores.durable, ...(stores.redis ? { redis: stores.redis } : {}) });
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

function describeStatus(s: UserStatus, live: boolean): string {
  const lines = [s.user, `  known by        ${s.known_by.join(', ')}`];
  const tf = s.two_factor;
  if (tf.enabled) {
    const where = tf.method === 'totp' ? 'authenticator app (TOTP)' : `${tf.method} to ${tf.destination} (${tf.destination_masked})`;
    lines.push(`  2FA             on: ${where}`, `  enabled         ${tf.created_at} (last change ${tf.updated_at})`, `  recovery codes  ${tf.recovery_codes_left} left`);
  } else {
    lines.push('  2FA             off');
  }
  if (s.lockout) {
    const f = s.lockout.second_factor;
    const l = s.lockout.login;
    lines.push(
      `  2FA lockout     ${f.locked ? `LOCKED after ${f.consecutive_failures} wrong codes` : `${f.consecutive_failures} consecutive wrong codes`}${f.banned_for_seconds !== null ? `, banned ${f.banned_for_seconds}s` : ''}`,
      `  sign-in ban     ${l.banned_for_seconds !== null ? `banned ${l.banned_for_seconds}s` : 'none'} (${l.recent_failures} recent failures)`,
    );
  } else if (!live) {
    lines.push('  lockouts        not visible here (embedded store: they live in the service); GET /admin/users/<account> shows them');
  }
  if (s.remembered_browsers) lines.push(`  remembered      ${s.remembered_browsers.length === 0 ? 'no browser' : s.remembered_browsers.map((b) => `${b.label} (${b.id}, until ${b.expires_at})`).join('; ')}`);
  lines.push(`  last sign-in    ${s.last_sign_in ? `${s.last_sign_in.at} from ${s.last_sign_in.network}` : 'none recorded (verified sign-ins only)'}`);
  return lines.join('\n');
}

function describeAction(r: ActionResult): string {
  switch (r.action) {
    case 'reset_2fa':
      return `2FA reset for ${r.user} (was ${String(r['previous_method'])}); sessions ${r.sessions_revoked ? 'ended' : 'NOT ended'}; ${r.notified ? 'the user was notified by email' : 'the notification was NOT sent'}.`;
    case 'set_destination':
      return `Codes for ${r.user} now go by ${String(r['method'])} to ${String(r['destination'])}; sessions ${r.sessions_revoked ? 'ended' : 'NOT ended'}; ${r.notified ? 'the user was notified by email' : 'the notification was NOT sent'}.`;
    case 'revoke_sessions':
      return `Every session of ${r.user} ended.`;
    case 'revoke_session':
      return `Session ${String(r['handle'])} of ${r.user} ended (app session: ${String(r['upstream'])}).`;
    case 'unlock':
      return `Lockouts of ${r.user} lifted.`;
    case 'revoke_remembered_browsers':
      return `${String(r['revoked'])} remembered browser(s) of ${r.user} forgotten.`;
  }
}

function describeEvents(events: readonly AuditEvent[]): string {
  if (events.length === 0) return 'no audit events';
  return events
    .map((e) => `${e.time}  ${e.event.padEnd(22)} ${e.outcome.padEnd(7)} ${e.actor ?? ''}${e.reason ? `  reason: ${e.reason}` : ''}`)
    .join('\n');
}

/** Runs `admin <command> <account> …`; returns the exit code (0 done, 1 refused or failed, 2 bad usage). */
export async function runAdminCommand(args: readonly string[], io: { out: (text: string) => void; err: (text: string) => void } = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
}): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      reason: { type: 'string' },
      destination: { type: 'string' },
      id: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [command, email, ...extra] = positionals;
  if (!command) throw new UsageError(`admin needs a command: ${COMMANDS.join(', ')}`);
  if (!(COMMANDS as readonly string[]).includes(command)) throw new UsageError(`unknown admin command "${command}" (one of ${COMMANDS.join(', ')})`);
  if (!email) throw new UsageError(`admin ${command} needs the account (its email, or its username with login.identifier: username)`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const cmd = command as Command;
  if (values.destination !== undefined && cmd !== 'set-destination') throw new UsageError('--destination goes with set-destination only');
  if (values.limit !== undefined && cmd !== 'audit') throw new UsageError('--limit goes with audit only');
  if (values.id !== undefined && cmd !== 'forget-browsers') throw new UsageError('--id goes with forget-browsers only');
  if (values.reason !== undefined && (cmd === 'status' || cmd === 'audit')) throw new UsageError(`--reason is for changes; ${cmd} changes nothing`);
  let limit: number | undefined;
  if (values.limit !== undefined) {
    if (!/^\d{1,4}$/.test(values.limit)) throw new UsageError('--limit must be a number from 1 to 1000');
    limit = Number(values.limit);
  }
  const json = values.json === true;
  const fail = (error: AdminError): number => {
    if (json) io.out(`${JSON.stringify({ error: error.code, message: error.message })}\n`);
    else io.err(`smartpush-guard admin ${cmd}: ${error.message}\n`);
    return error.status === 400 ? 2 : 1;
  };

  const loaded = loadConfig(configPathFrom(values.config));
  let user: string;
  try {
    // The same canonical key as sign-in uses (login.identifier): an email address or a username.
    user = parseAccount(email, identityRules(loaded.config));
  } catch (error) {
    if (error instanceof AdminError) return fail(error);
    throw error;
  }
  // Only problems go to stderr: stdout carries the answer (text or --json).
  const logger = createLogger('error', process.stderr);
  const opened = await openOperations(loaded, logger, (line) => io.err(`${line}\n`));
  const by = { actor: `cli:${osUser()}` };
  const ops = opened.operations;
  try {
    let answer: unknown;
    let text: string;
    switch (cmd) {
      case 'status': {
        const s = await ops.status(user);
        answer = s;
        text = describeStatus(s, ops.canReachLiveState);
        break;
      }
      case 'audit': {
        const events = await ops.auditEvents({ user, ...(limit !== undefined ? { limit } : {}) });
        answer = { events };
        text = describeEvents(events);
        break;
      }
      case 'reset-2fa': {
        const r = await ops.resetTwoFactor(user, values.reason, by);
        answer = r;
        text = describeAction(r);
        break;
      }
      case 'set-destination': {
        const r = await ops.setDestination(user, values.destination, values.reason, by);
        answer = r;
        text = describeAction(r);
        break;
      }
      case 'revoke-sessions': {
        const r = await ops.revokeSessions(user, values.reason, by);
        answer = r;
        text = describeAction(r);
        break;
      }
      case 'unlock': {
        const r = await ops.unlock(user, values.reason, by);
        answer = r;
        text = describeAction(r);
        break;
      }
      case 'forget-browsers': {
        const r = await ops.revokeRememberedBrowsers(user, values.id, values.reason, by);
        answer = r;
        text = describeAction(r);
        break;
      }
    }
    const warnings = (answer as { warnings?: string[] }).warnings ?? [];
    if (!json) for (const w of warnings) io.err(`warning: ${w}\n`);
    io.out(json ? `${JSON.stringify(answer, null, 2)}\n` : `${text}\n`);
    return 0;
  } catch (error) {
    if (error instanceof AdminError) return fail(error);
    throw error;
  } finally {
    await opened.close();
  }
}
