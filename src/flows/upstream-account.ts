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
  readonly profile?: { readonly path: string; readonly emailField: string; readonly phoneField?: string | undefined };
}

export interface UpstreamProfile {
  readonly email: string | null;
  readonly phone: string | null;
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

export class UpstreamAccount {
  private readonly agent: http.Agent;

  constructor(private readonly config: UpstreamAccountConfig) {
    const secure = config.upstream.protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 32 }) : new http.Agent({ keepAlive: true, maxSockets: 32 });
  }

  checkPassword(email: string, password: string, context: ReplayContext): Promise<PasswordCheckResult> {
    const { fields } = this.config;
    const body =
      this.config.encoding === 'json'
        ? JSON.stringify({ [fields.email]: email, [fields.password]: password })
        : new URLSearchParams([
            [fields.email, email],
            [fields.password, password],
          ]).toString();
    const secure = this.config.upstream.protocol === 'https:';
    const request = secure ? https.request : http.request;
    return new Promise((resolve) => {
      let finished = false;
      const finish = (result: PasswordCheckResult): void => {
        if (!finished) {
          finished = true;
          resolve(result);
        }
      };
      const req = request(
        {
          protocol: this.config.upstream.protocol,
          hostname: this.config.upstream.hostname.replace(/^\[|\]$/g, ''),
          port: this.config.upstream.port || (secure ? 443 : 80),
          method: 'POST',
          path: this.config.upstream.pathname.replace(/\/$/, '') + this.config.path,
          agent: this.agent,
          headers: {
            host: this.config.upstream.host,
            'content-type': this.config.encoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
            'content-length': Buffer.byteLength(body),
            accept: 'text/html,application/json;q=0.9',
            'x-forwarded-for': context.forwardedFor,
            'x-request-id': context.requestId,
            ...(context.userAgent ? { 'user-agent': context.userAgent } : {}),
          },
        },
        (res) => {
          // The body is of no interest; drain it so the keep-alive socket can be reused.
          res.resume();
          res.on('error', () => finish({ ok: false, reason: 'unavailable', detail: 'response error' }));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const location = typeof res.headers.location === 'string' ? res.headers.location : '';
            const setCookies = res.headers['set-cookie'] ?? [];
            const cookies: Record<string, string> = {};
            for (const header of setCookies) {
              const cookie = cookieFromSetCookie(header);
              if (cookie) cookies[cookie.name] = cookie.value;
            }
            const { success } = this.config;
            const accepted =
              success.status.includes(status) &&
              (success.location === undefined || success.location.test(location)) &&
              cookies[success.cookie] !== undefined;
            if (accepted) {
              finish({ ok: true, setCookies, upstreamCookies: { [success.cookie]: cookies[success.cookie] as string } });
            } else if (status >= 500) {
              finish({ ok: false, reason: 'unavailable', detail: `upstream answered ${status}` });
            } else {
              finish({ ok: false, reason: 'rejected' });
            }
          });
        },
      );
      req.setTimeout(this.config.timeoutMs, () => {
        req.destroy(new Error('timeout'));
      });
      req.on('error', (error: NodeJS.ErrnoException) => finish({ ok: false, reason: 'unavailable', detail: error.code ?? error.message }));
      req.end(body);
    });
  }

  /**
   * Ends the upstream session named by `cookies` (best effort: a failure is reported, the sidecar
   * session ends regardless). Returns the upstream's Set-Cookie headers to pass on.
   */
  logout(cookies: Readonly<Record<string, string>>, context: ReplayContext): Promise<{ ok: boolean; setCookies: readonly string[] }> {
    const logout = this.config.logout;
    const pairs = Object.entries(cookies);
    if (!logout || pairs.length === 0) return Promise.resolve({ ok: true, setCookies: [] });
    const secure = this.config.upstream.protocol === 'https:';
    const request = secure ? https.request : http.request;
    return new Promise((resolve) => {
      const req = request(
        {
          hostname: this.config.upstream.hostname.replace(/^\[|\]$/g, ''),
          port: this.config.upstream.port || (secure ? 443 : 80),
          method: logout.method,
          path: this.config.upstream.pathname.replace(/\/$/, '') + logout.path,
          agent: this.agent,
          headers: {
            host: this.config.upstream.host,
            cookie: pairs.map(([name, value]) => `${name}=${value}`).join('; '),
            'x-forwarded-for': context.forwardedFor,
            'x-request-id': context.requestId,
            ...(logout.method === 'POST' ? { 'content-length': 0 } : {}),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ ok: (res.statusCode ?? 500) < 500, setCookies: res.headers['set-cookie'] ?? [] }));
          res.on('error', () => resolve({ ok: false, setCookies: [] }));
        },
      );
      req.setTimeout(this.config.timeoutMs, () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve({ ok: false, setCookies: [] }));
      req.end();
    });
  }

  /** Whether a profile endpoint is configured (so an upstream session's account can be told). */
  get hasProfile(): boolean {
    return this.config.profile !== undefined;
  }

  /** The account behind an upstream session, from the configured JSON profile endpoint; null when unknown. */
  profile(cookies: Readonly<Record<string, string>>, context: ReplayContext): Promise<UpstreamProfile | null> {
    const profile = this.config.profile;
    if (!profile) return Promise.resolve(null);
    const secure = this.config.upstream.protocol === 'https:';
    const request = secure ? https.request : http.request;
    return new Promise((resolve) => {
      const req = request(
        {
          hostname: this.config.upstream.hostname.replace(/^\[|\]$/g, ''),
          port: this.config.upstream.port || (secure ? 443 : 80),
          method: 'GET',
          path: this.config.upstream.pathname.replace(/\/$/, '') + profile.path,
          agent: this.agent,
          headers: {
            host: this.config.upstream.host,
            accept: 'application/json',
            cookie: Object.entries(cookies).map(([name, value]) => `${name}=${value}`).join('; '),
            'x-forwarded-for': context.forwardedFor,
            'x-request-id': context.requestId,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > 64 * 1024) req.destroy(new Error('profile too large'));
            else chunks.push(chunk);
          });
          res.on('error', () => resolve(null));
          res.on('end', () => {
            if (res.statusCode !== 200) return resolve(null);
            try {
              const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
              const email = body[profile.emailField];
              const phone = profile.phoneField ? body[profile.phoneField] : null;
              resolve({ email: typeof email === 'string' ? email : null, phone: typeof phone === 'string' ? phone : null });
            } catch {
              resolve(null);
            }
          });
        },
      );
      req.setTimeout(this.config.timeoutMs, () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(null));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
