import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from './duration.ts';

/**
 * How the sidecar replays a sign-in (and a sign-out) to the upstream as a browser would submit it
 * (DESIGN §2): the login page fetched first in the pending login's own cookie jar, the form's hidden
 * fields copied, the answer judged by a success and a failure signal. Anything that matches neither
 * is an upstream error, never a wrong password.
 */

const duration = z
  .string()
  .regex(DURATION_PATTERN, 'must be a duration such as 500ms, 30s, 10m, 12h or 1d')
  .transform((text) => parseDuration(text) as number);

/** A string that compiles as a regular expression (also the config's other patterns). */
export const regex = z.string().refine((v) => {
  try {
    new RegExp(v);
    return true;
  } catch {
    return false;
  }
}, 'must be a valid regular expression');

export const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const cookieName = z.string().regex(COOKIE_NAME, 'must be a cookie name');
const fieldName = z.string().min(1).max(200);
/** A path on the upstream, optionally with a query (`/admin/login/?next=/admin/`, `/index.php?do=login`). */
const upstreamPath = z.string().regex(/^\/[^#\s]*$/, 'must be an absolute path such as /login (a query is allowed)');
/**
 * A query sent with a replayed upstream request, written like a policy rule's `query:` (one value
 * per parameter): `{do: login}` → `?do=login`, for apps routed by query string. (Same shape as the
 * policy's query matching, so the intercept rule and the replay name the route alike.)
 */
const upstreamQuery = z.record(z.string(), z.string({ error: 'must be a string value (quote numbers: "2")' })).superRefine((q, ctx) => {
  const names = Object.keys(q);
  if (names.length === 0) ctx.addIssue({ code: 'custom', message: 'must name at least one parameter' });
  for (const name of names) {
    if (!/^[A-Za-z0-9_.~-]+$/.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'must be a parameter name (letters, digits, "_", ".", "-", "~")' });
  }
});

/** `/doku.php` and `{do: login}` → `/doku.php?do=login`; a path that already has a query gets `&`. */
export function withQuery(path: string, query: Readonly<Record<string, string>> | undefined): string {
  if (!query) return path;
  return `${path}${path.includes('?') ? '&' : '?'}${new URLSearchParams(Object.entries(query)).toString()}`;
}

/** Header names the sidecar writes itself (framing, forwarding, cookies) cannot be configured. */
const RESERVED_HEADERS = /^(host|cookie|content-length|content-type|transfer-encoding|connection|x-forwarded-.*|forwarded)$/i;
const extraHeaders = z
  .record(
    z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'must be a header name').refine((n) => !RESERVED_HEADERS.test(n), 'is written by the sidecar and cannot be set here'),
    z.string().max(4096).regex(/^[^\r\n]*$/, 'must be one line'),
  )
  .default({});

/** The upstream's own form, fetched before posting to it (CSRF tokens, pre-login cookies). */
const formFetchSchema = z
  .object({
    /** GET the page first, in the pending login's cookie jar (default true once `form` is given). */
    fetch: z.boolean().default(true),
    /** The page that holds the form (default: the path the form is posted to). */
    page: upstreamPath.optional(),
    /** A CSS selector of the form; default: the form that holds the password field (or, for a logout, the only form posting to the path). */
    selector: z.string().min(1).max(500).optional(),
    /** `auto`: every hidden input of that form; or the names of the fields to copy (hidden or not). */
    hidden_fields: z.union([z.literal('auto'), z.array(fieldName).min(1)]).default('auto'),
  })
  .strict();

export const loginUpstreamSchema = z
  .object({
    path: upstreamPath,
    /** Query parameters of the login route (`{do: login}`), for apps routed by query string. */
    query: upstreamQuery.optional(),
    encoding: z.enum(['form', 'json']).default('form'),
    fields: z
      .object({
        /** The field that carries what the user signs in with (an email or a username). */
        identifier: fieldName.optional(),
        /** Accepted alias of `identifier` (existing configs). */
        email: fieldName.optional(),
        password: fieldName.default('password'),
      })
      .strict()
      .prefault({})
      .refine((f) => f.identifier === undefined || f.email === undefined || f.identifier === f.email, {
        message: 'identifier and email name the same field: give one of them',
      })
      .transform((f) => ({ identifier: f.identifier ?? f.email ?? 'email', password: f.password })),
    /** Fetch the login page first and copy its form's hidden fields (Django, Rails, Laravel, Spring, PHP apps). */
    form: formFetchSchema.optional(),
    /** Fields sent as given with every replay (e.g. `this_is_the_login_form: "1"`). */
    extra_fields: z.record(fieldName, z.string().max(4096)).default({}),
    /** Headers sent with every replay (not Host, Cookie, framing or X-Forwarded-*: those are the proxy's). */
    extra_headers: extraHeaders,
    /** The form field that carries where the app sends the user next (`next`, `redirect_to`); its value is `login.landing`. */
    return_field: fieldName.optional(),
    timeout: duration.prefault('10s'),
  })
  .strict();

/** One name or several (PHP apps keep more than one cookie per session). */
const cookieNames = z.union([cookieName.transform((n) => [n]), z.array(cookieName).min(1)]);

export const loginSuccessSchema = z
  .object({
    status: z.array(z.number().int().min(100).max(599)).min(1).default([302, 303]),
    location: regex.optional(),
    /** The session cookie(s) the login answer must set: every one listed. */
    cookie: cookieNames,
    body: regex.optional(),
  })
  .strict();

/**
 * What a wrong password looks like. Only this counts as one (and towards lock-outs); every listed
 * condition must hold. Without it: a 2xx/3xx answer that does not set the success cookie.
 */
export const loginFailureSchema = z
  .object({
    status: z.array(z.number().int().min(100).max(599)).min(1).optional(),
    location: regex.optional(),
    body: regex.optional(),
  })
  .strict()
  .refine((f) => f.status !== undefined || f.location !== undefined || f.body !== undefined, {
    message: 'give at least one of status, location or body',
  });

export const loginLogoutSchema = z
  .object({
    path: upstreamPath,
    query: upstreamQuery.optional(),
    method: z.enum(['GET', 'POST']).default('GET'),
    /** For a POST logout that needs the app's CSRF token: the page to read the form's hidden fields from, with the user's session. */
    form: formFetchSchema.optional(),
    extra_fields: z.record(fieldName, z.string().max(4096)).default({}),
    /**
     * A page that needs the session (e.g. `/admin/`): when the logout answer does not delete the
     * session cookie, the old session is presented there and must be refused (401/403, or a
     * redirect to the login path) for the logout to count as done.
     */
    check: upstreamPath.optional(),
  })
  .strict();

export type FormFetchConfig = z.output<typeof formFetchSchema>;
