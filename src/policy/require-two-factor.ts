/**
 * `require_2fa:` — the policy's two-step verification mandate (issue 17).
 *
 *   require_2fa:
 *     for: all                      # or a list of rule names: [contacts-export, admin-area]
 *     roles: [admin, finance]       # optional: only accounts the directory gives one of these roles
 *     grace:                        # optional: without it, 2FA is required at once
 *       until: 2026-12-31           # a date (midnight UTC) or a date-time with offset
 *       skips: 3                    # "Not now" may be chosen this many times
 *       days: 14                    # days from the first prompt
 *
 * A covered rule (any `access: authenticated` rule for `all`, or the named ones) lets a signed-in
 * user without 2FA through only while the grace period lasts: the first covered page of a session
 * shows the "Your organisation requires two-step verification" page, whose "Not now" counts a skip.
 * The grace period is over as soon as ANY of its limits is reached. Grace state per account
 * (first prompt, skips) is durable (src/store/grace.ts).
 *
 * The schema lives here (not in schema.ts) so the policy document only gains one line there.
 */
import { z } from 'zod';
import type { GraceRecord } from '../store/grace.ts';

const RULE_NAME = /^[a-z0-9][a-z0-9._-]*$/;
const ROLE = /^[A-Za-z0-9][A-Za-z0-9 ._:@/-]{0,99}$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

const MAX_GRACE_SKIPS = 100;
const MAX_GRACE_DAYS = 3650;
const DAY_MS = 86_400_000;

const until = z
  .string({ error: 'must be a date (2026-12-31) or a date-time with offset (2026-12-31T18:00:00Z); quote it if YAML reads it otherwise' })
  .refine((v) => (DATE_ONLY.test(v) || DATE_TIME.test(v)) && !Number.isNaN(Date.parse(DATE_ONLY.test(v) ? `${v}T00:00:00Z` : v)), {
    error: 'must be a date (2026-12-31, read as midnight UTC) or a date-time with offset (2026-12-31T18:00:00Z)',
  })
  .describe('The grace period ends at this moment: a date (midnight UTC) or a date-time with offset.');

export const requireTwoFactorSchema = z
  .object({
    for: z
      .union(
        [
          z.literal('all'),
          z
            .array(z.string().regex(RULE_NAME, { error: 'must be a rule name (lower-case letters, digits, ".", "_" or "-")' }))
            .min(1, { error: 'must list at least one rule name (or say: all)' }),
        ],
        { error: 'must be all, or a list of rule names such as [contacts-export, admin-area]' },
      )
      .describe('all: every rule with access: authenticated (and the default when it is authenticated); or a list of rule names ("default" names the default).'),
    roles: z
      .array(z.string().regex(ROLE, { error: 'must be a role or group name as the directory gives it (letters, digits, space, ".", "_", ":", "@", "/", "-"; at most 100)' }))
      .min(1, { error: 'must list at least one role (leave it out to mean every account)' })
      .optional()
      .describe('Only accounts the directory gives one of these roles/groups (compared case-insensitively). Refused at start when the directory cannot give roles.'),
    grace: z
      .object({
        until: until.optional(),
        skips: z
          .number({ error: 'must be a whole number' })
          .int({ error: 'must be a whole number' })
          .min(0, { error: 'must be 0 or more' })
          .max(MAX_GRACE_SKIPS, { error: `must be at most ${MAX_GRACE_SKIPS}` })
          .optional()
          .describe('How many times "Not now" may be chosen.'),
        days: z
          .number({ error: 'must be a whole number' })
          .int({ error: 'must be a whole number' })
          .min(0, { error: 'must be 0 or more' })
          .max(MAX_GRACE_DAYS, { error: `must be at most ${MAX_GRACE_DAYS}` })
          .optional()
          .describe('Days from the first prompt of the account.'),
      })
      .strict()
      .refine((g) => g.until !== undefined || g.skips !== undefined || g.days !== undefined, {
        error: 'must give at least one of until, skips, days (leave grace out to require 2FA at once)',
      })
      .optional()
      .describe('While it lasts, users may choose "Not now". It ends when ANY given limit is reached. Omitted: 2FA is required at once.'),
  })
  .strict()
  .describe('Require two-step verification (2FA) for some rules or the whole app, optionally with a grace period.');

type RequireTwoFactorDocument = z.output<typeof requireTwoFactorSchema>;

/** The compiled mandate (CompiledPolicy.requireTwoFactor). */
export interface RequireTwoFactorSpec {
  /** True for `for: all`. */
  readonly all: boolean;
  /** The rule names listed (empty for `all`). */
  readonly rules: readonly string[];
  /** Lower-case roles; null: every account. */
  readonly roles: readonly string[] | null;
  readonly grace: GraceSpec;
}

export interface GraceSpec {
  /** Epoch ms; null: no deadline. */
  readonly untilMs: number | null;
  readonly skips: number | null;
  readonly days: number | null;
}

/** No grace at all: 2FA is required at the first covered request. */
export const NO_GRACE: GraceSpec = Object.freeze({ untilMs: null, skips: 0, days: null });

function untilToMs(value: string): number {
  return Date.parse(DATE_ONLY.test(value) ? `${value}T00:00:00Z` : value);
}

export function compileRequireTwoFactor(doc: RequireTwoFactorDocument): RequireTwoFactorSpec {
  const grace: GraceSpec = doc.grace
    ? Object.freeze({
        untilMs: doc.grace.until !== undefined ? untilToMs(doc.grace.until) : null,
        skips: doc.grace.skips ?? null,
        days: doc.grace.days ?? null,
      })
    : NO_GRACE;
  return Object.freeze({
    all: doc.for === 'all',
    rules: Object.freeze(doc.for === 'all' ? [] : [...new Set(doc.for)]),
    roles: doc.roles ? Object.freeze([...new Set(doc.roles.map((r) => r.toLowerCase()))]) : null,
    grace,
  });
}

// ---------------------------------------------------------------------------------------------
// The grace period of one account (pure: the clock is the caller's)

export type GraceStatus =
  | {
      readonly open: true;
      /** Skips still allowed; null: no skip limit. */
      readonly skipsLeft: number | null;
      /** Whole days left (rounded up); null: no day or date limit. */
      readonly daysLeft: number | null;
      /** When the grace period ends at the latest (epoch ms); null: only skips limit it. */
      readonly endsAt: number | null;
    }
  | {
      readonly open: false;
      readonly reason: 'no_grace' | 'deadline' | 'skips' | 'days';
    };

/**
 * Whether the account may still choose "Not now". `record` null: never prompted (its grace would
 * start now). The period is over when ANY given limit is reached: the deadline passed, the skips
 * are used up, or `days` whole days have passed since the first prompt.
 */
export function graceStatus(grace: GraceSpec, record: Pick<GraceRecord, 'firstPromptAt' | 'skips'> | null, now: number): GraceStatus {
  if (grace.untilMs === null && grace.skips === null && grace.days === null) return { open: false, reason: 'no_grace' };
  if (grace.skips === 0 && grace.untilMs === null && grace.days === null) return { open: false, reason: 'no_grace' };
  if (grace.untilMs !== null && now >= grace.untilMs) return { open: false, reason: 'deadline' };
  const skips = record?.skips ?? 0;
  if (grace.skips !== null && skips >= grace.skips) return { open: false, reason: 'skips' };
  const first = record?.firstPromptAt ?? now;
  const daysEnd = grace.days !== null ? first + grace.days * DAY_MS : null;
  if (daysEnd !== null && now >= daysEnd) return { open: false, reason: 'days' };
  const ends = [grace.untilMs, daysEnd].filter((v): v is number => v !== null);
  const endsAt = ends.length > 0 ? Math.min(...ends) : null;
  return {
    open: true,
    skipsLeft: grace.skips !== null ? grace.skips - skips : null,
    daysLeft: endsAt !== null ? Math.max(1, Math.ceil((endsAt - now) / DAY_MS)) : null,
    endsAt,
  };
}

/** A sentence for `policy explain` and the README. */
function describeGrace(grace: GraceSpec): string {
  const parts: string[] = [];
  if (grace.untilMs !== null) parts.push(`until ${new Date(grace.untilMs).toISOString()}`);
  if (grace.skips !== null) parts.push(`${grace.skips} "Not now" skip${grace.skips === 1 ? '' : 's'}`);
  if (grace.days !== null) parts.push(`${grace.days} day${grace.days === 1 ? '' : 's'} from the first prompt`);
  if (parts.length === 0 || (grace.skips === 0 && grace.untilMs === null && grace.days === null)) return 'no grace period';
  return `grace period: ${parts.join(', ')} (over when any is reached)`;
}

/** The whole mandate in words (`policy explain`). */
export function describeRequirement(spec: RequireTwoFactorSpec): string {
  const scope = spec.all ? 'every signed-in rule' : `rules ${spec.rules.join(', ')}`;
  const roles = spec.roles ? `, accounts with role ${spec.roles.join(' or ')}` : ', every account';
  return `2FA required for ${scope}${roles}; ${describeGrace(spec.grace)}`;
}

/**
 * Why a policy's `require_2fa.roles` cannot work with this directory (null: it can). Checked at
 * start (a ConfigError) and on every role lookup after a policy reload (logged; the filter then
 * covers every account: fail closed, never silently ignored).
 */
export function requireTwoFactorRoleProblem(policy: { readonly requireTwoFactor?: RequireTwoFactorSpec | null | undefined }, directory: { readonly configured: boolean; readonly providesRoles: boolean }): string | null {
  const roles = policy.requireTwoFactor?.roles;
  if (!roles) return null;
  if (directory.providesRoles) return null;
  return directory.configured
    ? `policy require_2fa.roles (${roles.join(', ')}) needs roles from the directory, but the configured directory gives none: add roles_field (profile), roles (html) or roles_column (sql) to directory:, or remove roles from require_2fa`
    : `policy require_2fa.roles (${roles.join(', ')}) needs roles from a directory, and none is configured: configure directory: with roles_field (profile), roles (html) or roles_column (sql), or remove roles from require_2fa`;
}


/**
 * How a policy reload weakens `require_2fa` (policy/diff.ts holds such a reload until confirmed):
 * the mandate removed, a rule (or the default) no longer covered, a role filter added or narrowed,
 * or a grace period added or lengthened.
 */
export function requireTwoFactorWeakenings(
  before: { readonly requireTwoFactor?: RequireTwoFactorSpec | null | undefined; readonly rules: ReadonlyArray<{ readonly name: string; readonly requireTwoFactor?: boolean }>; readonly defaultRule: { readonly requireTwoFactor?: boolean } },
  after: { readonly requireTwoFactor?: RequireTwoFactorSpec | null | undefined; readonly rules: ReadonlyArray<{ readonly name: string; readonly requireTwoFactor?: boolean }>; readonly defaultRule: { readonly requireTwoFactor?: boolean } },
): string[] {
  const was = before.requireTwoFactor ?? null;
  const now = after.requireTwoFactor ?? null;
  if (was === null) return [];
  if (now === null) return ['require_2fa was removed: 2FA is no longer required'];
  const out: string[] = [];
  const covered = new Set(after.rules.filter((r) => r.requireTwoFactor === true).map((r) => r.name));
  const lost = before.rules.filter((r) => r.requireTwoFactor === true && !covered.has(r.name)).map((r) => r.name);
  if (lost.length > 0) out.push(`require_2fa no longer covers ${lost.map((n) => `"${n}"`).join(', ')}`);
  if (before.defaultRule.requireTwoFactor === true && after.defaultRule.requireTwoFactor !== true) out.push('require_2fa no longer covers the default');
  if (now.roles !== null && (was.roles === null || now.roles.some((r) => !was.roles!.includes(r)) || now.roles.length < was.roles.length)) {
    const narrowed = was.roles === null || was.roles.some((r) => !now.roles!.includes(r));
    if (narrowed) out.push(`require_2fa now covers only roles ${now.roles.join(', ')}`);
  }
  const longer = (a: number | null, b: number | null): boolean => a !== null && (b === null || b > a);
  const g0 = was.grace;
  const g1 = now.grace;
  const noGrace = (g: GraceSpec): boolean => (g.untilMs === null && g.skips === null && g.days === null) || (g.skips === 0 && g.untilMs === null && g.days === null);
  if (noGrace(g0) && !noGrace(g1)) out.push('require_2fa now has a grace period (it had none)');
  else if (!noGrace(g0)) {
    if (longer(g0.untilMs, g1.untilMs)) out.push('require_2fa grace.until is later or removed');
    if (longer(g0.skips, g1.skips)) out.push('require_2fa grace.skips is larger or removed');
    if (longer(g0.days, g1.days)) out.push('require_2fa grace.days is larger or removed');
  }
  return out;
}
