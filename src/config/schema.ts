import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { riskSchema } from './schema/risk.ts';
import { alertsSchema } from './schema/alerts.ts';
import { AA_TEXT_CONTRAST, HEX_COLOUR, contrastRatio } from './contrast.ts';
import { cidr, duration } from './schema/primitives.ts';
import { adminSchema, forwardAuthSchema, headersSchema, limitsSchema, listenSchema, upstreamSchema } from './schema/listeners.ts';
import { loginSchema, regulationSchema, sessionSchema } from './schema/session.ts';
import { directorySchema } from './schema/directory.ts';
import { storeSchema } from './schema/store.ts';
import { factorsSchema, webauthnSchema } from './schema/factors.ts';
import { channelsSchema } from './schema/channels.ts';
import { auditSchema, eventsSchema, logSchema, tracingSchema } from './schema/observability.ts';

/**
 * The one source of the configuration's shape: validation at start, `config check`, and the JSON
 * Schema editors use (`schema/config.schema.json`) all come from here (each section in schema/<section>.ts). Unknown keys are errors because a
 * misspelt security setting silently falling back to its default is worse than a refusal.
 */

export const configSchema = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(1),
    listen: listenSchema,
    admin: adminSchema,
    /** How browsers reach the sidecar; an https URL makes cookies Secure and __Host- prefixed. */
    public_url: z.url({ protocol: /^https?$/ }).optional(),
    upstream: upstreamSchema,
    limits: limitsSchema,
    /** A policy file or a directory of *.yaml policy files. Relative to this config file. */
    policy: z.string().min(1),
    /** Peers whose X-Forwarded-* headers are believed. Everyone else's are discarded. */
    trusted_proxies: z.array(cidr).default([]),
    headers: headersSchema,
    session: sessionSchema,
    login: loginSchema,
    directory: directorySchema.optional(),
    regulation: regulationSchema,
    store: storeSchema,
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
    factors: factorsSchema,
    webauthn: webauthnSchema,
    channels: channelsSchema,
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
    audit: auditSchema,
    forward_auth: forwardAuthSchema,
    events: eventsSchema,
    tracing: tracingSchema,
    /** Security alerts to the account owner by email (and SMS): README "Security alerts". */
    alerts: alertsSchema,
    log: logSchema,
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