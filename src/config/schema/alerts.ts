import { z } from 'zod';
import { duration } from './primitives.ts';
import { LANGUAGES } from '../../i18n/language.ts';

/**
 * Config `alerts:` — security alerts to the account owner on another channel (README "Security
 * alerts"). Every kind can be switched off on its own; every alert is rate-limited per account and
 * kind so that nobody can flood an inbox by triggering events.
 */
const on = z.boolean().default(true);

export const alertsSchema = z
  .object({
    /** False: no security alert is sent at all; the flows then send their own English notification emails (README "What the owner is told"). */
    enabled: z.boolean().default(true),
    events: z
      .object({
        /** A sign-in from a browser (device id) or network (/24, /48) the account has not used before. */
        new_browser: on,
        /** Two-factor authentication turned on or off, recovery codes replaced (and, later, other factors). */
        factor_changed: on,
        /** A recovery code was used to sign in or verify. */
        recovery_code_used: on,
        /** After a recovery code was used, at most `recovery_codes_low_threshold` are left. */
        recovery_codes_low: on,
        /** Sign-in or the second factor was paused or slowed after repeated failures. */
        lockout: on,
        /** Support reset 2FA, changed the destination, ended the sessions or lifted a lock-out. */
        support_action: on,
      })
      .strict()
      .prefault({}),
    /** "Recovery codes running low" when this many or fewer are left after one was used. */
    recovery_codes_low_threshold: z.number().int().min(0).max(20).default(2),
    /** Per account and kind: at most `max` alerts in each `window`; further ones are dropped (logged, counted). */
    rate_limit: z
      .object({
        window: duration.prefault('15m'),
        max: z.number().int().min(1).max(100).default(3),
      })
      .strict()
      .prefault({}),
    /** Also send the alert by text message to the enrolled phone when SMS is the account's method. */
    sms: z.boolean().default(true),
    /** The language of an account whose language is not known yet (it is learnt at each sign-in). */
    default_language: z.enum(LANGUAGES).default('en'),
    /**
     * The Login & Security page named in the alert's "this wasn't me" advice. Default: `public_url`
     * + `/_guard/security`, or the path alone when public_url is not set.
     */
    security_url: z.url({ protocol: /^https?$/ }).optional(),
    /** How to reach support, in the alert; default: product.support. */
    support: z.string().min(1).max(200).optional(),
    /** Alerts waiting to be sent; when full, new ones are dropped (logged, counted): sending never holds a request. */
    queue_size: z.number().int().min(1).max(100_000).default(1000),
  })
  .strict()
  .prefault({});

export type AlertsConfig = z.output<typeof alertsSchema>;
