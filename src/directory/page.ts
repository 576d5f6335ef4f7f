import type * as cheerio from 'cheerio';
import { lazyModule } from '../core/lazy-module.ts';

// The HTML parser loads with the first page lookup (only a `page` directory uses it).
const cheerioModule = lazyModule<typeof cheerio>('cheerio');
import { entryOf } from './values.ts';
import { failed, found, type Directory, type DirectoryResult, type LookupContext, type SessionFetcher } from './types.ts';

/**
 * The profile and html kinds read a page of the app with the user's own upstream session, so they
 * know only the signed-in user (support tools, which have no session, get `no_session`). When the
 * page also names the account (an identifier field or selector), a page of another account is
 * refused: the session is not the account it claims to be.
 */

interface ProfileOptions {
  readonly path: string;
  readonly emailField: string;
  readonly phoneField?: string | undefined;
  /** The field naming the account; compared with the identifier through `canonical`. */
  readonly identifierField?: string | undefined;
  /** The field holding the account's roles/groups (a list, or a comma-separated string). */
  readonly rolesField?: string | undefined;
}

export interface Extract {
  readonly selector: string;
  readonly attribute?: string | undefined;
  /** Applied to the text or attribute; its first capture group (or whole match) is the value. */
  readonly pattern?: RegExp | undefined;
}

interface HtmlOptions {
  readonly path: string;
  readonly email?: Extract | undefined;
  readonly phone?: Extract | undefined;
  readonly identifier?: Extract | undefined;
  /** Where the page lists the account's roles/groups (comma-separated). */
  readonly roles?: Extract | undefined;
}

type Canonical = (raw: string) => string;

/** A configured identifier the page does not hold: no claim can be read, so nothing matches it. */
const MISSING = '\u0000missing';

/** A dotted path into a JSON object: `user.email`, `data.attributes.phone`. */
function field(body: unknown, path: string): unknown {
  let value: unknown = body;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

abstract class SessionPage implements Directory {
  abstract readonly kind: string;
  abstract readonly providesRoles: boolean;
  constructor(
    protected readonly fetcher: SessionFetcher,
    protected readonly path: string,
    protected readonly canonical: Canonical,
  ) {}

  protected abstract accept: string;
  protected abstract read(body: string): { account: string | null; email: unknown; phone: unknown; roles?: unknown } | null;

  private async page(context: LookupContext): Promise<{ ok: true; body: string } | DirectoryResult> {
    if (Object.keys(context.upstreamCookies).length === 0) {
      return failed('no_session', `the ${this.kind} directory reads ${this.path} with the user's session; there is none here`);
    }
    const answer = await this.fetcher.fetchWithSession(this.path, context.upstreamCookies, this.accept, context.requestId ?? 'directory');
    if ('error' in answer) return failed('unavailable', `${this.kind} directory: GET ${this.path} failed (${answer.error})`);
    if (answer.status !== 200) return failed('source_error', `${this.kind} directory: GET ${this.path} answered ${answer.status}`);
    return { ok: true, body: answer.body.toString('utf8') };
  }

  async lookup(identifier: string, context: LookupContext): Promise<DirectoryResult> {
    const page = await this.page(context);
    if (!('body' in page)) return page;
    const values = this.read(page.body);
    if (!values) return failed('source_error', `${this.kind} directory: ${this.path} could not be read`);
    if (values.account === MISSING) return failed('source_error', `${this.kind} directory: ${this.path} does not say which account is signed in (identifier not found)`);
    if (values.account !== null && this.canonical(values.account) !== this.canonical(identifier)) {
      return failed('account_mismatch', `${this.kind} directory: ${this.path} names another account than the one signed in`);
    }
    return found(this.providesRoles ? entryOf(values.email, values.phone, values.roles ?? null) : entryOf(values.email, values.phone));
  }

  async accountOfSession(context: LookupContext): Promise<string | null> {
    const page = await this.page(context);
    if (!('body' in page)) return null;
    const account = this.read(page.body)?.account ?? null;
    return account === null || account === MISSING ? null : this.canonical(account);
  }

  async close(): Promise<void> {}
}

export class ProfileDirectory extends SessionPage {
  readonly kind = 'profile';
  protected accept = 'application/json';
  readonly providesRoles: boolean;
  constructor(fetcher: SessionFetcher, private readonly options: ProfileOptions, canonical: Canonical) {
    super(fetcher, options.path, canonical);
    this.providesRoles = options.rolesField !== undefined;
  }

  protected read(body: string): { account: string | null; email: unknown; phone: unknown; roles?: unknown } | null {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      return null;
    }
    if (json === null || typeof json !== 'object') return null;
    const account = this.options.identifierField ? field(json, this.options.identifierField) : null;
    return {
      // A configured identifier field that is missing is not "no claim": it is an unreadable profile.
      account: this.options.identifierField ? (typeof account === 'string' ? account : MISSING) : null,
      email: field(json, this.options.emailField),
      phone: this.options.phoneField ? field(json, this.options.phoneField) : null,
      ...(this.options.rolesField ? { roles: field(json, this.options.rolesField) ?? null } : {}),
    };
  }
}

function extract($: cheerio.CheerioAPI, spec: Extract | undefined): string | null {
  if (!spec) return null;
  const node = $(spec.selector).first();
  if (node.length === 0) return null;
  const raw = spec.attribute ? node.attr(spec.attribute) : node.text();
  if (raw === undefined) return null;
  const text = raw.trim();
  if (!spec.pattern) return text;
  const match = spec.pattern.exec(text);
  return match ? (match[1] ?? match[0]).trim() : null;
}

export class HtmlDirectory extends SessionPage {
  readonly kind = 'html';
  protected accept = 'text/html';
  readonly providesRoles: boolean;
  constructor(fetcher: SessionFetcher, private readonly options: HtmlOptions, canonical: Canonical) {
    super(fetcher, options.path, canonical);
    this.providesRoles = options.roles !== undefined;
  }

  protected read(body: string): { account: string | null; email: unknown; phone: unknown; roles?: unknown } {
    const $ = cheerioModule().load(body);
    const account = this.options.identifier ? (extract($, this.options.identifier) ?? MISSING) : null;
    return {
      account,
      email: extract($, this.options.email),
      phone: extract($, this.options.phone),
      ...(this.options.roles ? { roles: extract($, this.options.roles) } : {}),
    };
  }
}
