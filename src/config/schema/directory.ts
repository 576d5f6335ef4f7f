import { z } from 'zod';
import { regex } from '../login-schema.ts';
import { appPath, duration, secretRef } from './primitives.ts';

/** Where a value sits on an HTML page of the app. */
const htmlExtract = z
  .object({
    /** A CSS selector; the first matching element is used. */
    selector: z.string().min(1),
    /** Read this attribute (e.g. value, href) instead of the element's text. */
    attribute: z.string().min(1).optional(),
    /** A regular expression applied to the text/attribute; its first group (or the match) is the value. */
    pattern: regex.optional(),
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
