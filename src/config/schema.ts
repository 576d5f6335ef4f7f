import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from '../policy/duration.ts';

/**
 * The one source of the configuration's shape: validation at start, `config check`, and the JSON
 * Schema editors use (`schema/config.schema.json`) all come from here. Unknown keys are errors
 * because a misspelt security setting silently falling back to its default is worse than a refusal.
 */

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

export const configSchema = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(1),
    listen: z
      .object({ host: host.default('127.0.0.1'), port: port.default(8080) })
      .strict()
      .default({ host: '127.0.0.1', port: 8080 }),
    admin: z
      .object({ host: host.default('127.0.0.1'), port: port.default(9090) })
      .strict()
      .default({ host: '127.0.0.1', port: 9090 }),
    /** How browsers reach the sidecar; an https URL makes cookies Secure and __Host- prefixed. */
    public_url: z.url({ protocol: /^https?$/ }).optional(),
    upstream: z
      .object({
        url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
        connect_timeout: duration.prefault('5s'),
        /** Idle time without a byte from the upstream before the request is answered 504. */
        response_timeout: duration.prefault('60s'),
        max_sockets: z.number().int().min(1).max(65_536).default(256),
      })
      .strict(),
    /** A policy file or a directory of *.yaml policy files. Relative to this config file. */
    policy: z.string().min(1),
    /** Peers whose X-Forwarded-* headers are believed. Everyone else's are discarded. */
    trusted_proxies: z.array(cidr).default([]),
    headers: z
      .object({
        /** Extra identity headers stripped from clients, on top of the built-in list. */
        strip: z.array(headerPattern).default([]),
        request_id: z.string().regex(/^[a-z0-9-]+$/).default('x-request-id'),
      })
      .strict()
      .default({ strip: [], request_id: 'x-request-id' }),
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
      })
      .strict(),
    login: z
      .object({
        /** Where and how the sidecar replays credentials to the upstream. */
        upstream: z
          .object({
            path: z.string().regex(/^\/[^?#]*$/, 'must be an absolute path such as /login'),
            encoding: z.enum(['form', 'json']).default('form'),
            fields: z
              .object({ email: z.string().min(1).default('email'), password: z.string().min(1).default('password') })
              .strict()
              .prefault({}),
            timeout: duration.prefault('10s'),
          })
          .strict(),
        /** What an accepted login looks like: every listed condition must hold. */
        success: z
          .object({
            status: z.array(z.number().int().min(100).max(599)).min(1).default([302, 303]),
            location: z
              .string()
              .refine((v) => {
                try {
                  new RegExp(v);
                  return true;
                } catch {
                  return false;
                }
              }, 'must be a valid regular expression')
              .optional(),
            cookie: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'must be a cookie name'),
          })
          .strict(),
        /** Content types accepted on intercepted upstream login forms (others get 415). */
        accept: z.array(z.enum(['form', 'json'])).min(1).default(['form', 'json']),
        /** The upstream's logout route, replayed server-side when a user logs out. */
        logout: z
          .object({ path: z.string().regex(/^\/[^?#]*$/), method: z.enum(['GET', 'POST']).default('GET') })
          .strict()
          .optional(),
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
        /** Where people land after signing in when no return_to was given. */
        landing: z.string().regex(/^\/(?![/\\])/, 'must be a path on this site').default('/'),
        /** Every login answer takes at least this long, so timing tells nothing about accounts. */
        min_response_time: duration.prefault('250ms'),
      })
      .strict(),
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
      })
      .strict()
      .prefault({}),
    shutdown_grace: duration.prefault('10s'),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

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
