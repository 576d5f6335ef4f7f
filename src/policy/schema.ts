/**
 * The one source of the policy document's shape. Validation in `load.ts`, the exported types, and
 * the JSON Schema that editors use (`schema/policy.schema.json`) all come from here.
 *
 * Unknown keys are errors: a misspelt `sensitiv:` silently ignored would leave an export unprotected.
 * Custom error messages are written as predicates ("must be …") because the loader prefixes them
 * with the path of the offending value (`rules[2].access must be …`).
 */
import { z } from 'zod';
import { DURATION_PATTERN } from '../config/duration.ts';
import { requireTwoFactorSchema } from './require-two-factor.ts';
import { rememberBrowserPolicySchema } from './remember-browser-policy.ts';

const ACCESS_VALUES = ['public', 'authenticated', 'deny'] as const;
const STEP_UP_ACTIONS = ['pass', 'email_code', 'fresh_code', 'phishing_resistant', 'deny'] as const;
export const DEFAULT_KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

const RULE_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;
const CATEGORY_PATTERN = /^[a-z0-9-]+$/;
export const METHOD_PATTERN = /^[A-Z][A-Z0-9_-]*$/;
/** A host name or IPv4 address, optionally `*.` for "any subdomain"; no port. Compared lower-case. */
const HOST_PATTERN =
  /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$|^\[[0-9A-Fa-f:.]+\]$/;

const access = z.enum(ACCESS_VALUES).describe('public: anyone; authenticated: a full sidecar session; deny: 403 for everyone');
const stepUpAction = z
  .enum(STEP_UP_ACTIONS)
  .describe(
    'pass: no verification; email_code: a code sent by email; fresh_code: a fresh code of the enrolled 2FA method (or a passkey); phishing_resistant: a passkey or security key only (README, Passkeys); deny: refuse',
  );

const duration = z
  .string({ error: 'must be a duration string such as 30s, 10m, 12h or 1d' })
  .regex(DURATION_PATTERN, { error: 'must be a duration such as 30s, 10m, 12h or 1d (an integer and one of ms, s, m, h, d)' });

const method = z
  .string()
  .regex(METHOD_PATTERN, { error: 'must be an upper-case HTTP method name such as GET or POST' });

const methods = z
  .array(method)
  .min(1, { error: 'must list at least one method (leave it out to mean every method)' })
  .describe('Upper-case HTTP methods; omitted = every known method. HEAD and OPTIONS are decided as GET and may not be listed.');

const host = z
  .string()
  .regex(HOST_PATTERN, { error: 'must be a host name without port, optionally starting with "*." (e.g. app.example.com, *.example.com)' });

const hosts = z
  .array(host)
  .min(1, { error: 'must list at least one host (leave it out to mean every host)' })
  .describe('Host names (without port) the rule applies to; "*.example.com" matches any subdomain but not example.com itself. Omitted = every host.');

const pathPattern = z
  .string()
  .min(1, { error: 'must not be empty' })
  .describe('A path pattern: /literal, /:param (one segment, captured), /* (one segment), /report-*.csv (glob within one segment), /prefix/** (zero or more segments; last only)');

const paths = z.array(pathPattern).min(1, { error: 'must list at least one path pattern' });

const QUERY_NAME_PATTERN = /^[A-Za-z0-9_.~-]+$/;
// eslint-disable-next-line no-control-regex
const queryValue = z.string({ error: 'must be a string (quote numbers and the words true/false: "2")' }).regex(/^[^\u0000-\u001f\u007f&=;%#?]*$/, {
  error: 'must be the decoded value, without control characters or & = ; % # ?',
});

/** `{do: login}`, `{action: [edit, save]}`, `{id: true}` (present), `{preview: false}` (absent). */
const querySchema = z
  .record(
    z.string(),
    z.union([queryValue, z.array(queryValue).min(1, { error: 'must list at least one value' }), z.boolean()], {
      error: 'must be a value, a list of values, true (present with any value) or false (absent)',
    }),
  )
  .superRefine((q, ctx) => {
    const names = Object.keys(q);
    if (names.length === 0) ctx.addIssue({ code: 'custom', message: 'must name at least one parameter (leave it out to mean any query)' });
    for (const name of names) {
      if (!QUERY_NAME_PATTERN.test(name)) {
        ctx.addIssue({ code: 'custom', path: [name], message: 'must be a parameter name (letters, digits, "_", ".", "-", "~"; no brackets)' });
      }
    }
  })
  .describe(
    'Query parameters the request must carry, decoded once: name: value, name: [value, …], name: true (present, any value), name: false (absent). Omitted = any query.',
  );

const actionWithout2fa = z
  .enum(['pass', 'email_code', 'deny'], {
    error: 'must be one of pass, email_code, deny: fresh_code is not possible without 2FA (no method is enrolled to send it to)',
  })
  .describe('pass: no verification; email_code: a code sent by email; deny: refuse');

const WITHOUT_2FA_DEFAULTS = { low: 'email_code', medium: 'email_code', high: 'email_code' } as const;
const WITH_2FA_DEFAULTS = { low: 'pass', medium: 'pass', high: 'fresh_code' } as const;

const without2faTable = z
  .object({
    low: actionWithout2fa.default(WITHOUT_2FA_DEFAULTS.low),
    medium: actionWithout2fa.default(WITHOUT_2FA_DEFAULTS.medium),
    high: actionWithout2fa.default(WITHOUT_2FA_DEFAULTS.high),
  })
  .strict();

const with2faTable = z
  .object({
    low: stepUpAction.default(WITH_2FA_DEFAULTS.low),
    medium: stepUpAction.default(WITH_2FA_DEFAULTS.medium),
    high: stepUpAction.default(WITH_2FA_DEFAULTS.high),
  })
  .strict();

const sensitive = z
  .object({
    category: z
      .string()
      .regex(CATEGORY_PATTERN, { error: 'must be lower-case letters, digits and "-"' })
      .describe('Verifications are bound to a category: one for contact exports does not cover campaign exports.'),
    fresh_for: duration.describe('How long a verification stays fresh, between 1m and 24h.'),
    without_2fa: without2faTable
      .default(WITHOUT_2FA_DEFAULTS)
      .describe('Action per risk level for users without 2FA; fresh_code is not possible (no method enrolled).'),
    with_2fa: with2faTable.default(WITH_2FA_DEFAULTS).describe('Action per risk level for users with 2FA.'),
    nudge_enable_2fa: z.boolean().default(true).describe('After a verification without 2FA, invite the user to enable 2FA.'),
  })
  .strict()
  .describe('Step-up verification for a sensitive operation; only with access: authenticated.');

const ruleSchema = z
  .object({
    name: z
      .string()
      .regex(RULE_NAME_PATTERN, { error: 'must be lower-case letters, digits, ".", "_" or "-", starting with a letter or digit' })
      .describe('Unique name, shown in explanations and the audit log.'),
    description: z
      .union([
        z.string(),
        z
          .object({ en: z.string().min(1).optional(), 'zh-cn': z.string().min(1).optional() })
          .strict()
          .refine((d) => d.en !== undefined || d['zh-cn'] !== undefined, 'give the text in at least one language (en, zh-cn)'),
      ])
      .optional()
      .describe('What the rule is for. On a sensitive rule it is shown on the step-up page (one text, or one per language: {en: …, zh-cn: …}).'),
    paths,
    methods: methods.optional(),
    hosts: hosts.optional(),
    query: querySchema.optional(),
    access,
    sensitive: sensitive.optional(),
  })
  .strict();

const interceptRoute = z
  .object({
    paths,
    methods: methods.optional(),
    hosts: hosts.optional(),
    query: querySchema.optional(),
  })
  .strict();

export const policyDocumentSchema = z
  .object({
    version: z.literal(1).describe('Format version of this document; always 1.'),
    settings: z
      .object({
        case_sensitive: z
          .boolean()
          .default(false)
          .describe('Compare paths case-sensitively. Default false, because legacy routers (koa-router, Express) are case-insensitive.'),
        path_parameters: z
          .enum(['reject', 'allow'])
          .default('reject')
          .describe("';' inside a path: reject (400, default) or allow as an ordinary character."),
        known_methods: z
          .array(method)
          .min(1, { error: 'must list at least one method' })
          .default([...DEFAULT_KNOWN_METHODS])
          .describe('Methods the policy knows; any other method is denied before matching.'),
        known_hosts: hosts
          .optional()
          .describe(
            'Hosts this policy serves ("*.example.com" for any subdomain). A request for any other host is refused (421) instead of falling to the default rule. Omitted = every host.',
          ),
      })
      .strict()
      .optional(),
    default: z
      .object({ access: access.default('authenticated') })
      .strict()
      .optional()
      .describe('What applies when no rule matches.'),
    intercept: z
      .object({
        login: interceptRoute.optional().describe("The upstream's own login form route, taken over by the sidecar's login flow."),
        logout: interceptRoute.optional().describe("The upstream's logout route; the sidecar ends both sessions."),
      })
      .strict()
      .optional()
      .describe('Routes of the upstream that the sidecar takes over. Decided before every rule.'),
    rules: z.array(ruleSchema).optional().describe('Route rules in first-match order: the first rule whose path, method and host match decides.'),
    require_2fa: requireTwoFactorSchema.optional(),
    remember_browser: rememberBrowserPolicySchema.optional(),
  })
  .strict()
  .describe('smartpush-guard route policy');

/** A validated policy document with defaults applied. */
export type PolicyDocument = z.output<typeof policyDocumentSchema>;
export type RuleDocument = z.output<typeof ruleSchema>;
export type SensitiveDocument = NonNullable<RuleDocument['sensitive']>;
export type InterceptRouteDocument = z.output<typeof interceptRoute>;
export type QueryDocument = z.output<typeof querySchema>;

/** JSON Schema (draft 2020-12) of a policy document as written, for editors and `schema/policy.schema.json`. */
export function policyJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(policyDocumentSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: 'smartpush-guard route policy',
    ...rest,
  };
}
