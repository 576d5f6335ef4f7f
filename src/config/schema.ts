import { parseCidr } from './cidr.ts';
import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from './duration.ts';
import { riskSchema } from './schema/risk.ts';
import { AUDIT_EVENTS } from './audit-events.ts';
import { alertsSchema } from './schema/alerts.ts';
import { FACILITIES, type Facility } from './syslog-facilities.ts';
import { COOKIE_NAME, regex, loginFailureSchema, loginLogoutSchema, loginSuccessSchema, loginUpstreamSchema } from './login-schema.ts';
import { AA_TEXT_CONTRAST, HEX_COLOUR, contrastRatio } from './contrast.ts';

/**
 * The one source of the configuration's shape: validation at start, `config check`, and the JSON
 * Schema editors use (`schema/config.schema.json`) all come from here. Unknown keys are errors
 * because a misspelt security setting silently falling back to its default is worse than a refusal.
 */


/** A same-origin path (not `//host` or `/\\host`) or an https URL without user:password; no spaces or controls. */
export function isForgotPasswordUrl(value: string): boolean {
  if (/[\s\u0000-\u001f\u007f]/.test(value)) return false;
  if (value.startsWith('/')) return /^\/(?![/\\])/.test(value);
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.username === '' && url.password === '' && url.hostname !== '';
  } catch {
    return false;
  }
}

export const duration = z
  .string()
  .regex(DURATION_PATTERN, 'must be a duration such as 500ms, 30s, 10m, 12h or 1d')
  .transform((text) => parseDuration(text) as number);

const port = z.number().int().min(0).max(65535);
const host = z.string().min(1);

/** A secret is never written in the config itself: it names an environment variable or a file. */
export const secretRef = z.union([
  z.object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name') }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);

/** Written once, in login-schema.ts; re-exported for the callers that build upstream routes. */
export { withQuery } from './login-schema.ts';

const cidr = z.string().refine((value) => {
  const [address, bits, extra] = value.split('/');
  if (extra !== undefined || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return Number.isInteger(n) && n >= 0 && n <= (family === 4 ? 32 : 128) && /^\d+$/.test(bits);
}, 'must be an IP address or CIDR range such as 10.0.0.0/8 or fd00::/8');

const headerPattern = z
  .string()
  .regex(/^[a-z0-9*!#$%&'+.^_`|~-]+$/, 'must be a lower-case header name, * allowed as a wildcard');

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. redis-0.redis:6379 or [::1]:6379');

/**
 * How to reach Redis: exactly one of `url` (standalone), `sentinel` or `cluster`. Credentials are
 * secret references, never inline: a password in `url` is refused, use `password` instead.
 */
export const redisSchema = z
  .object({
    /**
     * redis://host:port/db or rediss:// (TLS) for a standalone server; or a secret reference to such
     * a URL (GUARD_REDIS_URL becomes {env: GUARD_REDIS_URL}), which may then carry the password.
     */
    url: z
      .union([secretRef, z
      .string()
      .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
      .refine((value) => {
        try {
          return new URL(value).password === '';
        } catch {
          return false;
        }
      }, 'must be a valid URL without a password in it (use password: {env: …} or {file: …})')])
      .optional(),
    sentinel: z
      .object({
        /** The master group name the sentinels watch. */
        name: z.string().min(1),
        nodes: z.array(hostPort).min(1),
        password: secretRef.optional(),
        db: z.number().int().min(0).max(15).default(0),
      })
      .strict()
      .optional(),
    cluster: z.object({ nodes: z.array(hostPort).min(1) }).strict().optional(),
    /** ACL user (Redis 6+); goes with password. */
    username: z.string().min(1).optional(),
    password: secretRef.optional(),
    tls: z
      .object({
        /** PEM file of the CA that signed the server's certificate (default: the system's CAs). */
        ca: z.string().min(1).optional(),
        /** Client certificate and key (PEM files) for mutual TLS. */
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        servername: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /** Prepended to every key, so several deployments can share one Redis. */
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 letters, digits or _.:-')
      .default('spg:'),
    connect_timeout: duration.prefault('5s'),
    command_timeout: duration.prefault('1s'),
  })
  .strict()
  .refine((r) => [r.url, r.sentinel, r.cluster].filter((x) => x !== undefined).length === 1, {
    message: 'give exactly one of url, sentinel or cluster',
  })
  .refine((r) => r.username === undefined || r.password !== undefined, {
    message: 'username needs a password',
    path: ['password'],
  })
  .refine((r) => (r.tls?.cert === undefined) === (r.tls?.key === undefined), {
    message: 'cert and key go together',
    path: ['tls'],
  });

const channelSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('outbox') }).strict(),
  z
    .object({
      kind: z.literal('smtp'),
      host: z.string().min(1),
      port: port.default(587),
      /** true: TLS from the first byte (465); false: plain connection upgraded with STARTTLS. */
      secure: z.boolean().default(false),
      /** With secure: false, whether STARTTLS is required (default) or used only when offered. */
      starttls: z.enum(['required', 'opportunistic']).default('required'),
      user: z.string().min(1).optional(),
      password: secretRef.optional(),
      from: z.string().min(3),
      timeout: duration.prefault('10s'),
    })
    .strict()
    .refine((smtp) => (smtp.user === undefined) === (smtp.password === undefined), {
      message: 'user and password go together: give both or neither',
      path: ['password'],
    }),
  z
    .object({
      kind: z.literal('twilio'),
      account_sid: z.string().regex(/^AC[0-9a-fA-F]{32}$|^AC\w+$/, 'must be a Twilio account SID (AC…)'),
      auth_token: secretRef,
      from: z.string().min(1).optional(),
      messaging_service_sid: z.string().min(1).optional(),
      base_url: z.url().default('https://api.twilio.com'),
      timeout: duration.prefault('10s'),
    })
    .strict(),
  z
    .object({
      kind: z.literal('webhook'),
      url: z.url({ protocol: /^https?$/ }).refine((u) => {
        const url = new URL(u);
        return url.protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
      }, 'must be https:// (http:// only to localhost)'),
      /** HMAC-SHA256 signing secret (X-Guard-Signature). */
      secret: secretRef.optional(),
      headers: z.record(z.string(), z.string()).default({}),
      timeout: duration.prefault('10s'),
    })
    .strict(),
]);

const regexString = regex;

const appPath = z.string().regex(/^\/[^#]*$/, 'must be an absolute path of the app such as /account');

/** Where a value sits on an HTML page of the app. */
const htmlExtract = z
  .object({
    /** A CSS selector; the first matching element is used. */
    selector: z.string().min(1),
    /** Read this attribute (e.g. value, href) instead of the element's text. */
    attribute: z.string().min(1).optional(),
    /** A regular expression applied to the text/attribute; its first group (or the match) is the value. */
    pattern: regexString.optional(),
  })
  .strict();

/**
 * Where an account's email address and phone number come from (DESIGN §3). Optional: without it,
 * an account signed in by email gets codes at that address and the phone from login.profile.
 */
export const directorySchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('profile'),
      /** A JSON endpoint of the app, read with the user's upstream session. */
      path: appPath,
      /** Dotted paths into the JSON answer. */
      email_field: z.string().min(1).default('email'),
      phone_field: z.string().min(1).optional(),
      /** The field naming the signed-in account; when given, a profile of another account is refused. */
      identifier_field: z.string().min(1).optional(),
      /** Dotted path to the account's roles/groups (a list, or a comma-separated string), for require_2fa.roles. */
      roles_field: z.string().min(1).optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('html'),
      /** A page of the app, read with the user's upstream session. */
      path: appPath,
      email: htmlExtract.optional(),
      phone: htmlExtract.optional(),
      /** Where the page names the signed-in account; when given, a page of another account is refused. */
      identifier: htmlExtract.optional(),
      /** Where the page lists the account's roles/groups (comma-separated), for require_2fa.roles. */
      roles: htmlExtract.optional(),
    })
    .strict()
    .refine((d) => d.email !== undefined || d.phone !== undefined, { message: 'give email and/or phone: what to read from the page' }),
  z
    .object({
      kind: z.literal('sql'),
      driver: z.enum(['sqlite', 'postgres', 'mysql']),
      /** sqlite: the database file, relative to this config file; opened read-only, must exist. */
      file: z.string().min(1).optional(),
      /** postgres/mysql: a secret reference to the connection URL (postgres://… or mysql://…). */
      url: secretRef.optional(),
      /**
       * One SELECT returning at most one row with an `email` and/or `phone` column; the account is
       * the named parameter :identifier (bound, never interpolated).
       */
      query: z
        .string()
        .min(1)
        .refine((q) => /:identifier\b/.test(q), 'must use the parameter :identifier for the account')
        .refine((q) => /^\s*(select|with)\b/i.test(q), 'must be a SELECT (or WITH … SELECT) query')
        .refine((q) => !/;\s*\S/.test(q.replace(/'(?:[^']|'')*'/g, "''")), 'must be a single statement'),
      /** Per query (connect, statement). */
      timeout: duration.prefault('3s'),
      /** Connections kept at most (postgres/mysql). */
      pool: z.number().int().min(1).max(20).default(2),
      /** The query's column holding the account's roles/groups (comma-separated or a JSON array), for require_2fa.roles. */
      roles_column: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a column name (letters, digits, _)').optional(),
    })
    .strict()
    .superRefine((d, ctx) => {
      if (d.driver === 'sqlite') {
        if (d.file === undefined) ctx.addIssue({ code: 'custom', path: ['file'], message: 'driver: sqlite needs file: the database file' });
        if (d.url !== undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: 'driver: sqlite takes file:, not url:' });
      } else {
        if (d.url === undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: `driver: ${d.driver} needs url: {env: NAME} or {file: path} holding the connection URL` });
        if (d.file !== undefined) ctx.addIssue({ code: 'custom', path: ['file'], message: `driver: ${d.driver} takes url:, not file:` });
      }
    }),
]);

export const configSchema = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(1),
    listen: z
      .object({ host: host.default('127.0.0.1'), port: port.default(8080) })
      .strict()
      .default({ host: '127.0.0.1', port: 8080 }),
    /**
     * The admin listener (health, readiness, metrics, and the support API under /admin/). It has its
     * own port and never shares the public one.
     */
    admin: z
      .object({
        host: host.default('127.0.0.1'),
        port: port.default(9090),
        /**
         * Bearer tokens of the admin API, each named (the name is the audit actor `admin:<name>`).
         * Several at once make rotation possible: add the new one, deploy, remove the old one.
         * GUARD_ADMIN_TOKEN adds (or replaces) the token named `env`. No token: the admin API is off.
         */
        tokens: z
          .array(
            z
              .object({
                name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,39}$/, 'must be 1-40 lower-case letters, digits or _.- (it names the actor in the audit log)'),
                /** At least 32 characters (checked when the secret is read). */
                token: secretRef,
              })
              .strict(),
          )
          .default([])
          .refine((tokens) => new Set(tokens.map((t) => t.name)).size === tokens.length, 'token names must be unique'),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 9090, tokens: [] }),
    /** How browsers reach the sidecar; an https URL makes cookies Secure and __Host- prefixed. */
    public_url: z.url({ protocol: /^https?$/ }).optional(),
    upstream: z
      .object({
        url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
        connect_timeout: duration.prefault('5s'),
        /** Idle time without a byte from the upstream before the request is answered 504. */
        response_timeout: duration.prefault('60s'),
        max_sockets: z.number().int().min(1).max(65_536).default(256),
        /**
         * The part of max_sockets that requests without a full session (public routes) may hold at
         * once; the rest stays free for signed-in traffic, so anonymous clients cannot starve it.
         */
        anonymous_share: z.number().gt(0).max(1).default(0.5),
        /** A proxied request waiting this long for a free upstream socket is answered 503. */
        queue_timeout: duration.prefault('10s'),
      })
      .strict(),
    /**
     * What one client may hold on the public listener (THREATS T17): slow heads, slow bodies and
     * slow readers are cut, and one address gets a bounded share of connections and upstream requests.
     */
    limits: z
      .object({
        /** The whole request head must arrive within this (408). */
        headers_timeout: duration.refine((ms) => ms >= 100, 'must be at least 100ms').prefault('20s'),
        /**
         * Request bodies: the sidecar's own routes (16 KiB at most) must receive the whole body within
         * this; proxied bodies must deliver body_min_rate in every window of this length (408).
         */
        body_timeout: duration.refine((ms) => ms >= 100, 'must be at least 100ms').prefault('20s'),
        /** Bytes per second a proxied request body must average over each body_timeout window. */
        body_min_rate: z.number().int().min(1).max(1_000_000_000).default(500),
        /**
         * A client that accepts no byte of a response for this long is cut off. While the sidecar
         * waits for the client, the upstream's idle timeout (response_timeout) does not run.
         */
        send_timeout: duration.refine((ms) => ms >= 100, 'must be at least 100ms').prefault('60s'),
        /** Open connections per client address (IPv6: per /64); more are answered 429. */
        connections_per_address: z.number().int().min(1).max(1_000_000).default(256),
        /** Proxied requests in flight (or waiting) per client address (IPv6: per /64); more are answered 429. */
        upstream_requests_per_address: z.number().int().min(1).max(1_000_000).default(64),
      })
      .strict()
      .prefault({}),
    /** A policy file or a directory of *.yaml policy files. Relative to this config file. */
    policy: z.string().min(1),
    /** Peers whose X-Forwarded-* headers are believed. Everyone else's are discarded. */
    trusted_proxies: z.array(cidr).default([]),
    headers: z
      .object({
        /** Extra identity headers stripped from clients, on top of the built-in list. */
        strip: z.array(headerPattern).default([]),
        request_id: z.string().regex(/^[a-z0-9-]+$/).default('x-request-id'),
        /**
         * Framing protection added to upstream HTML responses that set neither X-Frame-Options nor
         * a CSP frame-ancestors (clickjacking): same_origin, deny, or off.
         */
        framing: z.enum(['same_origin', 'deny', 'off']).default('same_origin'),
        /**
         * A client's Authorization header reaches the upstream only when this is true: many legacy
         * apps (PHP wikis, Basic-auth admin areas) sign in whoever sends Basic credentials, which
         * would pass the sidecar's sign-in and second factor unseen.
         */
        forward_authorization: z.boolean().default(false),
      })
      .strict()
      .default({ strip: [], request_id: 'x-request-id', framing: 'same_origin', forward_authorization: false }),
    session: z
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
      .strict(),
    login: z
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
      .strict(),
    directory: directorySchema.optional(),
    regulation: z
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
      .prefault({}),
    /**
     * Where state lives. `embedded` (one process): ephemeral state in memory, durable records
     * (2FA enrollments, encrypted secrets, recovery codes, known devices, audit) in SQLite.
     * `redis` (several replicas): everything in Redis. GUARD_REDIS_URL selects redis with that URL.
     */
    store: z
      .object({
        kind: z.enum(['embedded', 'redis']).default('embedded'),
        /** SQLite file for the durable records, relative to this config file. */
        sqlite: z.string().min(1).default('../var/guard.db'),
        redis: redisSchema.optional(),
      })
      .strict()
      .prefault({})
      .refine((store) => store.kind !== 'redis' || store.redis !== undefined, {
        message: 'kind: redis needs a redis section (url, sentinel or cluster) or GUARD_REDIS_URL',
        path: ['redis'],
      }),
    product: z
      .object({
        name: z.string().min(1).max(60).default('SmartPush'),
        /** Shown on pages and in notifications: how to reach support (lost device, new phone). */
        support: z.string().min(1).max(200).default('your SmartPush administrator'),
        /**
         * A logo shown at the top of every page: a PNG, SVG or JPEG file of at most 256 KiB, its
         * path relative to this config file. The sidecar serves it as /_guard/assets/logo.
         */
        logo: z.string().min(1).max(1024).optional(),
        /**
         * Buttons and links, as #rrggbb. White button text must stay readable on it (WCAG AA,
         * contrast 4.5:1), so a light colour is refused.
         */
        primary_color: z
          .string()
          .regex(HEX_COLOUR, 'must be a colour as #rrggbb, e.g. #2563eb')
          .superRefine((c, ctx) => {
            if (!HEX_COLOUR.test(c)) return;
            const ratio = contrastRatio(c, '#ffffff');
            if (ratio < AA_TEXT_CONTRAST) {
              ctx.addIssue({ code: 'custom', message: `white text on ${c} has a contrast of ${ratio.toFixed(2)}:1, below the 4.5:1 WCAG AA needs; choose a darker colour` });
            }
          })
          .default('#2563eb'),
      })
      .strict()
      .prefault({}),
    factors: z
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
      .strict(),
    /**
     * Passkeys / security keys (WebAuthn) as a second factor. The relying party: `origins` the
     * browser may report (default: public_url's origin; without either, only http://localhost:PORT
     * works), `rp_id` (default: the first origin's host; must be that host or a parent domain of
     * every origin, never an IP address), `rp_name` (shown by the authenticator; default: product.name).
     */
    webauthn: z
      .object({
        enabled: z.boolean().default(true),
        rp_id: z.string().regex(/^(?=.*[a-z])[a-z0-9.-]{1,253}$/i, 'must be a domain name such as example.com (not an IP address)').optional(),
        rp_name: z.string().min(1).max(64).optional(),
        origins: z.array(z.url({ protocol: /^https?$/ }).refine((u) => new URL(u).origin === u.replace(/\/$/, ''), 'must be an origin (scheme://host[:port], no path)')).min(1).optional(),
      })
      .strict()
      .prefault({}),
    channels: z
      .object({
        /** The outbox (development and demo): JSON lines plus a console line per message. */
        outbox_file: z.string().min(1).default('../var/outbox.jsonl'),
        email: channelSchema,
        /** Needed only when sms is one of factors.methods. */
        sms: channelSchema.optional(),
      })
      .strict(),
    /**
     * Risk scoring (src/risk/): parsed and validated now; the enforcement point applies it once
     * risk-based verification and step-up land.
     */
    risk: riskSchema,
    shutdown_grace: duration.prefault('10s'),
    /**
     * `serve` worker processes on the one port (node:cluster; src/server/cluster.ts). Absent: one per
     * core (os.availableParallelism()); 1: a single process. `serve --workers N` and GUARD_WORKERS win.
     */
    workers: z.number().int().min(1).max(1024).optional(),
    /**
     * Hot reload of the policy files (issue 14 item 14): a change is reloaded once the files have
     * stayed the same (size, mtime, content) for `settle`, so a file rewritten in place in several
     * writes is never put in force half-written; a watched change that weakens a sensitive rule is
     * held until SIGHUP confirms it when `hold_weakening` is on.
     */
    policy_reload: z
      .object({
        settle: duration.refine((ms) => ms >= 100 && ms <= 60_000, 'must be between 100ms and 60s').prefault('2s'),
        hold_weakening: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /**
     * The audit trail (who signed in, from where, which code was sent and verified, what changed).
     * Records are always kept in the durable store for the admin API (SQLite, or Redis with several
     * replicas), and also written as JSON lines to `file` and/or stdout.
     */
    audit: z
      .object({
        /** JSON-lines audit log (mode 0600, appended), relative to this config file. */
        file: z.string().min(1).optional(),
        /** Also write each record to stdout, marked `"audit": true` (containers ship stdout). */
        stdout: z.boolean().default(false),
        /** How long the durable store keeps records for queries (the file is never pruned). */
        retention: duration.refine((ms) => ms >= 3_600_000, 'must be at least 1h').prefault('90d'),
      })
      .strict()
      .prefault({}),
    /**
     * Forward-auth for an ingress that proxies itself (nginx auth_request, Traefik/Caddy forwardAuth,
     * Envoy ext_authz): README "Forward-auth". Off unless enabled; then `trusted` is required.
     */
    forward_auth: z
      .object({
        enabled: z.boolean().default(false),
        /** The ingress addresses (CIDR) whose description of the original request is believed. */
        trusted: z.array(cidr).default([]),
        /** Response header naming the signed-in account (the ingress passes it to the app). */
        user_header: z.string().regex(/^[A-Za-z0-9-]+$/).default('X-Auth-User'),
        /** Response header with the app's session cookie(s) bound to the sidecar session (the ingress sends it as Cookie). */
        upstream_cookie_header: z.string().regex(/^[A-Za-z0-9-]+$/).default('X-Auth-Upstream-Cookie'),
      })
      .strict()
      .prefault({})
      .refine((f) => !f.enabled || f.trusted.length > 0, { message: 'forward_auth.enabled needs forward_auth.trusted: the ingress addresses whose headers are believed', path: ['trusted'] }),
    /**
     * Security events pushed as they happen (README "Security event stream"): a signed webhook and
     * syslog (RFC 5424). Queued and retried; a receiver that is down never blocks a sign-in.
     */
    events: z
      .object({
        webhook: z
          .object({
            /** https, or http to a loopback address. */
            url: z.url(),
            /** HMAC-SHA256 key of X-Guard-Signature (strongly advised). */
            secret: secretRef.optional(),
            /** Extra headers (e.g. the collector's Authorization). */
            headers: z.record(z.string(), z.string().max(4096).regex(/^[^\r\n]*$/, 'must be one line')).default({}),
            timeout: duration.prefault('5s'),
            batch_size: z.number().int().min(1).max(1000).default(100),
            queue_size: z.number().int().min(1).max(1_000_000).default(10_000),
            max_attempts: z.number().int().min(1).max(100).default(10),
            /** Only these events (default: every one). */
            events: z.array(z.enum(AUDIT_EVENTS)).min(1).optional(),
          })
          .strict()
          .optional(),
        syslog: z
          .object({
            transport: z.enum(['udp', 'tcp', 'tls']).default('udp'),
            host: z.string().min(1),
            /** Default 514 (udp, tcp) or 6514 (tls). */
            port: z.number().int().min(1).max(65535).optional(),
            facility: z.enum(Object.keys(FACILITIES) as [Facility, ...Facility[]]).default('authpriv'),
            app_name: z.string().regex(/^[\x21-\x7e]{1,48}$/, 'must be 1-48 printable ASCII characters without spaces').default('smartpush-guard'),
            /** PEM file of the collector's CA for tls (default: the system's roots), relative to this config file. */
            ca_file: z.string().min(1).optional(),
            timeout: duration.prefault('5s'),
            queue_size: z.number().int().min(1).max(1_000_000).default(10_000),
            max_attempts: z.number().int().min(1).max(100).default(10),
            events: z.array(z.enum(AUDIT_EVENTS)).min(1).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({}),
    /**
     * OpenTelemetry traces over OTLP/HTTP (README "Tracing"). Off unless otlp_endpoint is set; the
     * SDK is not even loaded then.
     */
    tracing: z
      .object({
        /** The collector's OTLP/HTTP URL (e.g. http://otel-collector:4318); /v1/traces is added unless the path ends with it. */
        otlp_endpoint: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
        service_name: z.string().min(1).max(255).default('smartpush-guard'),
        /** Share of new traces recorded (0..1); a trusted proxy's sampled flag is followed as it is. */
        sample_ratio: z.number().min(0).max(1).default(1),
        /** Headers sent with every export, e.g. the collector's authorization (a value may be {env} or {file}). */
        headers: z
          .record(
            z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be a header name'),
            z.union([z.string().max(4096).regex(/^[^\r\n]*$/, 'must be one line'), secretRef]),
          )
          .default({}),
        /** False: spans carry the rule but not the request path (for apps that put tokens in paths). */
        record_path: z.boolean().default(true),
        /** How long one export may take before it is given up. */
        timeout: duration.prefault('10s'),
      })
      .strict()
      .prefault({}),
    /** Security alerts to the account owner by email (and SMS): README "Security alerts". */
    alerts: alertsSchema,
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .default({ level: 'info' }),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.factors.methods.includes('sms') && c.channels.sms === undefined) {
      ctx.addIssue({ code: 'custom', path: ['channels', 'sms'], message: 'sms is one of factors.methods, so channels.sms is required (kind: twilio, webhook or outbox); or remove sms from factors.methods' });
    }
    if (c.directory !== undefined && c.login.profile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['login', 'profile'], message: 'give either directory: or login.profile (the older spelling of directory: {kind: profile}), not both' });
    }
  });

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;

/** Checks an address against the trusted proxy list with Node's own CIDR matcher. */
export function trustedProxyList(ranges: readonly string[]): BlockList {
  const list = new BlockList();
  for (const range of ranges) {
    const [address, bits] = range.split('/') as [string, string | undefined];
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

export function configJsonSchema(): unknown {
  return z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12' });
}
