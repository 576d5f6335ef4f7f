import { dirname, resolve } from 'node:path';
import { ConfigError, resolveSecret } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../observability/logger.ts';
import { canonicalIdentity, isEmailAddress, type IdentityRules } from './identity.ts';
import { HtmlDirectory, ProfileDirectory, type Extract } from './page.ts';
import { MysqlDirectory, PostgresDirectory, SqliteDirectory } from './sql.ts';
import type { Directory, DirectoryFailureReason, LookupContext, SessionFetcher } from './types.ts';


/** For tools without an upstream session (CLI): profile/html directories then answer `no_session`. */
export const NO_UPSTREAM_SESSION: SessionFetcher = {
  fetchWithSession: () => Promise.resolve({ error: 'no upstream session here' }),
};

/** The identity rules of a config (`login.identifier`, `login.identifier_case`). */
export function identityRules(config: Pick<Config, 'login'>): IdentityRules {
  return { kind: config.login.identifier, caseInsensitive: config.login.identifier_case === 'insensitive' };
}

const extract = (spec: { selector: string; attribute?: string | undefined; pattern?: string | undefined } | undefined): Extract | undefined =>
  spec ? { selector: spec.selector, attribute: spec.attribute, pattern: spec.pattern !== undefined ? new RegExp(spec.pattern) : undefined } : undefined;

/**
 * Opens the configured directory (or the older login.profile, which is a profile directory).
 * Throws a ConfigError at start for a missing SQLite file, an unreadable URL secret or a query
 * that is not read-only, so a bad directory is found before the first user needs a code.
 */
export function openDirectory(
  config: Pick<Config, 'login' | 'directory'>,
  configFile: string,
  fetcher: SessionFetcher,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Directory | null {
  const rules = identityRules(config);
  const canonical = (raw: string): string => canonicalIdentity(raw, rules);
  const spec = config.directory;
  if (spec === undefined) {
    const legacy = config.login.profile;
    if (!legacy) return null;
    // login.profile has always named the account by its email field when people sign in by email.
    return new ProfileDirectory(
      fetcher,
      { path: legacy.path, emailField: legacy.email_field, phoneField: legacy.phone_field, identifierField: rules.kind === 'email' ? legacy.email_field : undefined },
      canonical,
    );
  }
  switch (spec.kind) {
    case 'profile':
      return new ProfileDirectory(
        fetcher,
        { path: spec.path, emailField: spec.email_field, phoneField: spec.phone_field, identifierField: spec.identifier_field, rolesField: spec.roles_field },
        canonical,
      );
    case 'html':
      return new HtmlDirectory(
        fetcher,
        { path: spec.path, email: extract(spec.email), phone: extract(spec.phone), identifier: extract(spec.identifier), roles: extract(spec.roles) },
        canonical,
      );
    case 'sql': {
      const options = { query: spec.query, timeoutMs: spec.timeout, pool: spec.pool, rolesColumn: spec.roles_column };
      if (spec.driver === 'sqlite') {
        const file = resolve(dirname(configFile), spec.file as string);
        try {
          return new SqliteDirectory(file, options);
        } catch (error) {
          throw new ConfigError([`directory: ${(error as Error).message.includes(file) ? '' : `${file}: `}${(error as Error).message}`]);
        }
      }
      const url = resolveSecret(spec.url as { env: string } | { file: string }, configFile, env);
      const expected = spec.driver === 'postgres' ? /^postgres(ql)?:\/\//i : /^(mysql|mariadb):\/\//i;
      if (!expected.test(url)) {
        throw new ConfigError([`directory.url: the ${spec.driver} connection URL must start with ${spec.driver === 'postgres' ? 'postgres://' : 'mysql://'}`]);
      }
      const normalised = spec.driver === 'mysql' ? url.replace(/^mariadb:/i, 'mysql:') : url;
      return spec.driver === 'postgres' ? new PostgresDirectory(normalised, options) : new MysqlDirectory(normalised, options);
    }
  }
}

type ContactsResult =
  | { readonly ok: true; readonly email: string | null; readonly phone: string | null; readonly roles?: readonly string[] }
  | { readonly ok: false; readonly reason: DirectoryFailureReason; readonly message: string };

/**
 * An account's email and phone as the flows use them: the directory's answer, and for accounts
 * identified by email the identifier itself when the directory knows no other address. A failing
 * directory is logged (never with a secret) and, for accounts identified by username, reported:
 * with no address there is nothing to send a code to.
 */
export class Contacts {
  constructor(
    private readonly directory: Directory | null,
    private readonly rules: IdentityRules,
    private readonly logger: Logger,
  ) {}

  get configured(): boolean {
    return this.directory !== null;
  }

  /** The directory is configured to give roles/groups (policy `require_2fa.roles` needs it). */
  get providesRoles(): boolean {
    return this.directory?.providesRoles === true;
  }

  /**
   * The account's roles as the directory gives them, or 'unknown' when it cannot say now (lookup
   * failed, no session to read with, or no roles configured): a role filter then covers the
   * account (fail closed).
   */
  async rolesOf(identity: string, context: LookupContext): Promise<readonly string[] | 'unknown'> {
    if (!this.providesRoles) return 'unknown';
    const result = await this.of(identity, context);
    return result.ok && result.roles !== undefined ? result.roles : 'unknown';
  }

  async of(identity: string, context: LookupContext): Promise<ContactsResult> {
    const own = this.rules.kind === 'email' && isEmailAddress(identity) ? identity : null;
    if (!this.directory) return { ok: true, email: own, phone: null };
    let result;
    try {
      result = await this.directory.lookup(identity, context);
    } catch (error) {
      result = { ok: false as const, reason: 'source_error' as const, message: `${this.directory.kind} directory: ${String((error as Error).message ?? error).slice(0, 300)}` };
    }
    if (result.ok) return { ok: true, email: result.entry.email ?? own, phone: result.entry.phone, ...(result.entry.roles !== undefined ? { roles: result.entry.roles } : {}) };
    const level = result.reason === 'not_found' || result.reason === 'no_session' ? 'info' : 'warn';
    this.logger[level]({ event: 'directory_lookup_failed', kind: this.directory.kind, reason: result.reason, detail: result.message, requestId: context.requestId }, 'directory lookup failed');
    // The account the session claims to be is never overridden by a fallback.
    if (result.reason === 'account_mismatch' || own === null) return result;
    return { ok: true, email: own, phone: null };
  }

  /** The account the app says an upstream session is, canonicalised; null when it cannot tell. */
  async accountOfSession(context: LookupContext): Promise<string | null> {
    if (!this.directory?.accountOfSession) return null;
    try {
      return await this.directory.accountOfSession(context);
    } catch {
      return null;
    }
  }

  close(): Promise<void> {
    return this.directory?.close() ?? Promise.resolve();
  }
}
