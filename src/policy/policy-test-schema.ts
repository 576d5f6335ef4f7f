import { z } from 'zod';
import { METHOD_PATTERN } from './schema.ts';

/* The shape of a policy test file (policy-test.ts runs it). */

const EXPECTED_DECISIONS = [
  'pass',
  'login_required',
  'deny',
  'reject',
  'intercept_login',
  'intercept_logout',
  'step_up_required',
  'two_factor_required',
] as const;
export type ExpectedDecision = (typeof EXPECTED_DECISIONS)[number];

const userObject = z
  .object(
    {
      authenticated: z.boolean().default(true),
      two_factor: z.boolean().default(false),
      /** Omitted: risk could not be assessed (decided as high). */
      risk: z.enum(['low', 'medium', 'high']).optional(),
      fresh: z.boolean().default(false),
      /** require_2fa: where a user without 2FA stands (omitted: over, as the sidecar fails closed). */
      grace: z.enum(['prompt', 'skipped', 'over', 'exempt']).optional(),
    },
    { error: 'must be anonymous, authenticated, or a mapping such as {authenticated: true, two_factor: true, risk: high, fresh: false}' },
  )
  .strict();

const userSchema = z.preprocess(
  (value) => (value === 'anonymous' ? { authenticated: false } : value === 'authenticated' ? { authenticated: true } : value),
  userObject,
);

/** `request: GET /doku.php?do=login` is the same as `method: GET` and `path: /doku.php?do=login`. */
function splitRequest(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || !('request' in value)) return value;
  const { request, ...rest } = value as Record<string, unknown>;
  if (typeof request !== 'string') return value;
  const m = /^\s*(\S+)\s+(\S+)\s*$/.exec(request);
  if (!m || 'method' in rest || 'path' in rest) return value;
  return { ...rest, method: m[1], path: m[2] };
}

const caseObject = z
  .object({
    name: z.string().optional(),
    method: z.string().regex(METHOD_PATTERN, { error: 'must be an upper-case HTTP method name such as GET' }),
    path: z.string().min(1, { error: 'must not be empty' }),
    host: z.string().min(1, { error: 'must not be empty' }).optional(),
    user: userSchema.optional(),
    expect: z
      .object({
        rule: z.string().optional(),
        decision: z.enum(EXPECTED_DECISIONS),
        action: z.enum(['email_code', 'fresh_code', 'phishing_resistant']).optional(),
        /** With two_factor_required: whether "Not now" is still offered. */
        grace: z.boolean().optional(),
        params: z.record(z.string(), z.string()).optional(),
        /** remember_browser: whether the policy lets a sign-in returning to this rule be remembered. */
        remember: z.boolean().optional(),
      })
      .strict()
      .superRefine((expect, ctx) => {
        if (expect.action !== undefined && expect.decision !== 'step_up_required') {
          ctx.addIssue({ code: 'custom', path: ['action'], message: 'must only be given with decision: step_up_required' });
        }
        if (expect.grace !== undefined && expect.decision !== 'two_factor_required') {
          ctx.addIssue({ code: 'custom', path: ['grace'], message: 'must only be given with decision: two_factor_required' });
        }
      }),
  })
  .strict();

const caseSchema = z.preprocess(splitRequest, caseObject);

export const policyTestFileSchema = z
  .object({
    policy: z.string().min(1, { error: 'must not be empty' }).optional(),
    cases: z.array(caseSchema).min(1, { error: 'must list at least one case' }),
  })
  .strict();

export type PolicyTestCase = z.output<typeof caseObject>;
