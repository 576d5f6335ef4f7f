import { z } from 'zod';
import { parseCidr } from '../cidr.ts';
import { COOKIE_NAME, loginFailureSchema, loginLogoutSchema, loginSuccessSchema, loginUpstreamSchema } from '../login-schema.ts';
import { duration, isForgotPasswordUrl, secretRef } from './primitives.ts';

export const sessionSchema = z
  .object({
    /**
     * iron-session passwords (32+ characters each): a JSON object {"2": "...", "1": "..."} for
     * rotation (the highest id seals, all unseal) or a single password.
     */
    keys: secretRef,
    idle_timeout: duration.prefault('30m'),
    absolute_lifetime: duration.prefault('12h'),
    same_site: z.enum(['lax', 'strict']).default('lax'),
    /**
     * Names for networks "My sessions" shows beside a session's sign-in network (there is no
     * GeoIP database): the first listed CIDR holding the sign-in address gives its label.
     */
    networks: z
      .array(
        z
          .object({
            cidr: z.string().refine((v) => parseCidr(v) !== null, 'must be a network in CIDR form, such as 203.0.113.0/24 or 2001:db8::/32'),
            label: z.string().min(1).max(80),
          })
          .strict(),
      )
      .max(1000)
      .default([]),
  })
  .strict();

export const loginSchema = z
  .object({
    /** Where and how the sidecar replays credentials to the upstream (src/config/login-schema.ts). */
    upstream: loginUpstreamSchema,
    /** What an accepted login looks like: every listed condition must hold. */
    success: loginSuccessSchema,
    /** What a wrong password looks like; any other answer is an upstream error. */
    failure: loginFailureSchema.optional(),
    /**
     * Every upstream cookie that belongs to the session (withheld, bound server-side, never taken
     * from a client); default: the success cookie(s). PHP apps often need more than one.
     */
    session_cookies: z.array(z.string().regex(COOKIE_NAME, 'must be a cookie name')).min(1).optional(),
    /** Content types accepted on intercepted upstream login forms (others get 415). */
    accept: z.array(z.enum(['form', 'json'])).min(1).default(['form', 'json']),
    /** The upstream's logout: observed when the browser posts it, replayed when a user signs out here. */
    logout: loginLogoutSchema.optional(),
    /**
     * The upstream's profile endpoint (JSON), read with the user's upstream session: it tells
     * which account an upstream session belongs to (and, later, the phone number).
     */
    profile: z
      .object({
        path: z.string().regex(/^\/[^#]*$/, 'must be an absolute path such as /api/me'),
        email_field: z.string().min(1).default('email'),
        phone_field: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /**
     * What people sign in with: the app's own identifier. `email` (default) sends codes to it;
     * `username` takes the email/phone from the directory.
     */
    identifier: z.enum(['email', 'username']).default('email'),
    /** Usernames only: `insensitive` when the app treats Admin and admin as one account. */
    identifier_case: z.enum(['sensitive', 'insensitive']).default('sensitive'),
    /** Where people land after signing in when no return_to was given. */
    landing: z.string().regex(/^\/(?![/\\])/, 'must be a path on this site').default('/'),
    /**
     * The app's own "Forgot password?" page, linked from the sign-in page: a path on this site or
     * an absolute https:// URL (the sidecar never resets passwords; the app does).
     */
    forgot_password_url: z
      .string()
      .max(2000)
      .refine(isForgotPasswordUrl, 'must be a path on this site (such as /password/reset) or an absolute https:// URL without credentials')
      .optional(),
    /** Every login answer takes at least this long, so timing tells nothing about accounts. */
    min_response_time: duration.prefault('250ms'),
  })
  .strict();

export const regulationSchema = z
  .object({
    account: z
      .object({
        max_failures: z.number().int().min(1).max(100).default(3),
        window: duration.prefault('2m'),
        ban: duration.prefault('5m'),
        max_ban: duration.prefault('24h'),
      })
      .strict()
      .prefault({}),
    address: z
      .object({
        max_failures: z.number().int().min(1).max(10_000).default(20),
        window: duration.prefault('2m'),
        ban: duration.prefault('5m'),
        max_ban: duration.prefault('24h'),
      })
      .strict()
      .prefault({}),
    /**
     * Account-wide, failures from unknown devices only slow sign-in down (THREATS T21): after
     * `after` failures in `window`, one attempt per `delay`, doubling with each further failure
     * up to `max_delay`. A known device is never slowed.
     */
    throttle: z
      .object({
        after: z.number().int().min(1).max(10_000).default(10),
        window: duration.prefault('15m'),
        delay: duration.prefault('1s'),
        max_delay: duration.refine((ms) => ms <= 5 * 60_000, 'must be at most 5m (a delay, not a ban)').prefault('30s'),
      })
      .strict()
      .prefault({}),
    /** The owner is emailed about failed attempts on the account at most once per this long. */
    notify_every: duration.prefault('6h'),
  })
  .strict()
  .prefault({});
