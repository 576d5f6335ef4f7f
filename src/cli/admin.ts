import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { identityRules } from '../directory/index.ts';
import { AdminOperations } from '../admin/operations.ts';
import { AdminError, parseAccount, type ActionResult, type UserStatus } from '../admin/model.ts';
import type { AuditEvent } from '../audit/audit.ts';
import { loadConfig } from '../config/load.ts';
import { createLogger } from '../observability/logger.ts';
import { configPathFrom, UsageError } from './policy.ts';
import { openOperations } from './admin-stores.ts';

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

/** The commands that change something: each one support operation, answered alike. */
function runAction(
  ops: AdminOperations,
  cmd: Exclude<Command, 'status' | 'audit'>,
  user: string,
  values: { reason?: string | undefined; destination?: string | undefined; id?: string | undefined },
  by: { actor: string },
): Promise<ActionResult> {
  switch (cmd) {
    case 'reset-2fa':
      return ops.resetTwoFactor(user, values.reason, by);
    case 'set-destination':
      return ops.setDestination(user, values.destination, values.reason, by);
    case 'revoke-sessions':
      return ops.revokeSessions(user, values.reason, by);
    case 'unlock':
      return ops.unlock(user, values.reason, by);
    case 'forget-browsers':
      return ops.revokeRememberedBrowsers(user, values.id, values.reason, by);
  }
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
      default: {
        const r = await runAction(ops, cmd, user, values, by);
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
