import { z } from 'zod';
import { duration, port, secretRef } from './primitives.ts';

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

export const channelsSchema = z
  .object({
    /** The outbox (development and demo): JSON lines plus a console line per message. */
    outbox_file: z.string().min(1).default('../var/outbox.jsonl'),
    email: channelSchema,
    /** Needed only when sms is one of factors.methods. */
    sms: channelSchema.optional(),
  })
  .strict();
