import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { CookieJar } from 'tough-cookie';
import type { Clock } from '../core/clock.ts';
import { cookiesSet, type Check, type FailureSignal, type SuccessSignal } from './login-answer.ts';
import { findForm, type FoundForm } from './login-form.ts';

/**
 * The replaying browser behind UpstreamAccount (flows/upstream-account.ts): requests to the
 * upstream with the proxied Host and X-Forwarded-*, a cookie jar per sign-in, forms read off its
 * pages, and every step traced with secrets masked (the login probe shows them).
 */

export interface FormFetch {
  readonly fetch: boolean;
  readonly page?: string | undefined;
  readonly selector?: string | undefined;
  readonly hiddenFields: 'auto' | readonly string[];
}

export interface UpstreamAccountConfig {
  readonly upstream: URL;
  /** Host and scheme the upstream sees when no browser request gives them (login probe, background reads). */
  readonly defaultHost: string;
  readonly defaultProto: 'http' | 'https';
  readonly login: {
    readonly path: string;
    readonly encoding: 'form' | 'json';
    readonly fields: { readonly identifier: string; readonly password: string };
    readonly form?: FormFetch | undefined;
    readonly extraFields: Readonly<Record<string, string>>;
    readonly extraHeaders: Readonly<Record<string, string>>;
    /** The field carrying where the app sends the user next, and its value. */
    readonly returnField?: { readonly name: string; readonly value: string } | undefined;
  };
  readonly timeoutMs: number;
  readonly success: SuccessSignal;
  readonly failure?: FailureSignal | undefined;
  /** Every cookie that belongs to the upstream session (bound, withheld, never the browser's). */
  readonly sessionCookies: readonly string[];
  readonly logout?: undefined | {
    readonly path: string;
    readonly method: 'GET' | 'POST';
    readonly form?: FormFetch | undefined;
    readonly extraFields: Readonly<Record<string, string>>;
    readonly check?: string | undefined;
  };
  readonly clock: Clock;
}

export type PasswordCheckResult =
  | {
      readonly ok: true;
      /** The login answer's Set-Cookie headers, withheld until every step passed. */
      readonly setCookies: readonly string[];
      /** The session cookies, bound server-side to the sidecar session. */
      readonly upstreamCookies: Record<string, string>;
    }
  | { readonly ok: false; readonly reason: 'rejected' }
  /** The upstream could not be reached or did not answer in time. */
  | { readonly ok: false; readonly reason: 'unavailable'; readonly detail: string }
  /** The upstream answered, but with neither the success nor the failure signal. */
  | { readonly ok: false; readonly reason: 'upstream_error'; readonly detail: string; readonly status: number | null; readonly location: string | null };

export type LogoutResult =
  | { readonly ok: true; readonly how: 'cookie_deleted' | 'session_refused' | 'not_configured' }
  | { readonly ok: false; readonly detail: string; readonly status: number | null; readonly location: string | null };

export interface ReplayContext {
  readonly forwardedFor: string;
  readonly userAgent?: string | undefined;
  readonly requestId: string;
  /** The Host the browser used (the proxy forwards it); default: the configured one. */
  readonly host?: string | undefined;
  readonly proto?: 'http' | 'https' | undefined;
}

/** One request of a replay and what came back, with every secret masked (for `login probe`). */
export interface ReplayStep {
  readonly title: string;
  readonly request: {
    readonly method: string;
    readonly path: string;
    readonly headers: Readonly<Record<string, string>>;
    readonly fields?: ReadonlyArray<readonly [string, string]>;
  };
  readonly response?: {
    readonly status: number;
    readonly location: string | null;
    /** Cookie names set (with "(deleted)" for deletions), never values. */
    readonly cookies: readonly string[];
    readonly form?: { readonly action: string; readonly method: string; readonly fields: readonly string[] } | undefined;
  };
  readonly problem?: string;
  readonly checks?: readonly Check[];
}

export type Trace = (step: ReplayStep) => void;

export interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

const BODY_LIMIT = 256 * 1024;
export const REDACTED = '********';

/** A Cookie header shown by names only. */
export const maskCookieHeader = (header: string): string =>
  header
    .split(';')
    .map((pair) => `${pair.split('=', 1)[0]?.trim() ?? ''}=…`)
    .filter((pair) => pair !== '=…')
    .join('; ');

export const cookieHeader = (cookies: Readonly<Record<string, string>>): string =>
  Object.entries(cookies)
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');

export const locationOf = (answer: Answer): string => (typeof answer.headers.location === 'string' ? answer.headers.location : '');

export class UpstreamReplay {
  protected readonly agent: http.Agent;
  protected readonly sessionNames: ReadonlySet<string>;

  constructor(protected readonly config: UpstreamAccountConfig) {
    const secure = config.upstream.protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 32 }) : new http.Agent({ keepAlive: true, maxSockets: 32 });
    this.sessionNames = new Set(config.sessionCookies);
  }

  /** The upstream's session cookie names (bound server-side). */
  get sessionCookieNames(): readonly string[] {
    return this.config.sessionCookies;
  }

  /** Where the browser-visible upstream lives, for the jar's cookie scoping. */
  protected siteUrl(context: ReplayContext, path: string): string {
    return `${context.proto ?? this.config.defaultProto}://${context.host ?? this.config.defaultHost}${path}`;
  }

  /**
   * One server-side request to the upstream with the Host, X-Forwarded-* and headers of proxied
   * traffic. The body is read up to 256 KiB (a login page); a failure or timeout resolves as `error`.
   */
  protected send(
    method: 'GET' | 'POST',
    path: string,
    headers: http.OutgoingHttpHeaders,
    context: ReplayContext,
    body?: string,
  ): Promise<Answer | { error: string }> {
    const upstream = this.config.upstream;
    const secure = upstream.protocol === 'https:';
    const request = secure ? https.request : http.request;
    const host = context.host ?? this.config.defaultHost;
    const proto = context.proto ?? this.config.defaultProto;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (result: Answer | { error: string }): void => {
        if (!settled) {
          settled = true;
          resolve(result);
        }
      };
      const req = request(
        {
          hostname: upstream.hostname.replace(/^\[|\]$/g, ''),
          port: upstream.port || (secure ? 443 : 80),
          method,
          path: upstream.pathname.replace(/\/$/, '') + path,
          agent: this.agent,
          // SNI and the certificate check name the upstream, never the browser's Host (sent below);
          // an IP address gets no SNI (RFC 6066).
          ...(secure ? { servername: isIP(upstream.hostname.replace(/^\[|\]$/g, '')) ? '' : upstream.hostname } : {}),
          headers: {
            ...headers,
            host,
            'x-forwarded-for': context.forwardedFor,
            'x-forwarded-proto': proto,
            'x-forwarded-host': host,
            'x-request-id': context.requestId,
            ...(context.userAgent ? { 'user-agent': context.userAgent } : {}),
            ...(body !== undefined || method === 'POST' ? { 'content-length': Buffer.byteLength(body ?? '') } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            // Keep reading (so the keep-alive socket can be reused) but keep at most the limit.
            if (size <= BODY_LIMIT) chunks.push(chunk);
          });
          res.on('error', () => settle({ error: 'response error' }));
          res.on('end', () => settle({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        },
      );
      req.setTimeout(this.config.timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (error: NodeJS.ErrnoException) => settle({ error: error.code === 'ETIMEDOUT' ? `no answer within ${this.config.timeoutMs} ms` : (error.code ?? error.message) }));
      req.end(body);
    });
  }

  /** A request made within a cookie jar: its cookies go out, the answer's come back in. */
  protected async sendInJar(
    jar: CookieJar,
    method: 'GET' | 'POST',
    path: string,
    headers: http.OutgoingHttpHeaders,
    context: ReplayContext,
    body?: string,
  ): Promise<{ answer: Answer | { error: string }; cookieHeader: string }> {
    const url = this.siteUrl(context, path);
    const now = new Date(this.config.clock.now());
    const cookieHeader = await jar.getCookieString(url);
    const answer = await this.send(method, path, { ...headers, ...(cookieHeader ? { cookie: cookieHeader } : {}) }, context, body);
    if (!('error' in answer)) {
      for (const header of answer.headers['set-cookie'] ?? []) await jar.setCookie(header, url, { now, ignoreError: true, loose: true });
    }
    return { answer, cookieHeader };
  }

  protected stepResponse(answer: Answer, form?: FoundForm): NonNullable<ReplayStep['response']> {
    const now = this.config.clock.now();
    const cookies = [...cookiesSet(answer.headers['set-cookie'] ?? [], now).values()].map((c) => (c.deleted ? `${c.name} (deleted)` : c.name));
    return {
      status: answer.status,
      location: locationOf(answer) || null,
      cookies,
      ...(form ? { form: { action: form.action, method: form.method, fields: form.fields.map(([name]) => name) } } : {}),
    };
  }

  /** GETs a page and reads the form to submit from it. */
  protected async readForm(
    jar: CookieJar,
    page: string,
    spec: FormFetch,
    query: { passwordField?: string; actionPath?: string },
    context: ReplayContext,
    title: string,
    trace: Trace | undefined,
  ): Promise<{ ok: true; form: FoundForm } | { ok: false; unavailable: boolean; detail: string; status: number | null; location: string | null }> {
    const { answer, cookieHeader } = await this.sendInJar(jar, 'GET', page, { accept: 'text/html,application/xhtml+xml' }, context);
    const request = { method: 'GET', path: page, headers: cookieHeader ? { cookie: maskCookieHeader(cookieHeader) } : {} };
    if ('error' in answer) {
      trace?.({ title, request, problem: answer.error });
      return { ok: false, unavailable: true, detail: `GET ${page}: ${answer.error}`, status: null, location: null };
    }
    if (answer.status < 200 || answer.status > 299) {
      const detail = `GET ${page} answered ${answer.status}${locationOf(answer) ? ` (Location: ${locationOf(answer)})` : ''}, not the page with the form`;
      trace?.({ title, request, response: this.stepResponse(answer), problem: detail });
      return { ok: false, unavailable: false, detail, status: answer.status, location: locationOf(answer) || null };
    }
    const found = findForm(answer.body.toString('utf8'), { selector: spec.selector, ...query, copy: spec.hiddenFields });
    if (!found.ok) {
      trace?.({ title, request, response: this.stepResponse(answer), problem: found.problem });
      return { ok: false, unavailable: false, detail: `GET ${page}: ${found.problem}`, status: answer.status, location: null };
    }
    trace?.({ title, request, response: this.stepResponse(answer, found.form) });
    return { ok: true, form: found.form };
  }

  protected browserHeaders(context: ReplayContext, page: string): http.OutgoingHttpHeaders {
    // As a browser submits a form: frameworks behind https check Origin/Referer against the Host.
    const origin = `${context.proto ?? this.config.defaultProto}://${context.host ?? this.config.defaultHost}`;
    return { origin, referer: origin + page };
  }
}
