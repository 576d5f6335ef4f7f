import http from 'node:http';
import https from 'node:https';

/**
 * The upstream's own account endpoints, called server-side. It keeps checking passwords: the
 * sidecar replays the login and reads the answer with the configured success predicate; the
 * upstream's Set-Cookie headers come back to the caller, which withholds them until every required
 * step has passed. Logout is replayed the same way so the upstream session ends too.
 */

export interface UpstreamAccountConfig {
  readonly upstream: URL;
  readonly path: string;
  readonly encoding: 'form' | 'json';
  readonly fields: { readonly email: string; readonly password: string };
  readonly timeoutMs: number;
  readonly success: { readonly status: readonly number[]; readonly location?: RegExp; readonly cookie: string };
  readonly logout?: { readonly path: string; readonly method: 'GET' | 'POST' };
}

export type PasswordCheckResult =
  | { readonly ok: true; readonly setCookies: readonly string[]; readonly upstreamCookies: Record<string, string> }
  | { readonly ok: false; readonly reason: 'rejected' }
  | { readonly ok: false; readonly reason: 'unavailable'; readonly detail: string };

export interface ReplayContext {
  readonly forwardedFor: string;
  readonly userAgent?: string | undefined;
  readonly requestId: string;
}

/** name=value of a Set-Cookie header, or null when it deletes the cookie. */
export function cookieFromSetCookie(header: string): { name: string; value: string } | null {
  const first = header.split(';', 1)[0] ?? '';
  const eq = first.indexOf('=');
  if (eq <= 0) return null;
  const name = first.slice(0, eq).trim();
  const value = first.slice(eq + 1).trim();
  const lower = header.toLowerCase();
  if (!value || /;\s*max-age=\s*(0|-\d+)\s*(;|$)/.test(lower)) return null;
  return { name, value };
}

const cookieHeader = (cookies: Readonly<Record<string, string>>): string =>
  Object.entries(cookies)
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');

export class UpstreamAccount {
  private readonly agent: http.Agent;

  constructor(private readonly config: UpstreamAccountConfig) {
    const secure = config.upstream.protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 32 }) : new http.Agent({ keepAlive: true, maxSockets: 32 });
  }

  /**
   * One server-side request to the upstream: the only place that knows how to reach it. The body
   * is read up to 64 KiB (a login page or a profile); a failure or timeout resolves as `error`.
   */
  private send(
    method: 'GET' | 'POST',
    path: string,
    headers: http.OutgoingHttpHeaders,
    context: ReplayContext,
    body?: string,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer } | { error: string }> {
    const upstream = this.config.upstream;
    const secure = upstream.protocol === 'https:';
    const request = secure ? https.request : http.request;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (result: { status: number; headers: http.IncomingHttpHeaders; body: Buffer } | { error: string }): void => {
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
          headers: {
            host: upstream.host,
            'x-forwarded-for': context.forwardedFor,
            'x-request-id': context.requestId,
            ...(context.userAgent ? { 'user-agent': context.userAgent } : {}),
            ...(body !== undefined || method === 'POST' ? { 'content-length': Buffer.byteLength(body ?? '') } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            // Keep reading (so the keep-alive socket can be reused) but keep at most 64 KiB.
            if (size <= 64 * 1024) chunks.push(chunk);
          });
          res.on('error', () => settle({ error: 'response error' }));
          res.on('end', () => settle({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        },
      );
      req.setTimeout(this.config.timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (error: NodeJS.ErrnoException) => settle({ error: error.code ?? error.message }));
      req.end(body);
    });
  }

  async checkPassword(email: string, password: string, context: ReplayContext): Promise<PasswordCheckResult> {
    const { fields } = this.config;
    const json = this.config.encoding === 'json';
    const body = json
      ? JSON.stringify({ [fields.email]: email, [fields.password]: password })
      : new URLSearchParams([
          [fields.email, email],
          [fields.password, password],
        ]).toString();
    const answer = await this.send(
      'POST',
      this.config.path,
      { 'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded', accept: 'text/html,application/json;q=0.9' },
      context,
      body,
    );
    if ('error' in answer) return { ok: false, reason: 'unavailable', detail: answer.error };
    const location = typeof answer.headers.location === 'string' ? answer.headers.location : '';
    const setCookies = answer.headers['set-cookie'] ?? [];
    const cookies: Record<string, string> = {};
    for (const header of setCookies) {
      const cookie = cookieFromSetCookie(header);
      if (cookie) cookies[cookie.name] = cookie.value;
    }
    const { success } = this.config;
    const accepted =
      success.status.includes(answer.status) &&
      (success.location === undefined || success.location.test(location)) &&
      cookies[success.cookie] !== undefined;
    if (accepted) return { ok: true, setCookies, upstreamCookies: { [success.cookie]: cookies[success.cookie] as string } };
    if (answer.status >= 500) return { ok: false, reason: 'unavailable', detail: `upstream answered ${answer.status}` };
    return { ok: false, reason: 'rejected' };
  }

  /**
   * Ends the upstream session named by `cookies` (best effort: a failure is reported, the sidecar
   * session ends regardless). Returns the upstream's Set-Cookie headers to pass on.
   */
  async logout(cookies: Readonly<Record<string, string>>, context: ReplayContext): Promise<{ ok: boolean; setCookies: readonly string[] }> {
    const logout = this.config.logout;
    if (!logout || Object.keys(cookies).length === 0) return { ok: true, setCookies: [] };
    const answer = await this.send(logout.method, logout.path, { cookie: cookieHeader(cookies) }, context);
    if ('error' in answer) return { ok: false, setCookies: [] };
    return { ok: answer.status < 500, setCookies: answer.headers['set-cookie'] ?? [] };
  }

  /** A GET of an app page with an upstream session (the directory's profile and html kinds). */
  async fetchWithSession(
    path: string,
    cookies: Readonly<Record<string, string>>,
    accept: string,
    requestId: string,
  ): Promise<{ status: number; body: Buffer } | { error: string }> {
    const answer = await this.send('GET', path, { accept, cookie: cookieHeader(cookies) }, { forwardedFor: '127.0.0.1', requestId });
    return 'error' in answer ? answer : { status: answer.status, body: answer.body };
  }

  close(): void {
    this.agent.destroy();
  }
}
