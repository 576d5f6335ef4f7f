import { z } from 'zod';
import { duration, secretRef } from './primitives.ts';

export const factorsSchema = z
  .object({
    /**
     * AES-256-GCM keys for TOTP secrets at rest (and the key material code hashes derive
     * from): JSON {"1": "<base64 of 32 bytes>"}; the highest id encrypts, all decrypt.
     */
    encryption_keys: secretRef,
    /** Methods merchants may enable, strongest first. */
    methods: z.array(z.enum(['totp', 'sms', 'email'])).min(1).default(['totp', 'sms', 'email']),
    /** Issuer shown in authenticator apps. */
    issuer: z.string().min(1).max(60).default('SmartPush'),
    code_lifetime: duration.refine((ms) => ms >= 60_000 && ms <= 600_000, 'must be between 1m and 10m (NIST 800-63B)').prefault('5m'),
    code_attempts: z.number().int().min(1).max(10).default(5),
    resend_cooldown: duration.prefault('60s'),
    /** A password verified this recently is not asked again to start enabling 2FA. */
    reauth_window: duration.prefault('5m'),
    /** "Not now" on the invitation to enable 2FA after a step-up is remembered this long. */
    nudge_snooze: duration.prefault('7d'),
    /**
     * "Don't ask again on this browser" after a sign-in's second factor (issue 17): a
     * rotating, revocable, device-bound record per browser. Never skips a step-up.
     */
    remember_browser: z
      .object({
        enabled: z.boolean().default(true),
        /** How long a remembered browser skips the sign-in second factor. */
        days: z.number().int().min(1).max(90).default(30),
      })
      .strict()
      .prefault({}),
    /** How long a pending sign-in (password done, code not yet) may wait. */
    pending_login: duration.refine((ms) => ms <= 30 * 60_000, 'must be at most 30m').prefault('10m'),
    /** Consecutive wrong codes per account, across every factor (NIST: at most 100). */
    failures: z
      .object({
        max_failures: z.number().int().min(1).max(100).default(10),
        window: duration.prefault('15m'),
        ban: duration.prefault('15m'),
        max_ban: duration.prefault('24h'),
        /**
         * Consecutive wrong codes (across windows) after which the account's second factor is
         * locked until a correct code... which it can no longer give: support unlocks it, or
         * it unlocks 30 days after the last failure. NIST 800-63B allows at most 100.
         */
        lockout_after: z.number().int().min(1).max(100).default(50),
      })
      .strict()
      .prefault({}),
    /** ISO 3166 country codes SMS may be sent to; omit for every country. */
    sms_countries: z.array(z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166 alpha-2 code such as US')).min(1).optional(),
    send_budget: z
      .object({
        per_account: z.object({ max: z.number().int().min(1), window: duration }).strict().prefault({ max: 10, window: '1h' }),
        per_destination: z.object({ max: z.number().int().min(1), window: duration }).strict().prefault({ max: 3, window: '10m' }),
        per_address: z.object({ max: z.number().int().min(1), window: duration }).strict().prefault({ max: 20, window: '1h' }),
        global: z.object({ max: z.number().int().min(1), window: duration }).strict().prefault({ max: 1000, window: '1h' }),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/**
 * Passkeys / security keys (WebAuthn) as a second factor. The relying party: `origins` the
 * browser may report (default: public_url's origin; without either, only http://localhost:PORT
 * works), `rp_id` (default: the first origin's host; must be that host or a parent domain of
 * every origin, never an IP address), `rp_name` (shown by the authenticator; default: product.name).
 */
export const webauthnSchema = z
  .object({
    enabled: z.boolean().default(true),
    rp_id: z.string().regex(/^(?=.*[a-z])[a-z0-9.-]{1,253}$/i, 'must be a domain name such as example.com (not an IP address)').optional(),
    rp_name: z.string().min(1).max(64).optional(),
    origins: z.array(z.url({ protocol: /^https?$/ }).refine((u) => new URL(u).origin === u.replace(/\/$/, ''), 'must be an origin (scheme://host[:port], no path)')).min(1).optional(),
  })
  .strict()
  .prefault({});
