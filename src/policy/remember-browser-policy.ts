/**
 * `remember_browser:` — the policy's say over "Remember this browser" (src/flows/remember-browser.ts).
 *
 *   remember_browser:
 *     enabled: false               # default true; false: never offered, remembered browsers not honoured
 *     days: 7                      # at most this many days; the config's days win when shorter
 *     except_rules: [admin-area]   # sign-ins returning to these rules: never offered, never honoured
 *
 * The policy can only narrow what the config allows: config off → off whatever the policy says;
 * days = min(config, policy). A reload applies from the next sign-in. Records are never deleted by
 * a policy change: while the policy refuses them they are simply not honoured (and come back when
 * it allows them again, if still within their window). A record is honoured at most `days in
 * force now` after it was made, and never after the expiry it got when it was made.
 *
 * The schema lives here (not in schema.ts) so the policy document only gains one line there.
 */
import { z } from 'zod';
import { canonicaliseTarget } from '../proxy/canonical-target.ts';
import type { CompiledPolicy } from './types.ts';

const RULE_NAME = /^[a-z0-9][a-z0-9._-]*$/;
const MAX_REMEMBER_DAYS = 365;
const DAY_MS = 86_400_000;

export const rememberBrowserPolicySchema = z
  .object({
    enabled: z.boolean({ error: 'must be true or false' }).default(true).describe('false: the checkbox is never offered and remembered browsers are not honoured.'),
    days: z
      .number({ error: 'must be a whole number of days' })
      .int({ error: 'must be a whole number of days' })
      .min(1, { error: 'must be at least 1 (use enabled: false to turn it off)' })
      .max(MAX_REMEMBER_DAYS, { error: `must be at most ${MAX_REMEMBER_DAYS}` })
      .optional()
      .describe("At most this many days; the config's factors.remember_browser.days win when shorter."),
    except_rules: z
      .array(z.string().regex(RULE_NAME, { error: 'must be a rule name (lower-case letters, digits, ".", "_" or "-")' }))
      .min(1, { error: 'must list at least one rule name (leave it out for none)' })
      .optional()
      .describe('Sign-ins returning to these rules ("default" names the default) are never remembered, and a remembered browser is not honoured for them.'),
  })
  .strict()
  .describe('Narrow "Remember this browser" (config factors.remember_browser): turn it off, shorten it, or exclude rules.');

type RememberBrowserPolicyDocument = z.output<typeof rememberBrowserPolicySchema>;

/** The compiled `remember_browser` (CompiledPolicy.rememberBrowser). */
export interface RememberBrowserPolicySpec {
  readonly enabled: boolean;
  /** null: the config's days. */
  readonly days: number | null;
  readonly exceptRules: readonly string[];
}

export function compileRememberBrowserPolicy(doc: RememberBrowserPolicyDocument): RememberBrowserPolicySpec {
  return Object.freeze({ enabled: doc.enabled, days: doc.days ?? null, exceptRules: Object.freeze([...new Set(doc.except_rules ?? [])]) });
}

/** What a sign-in may do with "Remember this browser" now. */
export type RememberAllowance =
  | { readonly allowed: true; readonly days: number }
  | { readonly allowed: false; readonly reason: 'config_off' | 'policy_off' | 'excepted_rule' };

/**
 * The config and the policy together, for a sign-in returning to `rule` (the name of the rule its
 * return_to matches; null when it could not be decided, which counts as excepted whenever the
 * policy excepts any rule: fail closed).
 */
export function rememberAllowance(
  config: { readonly enabled: boolean; readonly days: number },
  spec: RememberBrowserPolicySpec | null | undefined,
  rule: string | null,
): RememberAllowance {
  if (!config.enabled) return { allowed: false, reason: 'config_off' };
  if (!spec) return { allowed: true, days: config.days };
  if (!spec.enabled) return { allowed: false, reason: 'policy_off' };
  if (spec.exceptRules.length > 0 && (rule === null || spec.exceptRules.includes(rule))) return { allowed: false, reason: 'excepted_rule' };
  return { allowed: true, days: spec.days === null ? config.days : Math.min(config.days, spec.days) };
}

/** Until when a record made at `createdAt` (expiring at `expiresAt` by its own days) is honoured with `days` in force now. */
export function honouredUntil(record: { readonly createdAt: number; readonly expiresAt: number }, days: number): number {
  return Math.min(record.expiresAt, record.createdAt + days * DAY_MS);
}

/**
 * The name of the rule a GET of `returnTo` (a safe same-origin path, src/http/return-to.ts) on
 * `hostname` matches; null when it cannot be decided (bad target or ambiguous query).
 */
export function returnRule(policy: CompiledPolicy, returnTo: string, hostname: string): string | null {
  const canonical = canonicaliseTarget(returnTo, { pathParameters: policy.settings.pathParameters, host: hostname });
  if (!canonical.ok) return null;
  const query = policy.parseQuery(canonical.target.query);
  if (!query.ok) return null;
  return policy.match('GET', canonical.target.path, hostname, query.query).rule.name;
}

/** The policy's statement in words (`policy check` / `explain`). */
export function describeRememberBrowserPolicy(spec: RememberBrowserPolicySpec | null | undefined, rule?: string): string {
  if (!spec) return 'as configured (factors.remember_browser)';
  if (!spec.enabled) return 'off by policy (not offered; remembered browsers not honoured)';
  if (rule !== undefined && spec.exceptRules.includes(rule)) return `off for rule "${rule}" (remember_browser.except_rules)`;
  const days = spec.days === null ? "the config's days" : `at most ${spec.days} day${spec.days === 1 ? '' : 's'} (or the config's days when shorter)`;
  const except = spec.exceptRules.length > 0 && rule === undefined ? `; not for rules ${spec.exceptRules.join(', ')}` : '';
  return `allowed when the config allows it, for ${days}${except}`;
}

/** How a reload widens `remember_browser` (policy/diff.ts holds such a reload until confirmed). */
export function rememberBrowserWeakenings(
  before: { readonly rememberBrowser?: RememberBrowserPolicySpec | null | undefined },
  after: { readonly rememberBrowser?: RememberBrowserPolicySpec | null | undefined },
): string[] {
  const was = before.rememberBrowser ?? null;
  const now = after.rememberBrowser ?? null;
  if (was === null) return [];
  if (now === null) return ['remember_browser was removed: remembering browsers is as the config allows'];
  const out: string[] = [];
  if (!was.enabled && now.enabled) out.push('remember_browser is enabled again (it was off)');
  if (was.days !== null && (now.days === null || now.days > was.days)) {
    out.push(`remember_browser.days ${was.days} → ${now.days === null ? "the config's days" : now.days}`);
  }
  const lost = was.exceptRules.filter((r) => !now.exceptRules.includes(r));
  if (lost.length > 0) out.push(`remember_browser.except_rules no longer lists ${lost.map((n) => `"${n}"`).join(', ')}`);
  return out;
}
