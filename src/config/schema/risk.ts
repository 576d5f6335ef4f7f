/**
 * The `risk:` block of the configuration: how much each risk signal weighs, the parameters of the
 * signals that count something, the networks the operator calls risky or trusted, how much login
 * history is compared, and the score thresholds of the levels.
 *
 *   risk:
 *     signals:
 *       unknown_device: { weight: 40 }
 *       new_network: { weight: 25 }
 *       recent_login_failures: { weight: 20, threshold: 3, window: 1h }
 *       recent_verification_failures: { weight: 20, threshold: 3, window: 1h }
 *       sensitive_burst: { weight: 60, max: 3, window: 10m }
 *       user_agent_change: { weight: 15 }
 *       risky_network: { weight: 50 }
 *       trusted_network: { weight: -30 }
 *     unevaluable_weight: 50
 *     networks: { risky: [203.0.113.0/24], trusted: [10.0.0.0/8] }
 *     history: { logins: 10 }
 *     levels: { medium: 30, high: 60 }
 *
 * The defaults give the demo's behaviour: a new browser on its first login scores 40 (medium: an
 * email code at login), and a fourth export within 10 minutes scores 60 (high).
 *
 * Unknown keys are errors, like everywhere else in the configuration: a misspelt weight silently
 * falling back to its default would make the engine quietly more lenient than the operator wrote.
 */
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from '../duration.ts';
import { isCidr } from './primitives.ts';

/** Every signal the engine knows, in the order assessments report them. */
export const RISK_SIGNALS = [
  'unknown_device',
  'new_network',
  'risky_network',
  'trusted_network',
  'recent_login_failures',
  'recent_verification_failures',
  'sensitive_burst',
  'user_agent_change',
] as const;
export type RiskSignalName = (typeof RISK_SIGNALS)[number];

/** A duration such as `10m`, read as milliseconds; zero is refused (an empty window counts nothing). */
const duration = z
  .string({ error: 'must be a duration such as 30s, 10m, 1h or 1d' })
  .regex(DURATION_PATTERN, { error: 'must be a duration such as 30s, 10m, 1h or 1d (an integer and one of ms, s, m, h, d)' })
  .transform((text) => parseDuration(text) as number)
  .refine((ms) => ms > 0, { error: 'must be longer than 0' });

/** An IP address or CIDR range: the same rule as `trusted_proxies`, with this block's own example. */
const cidr = z
  .string()
  .refine(isCidr, { error: 'must be an IP address or CIDR range such as 203.0.113.0/24 or 2001:db8::/48' });

const MAX_WEIGHT = 1000;
/** A signal that raises the score: 0 switches it off. */
const raisingWeight = z
  .number()
  .int({ error: 'must be a whole number' })
  .min(0, { error: 'must be 0 (off) or more: only trusted_network lowers the score' })
  .max(MAX_WEIGHT);
/** The trusted-network signal lowers the score: 0 switches it off. */
const loweringWeight = z
  .number()
  .int({ error: 'must be a whole number' })
  .min(-MAX_WEIGHT)
  .max(0, { error: 'must be 0 (off) or negative: a trusted network lowers the score' });

const plain = (weight: number) =>
  z
    .object({ weight: raisingWeight.default(weight) })
    .strict()
    .prefault({});

const failures = (weight: number, threshold: number, window: string, what: string) =>
  z
    .object({
      weight: raisingWeight.default(weight),
      threshold: z
        .number()
        .int()
        .min(1)
        .max(10_000)
        .default(threshold)
        .describe(`Fires when at least this many ${what} happened within the window.`),
      window: duration.prefault(window).describe(`How far back ${what} are counted.`),
    })
    .strict()
    .prefault({});

export const riskSchema = z
  .object({
    signals: z
      .object({
        unknown_device: plain(40).describe('The request carries no device cookie this account has signed in with before.'),
        new_network: plain(25).describe("The client's network (/24 for IPv4, /48 for IPv6) is not among the account's last logins."),
        risky_network: plain(50).describe('The client address is in networks.risky.'),
        trusted_network: z
          .object({ weight: loweringWeight.default(-30) })
          .strict()
          .prefault({})
          .describe('The client address is in networks.trusted (and not in networks.risky). Lowers the score, never below 0.'),
        recent_login_failures: failures(20, 3, '1h', 'failed logins of the account'),
        recent_verification_failures: failures(20, 3, '1h', 'wrong verification codes of the account'),
        sensitive_burst: z
          .object({
            weight: raisingWeight.default(60),
            max: z
              .number()
              .int()
              .min(1)
              .max(10_000)
              .default(3)
              .describe('Fires when the account made more than this many sensitive operations (this one included) within the window.'),
            window: duration.prefault('10m'),
          })
          .strict()
          .prefault({}),
        user_agent_change: plain(15).describe("The browser or OS family differs from the account's previous login."),
      })
      .strict()
      .prefault({}),
    unevaluable_weight: z
      .number()
      .int()
      .min(0)
      .max(MAX_WEIGHT)
      .default(50)
      .describe('The weight a risk-raising signal counts with when it could not be evaluated (fail safe).'),
    networks: z
      .object({
        risky: z.array(cidr).default([]).describe('Networks whose clients are risky. An address also listed as trusted counts as risky.'),
        trusted: z.array(cidr).default([]).describe('Networks whose clients are trusted (office, VPN egress).'),
      })
      .strict()
      .prefault({}),
    history: z
      .object({
        logins: z
          .number()
          .int()
          .min(1)
          .max(100)
          .default(10)
          .describe('How many of the latest logins of an account the client network is compared with.'),
      })
      .strict()
      .prefault({}),
    levels: z
      .object({
        medium: z.number().int().min(1).max(MAX_WEIGHT * 10).default(30).describe('A score at least this high is medium risk.'),
        high: z.number().int().min(1).max(MAX_WEIGHT * 10).default(60).describe('A score at least this high is high risk.'),
      })
      .strict()
      .refine((levels) => levels.high > levels.medium, { error: 'high must be greater than medium', path: ['high'] })
      .prefault({}),
  })
  .strict()
  .prefault({})
  .describe('Risk scoring: signal weights, networks, login history and level thresholds.');

/** The `risk:` block as written (defaults not applied, durations as text). */
export type RiskConfigInput = NonNullable<z.input<typeof riskSchema>>;
/** The validated `risk:` block: defaults applied, windows in milliseconds. */
export type RiskConfig = z.output<typeof riskSchema>;

/** The configuration an absent `risk:` block stands for. */
export function defaultRiskConfig(): RiskConfig {
  return riskSchema.parse(undefined);
}

/** JSON Schema (draft 2020-12) of the `risk:` block as written, for editors. */
export function riskJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(riskSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
}
