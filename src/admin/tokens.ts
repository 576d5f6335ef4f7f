import { createHash, timingSafeEqual } from 'node:crypto';
import { ADMIN_TOKEN_PATTERN, adminTokenProblem, ConfigError, resolveSecret } from '../config/load.ts';
import type { Config } from '../config/schema.ts';

/**
 * The admin API's bearer tokens. Each configured token has a name (the audit actor is
 * `admin:<name>`); several may be valid at once so a token can be rotated without downtime.
 *
 * A presented token is compared with every configured one, always all of them, as SHA-256 digests
 * with timingSafeEqual: the digests have equal lengths whatever was sent, and the time taken says
 * neither which token matched nor how much of one did.
 */

type TokenCheck =
  | { readonly ok: true; readonly name: string }
  | { readonly ok: false; readonly reason: 'disabled' | 'missing' | 'malformed' | 'invalid' };

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** RFC 6750 `Bearer <b64token>`; the scheme is case-insensitive. */
const BEARER = /^Bearer +(\S+) *$/i;

export class AdminTokens {
  private readonly tokens: ReadonlyArray<{ readonly name: string; readonly digest: Buffer }>;

  constructor(tokens: ReadonlyArray<{ readonly name: string; readonly token: string }>) {
    for (const t of tokens) {
      const problem = adminTokenProblem(t.token);
      if (problem !== null) throw new ConfigError([`admin.tokens (${t.name}): ${problem}`]);
    }
    this.tokens = tokens.map((t) => ({ name: t.name, digest: digest(t.token) }));
  }

  /** Reads every token the config names (env var or file); a short one is a config error. */
  static fromConfig(admin: Config['admin'], configFile: string, env: Readonly<Record<string, string | undefined>> = process.env): AdminTokens {
    const issues: string[] = [];
    const tokens: Array<{ name: string; token: string }> = [];
    for (const entry of admin.tokens) {
      try {
        const token = resolveSecret(entry.token, configFile, env);
        const problem = adminTokenProblem(token);
        if (problem !== null) issues.push(`admin.tokens (${entry.name}): ${problem}`);
        else tokens.push({ name: entry.name, token });
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        issues.push(...error.issues.map((issue) => `admin.tokens (${entry.name}): ${issue}`));
      }
    }
    if (issues.length > 0) throw new ConfigError(issues);
    return new AdminTokens(tokens);
  }

  get enabled(): boolean {
    return this.tokens.length > 0;
  }

  /** Checks an Authorization header value. */
  check(authorization: string | undefined): TokenCheck {
    if (!this.enabled) return { ok: false, reason: 'disabled' };
    if (authorization === undefined || authorization === '') return { ok: false, reason: 'missing' };
    const match = BEARER.exec(authorization);
    if (!match || !ADMIN_TOKEN_PATTERN.test(match[1] as string)) return { ok: false, reason: 'malformed' };
    const presented = digest(match[1] as string);
    let found: string | null = null;
    for (const t of this.tokens) {
      // No early exit: every token is compared, whichever matches.
      if (timingSafeEqual(presented, t.digest) && found === null) found = t.name;
    }
    return found === null ? { ok: false, reason: 'invalid' } : { ok: true, name: found };
  }
}
