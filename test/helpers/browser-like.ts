import http, { type IncomingHttpHeaders } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoApp } from '../../demo/app.ts';
import { startStack, type Stack, type StackOptions } from './stack.ts';

/**
 * Helpers for the login, session and CSRF tests: a tiny HTTP client that never follows redirects
 * and lets a test send any header (or none), a cookie jar that behaves like a browser's for our
 * purposes, browser-like request headers, and a *recording upstream*: a node:http server that keeps
 * every request it receives (method, url, headers, body) and otherwise forwards to a real upstream
 * (the demo app), or fails on purpose while "down".
 */

// ---------------------------------------------------------------------------------------------
// Client

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Every Set-Cookie header of the response. */
  readonly setCookies: string[];
  readonly text: string;
  /** The body parsed as JSON (throws when it is not JSON). */
  json(): Record<string, unknown>;
  /** The Location header, or undefined. */
  readonly location: string | undefined;
}

export interface SendOptions {
  readonly method?: string;
  /** Header values; undefined leaves a header out. */
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly body?: string | Buffer;
  /** Send the body with Transfer-Encoding: chunked instead of Content-Length. */
  readonly chunked?: boolean;
}

/** One request on a fresh connection; redirects are never followed. */
export function send(url: string, options: SendOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) if (value !== undefined) headers[name] = value;
  const body = options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body, 'utf8');
  if (body !== undefined && !options.chunked) headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const setCookie = res.headers['set-cookie'];
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          setCookies: setCookie ?? [],
          text,
          json: () => JSON.parse(text) as Record<string, unknown>,
          location: typeof res.headers.location === 'string' ? res.headers.location : undefined,
        });
      });
    });
    req.on('error', reject);
    if (body !== undefined && options.chunked) {
      req.write(body);
      req.end();
    } else {
      req.end(body);
    }
  });
}

export function postJson(url: string, value: unknown, headers: Readonly<Record<string, string | undefined>> = {}): Promise<Reply> {
  return send(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) });
}

export function form(fields: Readonly<Record<string, string>>): string {
  return new URLSearchParams(Object.entries(fields)).toString();
}

// ---------------------------------------------------------------------------------------------
// Cookies

/** name → value of a Set-Cookie header, or null when the header deletes the cookie. */
export function parseSetCookie(header: string): { name: string; value: string; deletes: boolean; attributes: string[] } {
  const [pair = '', ...attributes] = header.split(';').map((s) => s.trim());
  const eq = pair.indexOf('=');
  const name = eq === -1 ? pair : pair.slice(0, eq);
  const value = eq === -1 ? '' : pair.slice(eq + 1);
  const deletes = value === '' || attributes.some((a) => /^max-age=\s*(0|-\d+)$/i.test(a)) || attributes.some((a) => /^expires=.*1970/i.test(a));
  return { name, value, deletes, attributes };
}

/** The Set-Cookie header that sets (not clears) `name`, if any. */
export function setCookieFor(setCookies: readonly string[], name: string): string | undefined {
  return setCookies.find((c) => {
    const parsed = parseSetCookie(c);
    return parsed.name === name && !parsed.deletes;
  });
}

/** True when the response clears `name`. */
export function clearsCookie(setCookies: readonly string[], name: string): boolean {
  return setCookies.some((c) => {
    const parsed = parseSetCookie(c);
    return parsed.name === name && parsed.deletes;
  });
}

/** A browser's cookie store for one site, just enough for these tests (no paths, no expiry). */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  constructor(initial: Readonly<Record<string, string>> = {}) {
    for (const [name, value] of Object.entries(initial)) this.cookies.set(name, value);
  }

  /** Applies a response's Set-Cookie headers; returns the reply for chaining. */
  take<R extends { setCookies: readonly string[] }>(reply: R): R {
    for (const header of reply.setCookies) {
      const { name, value, deletes } = parseSetCookie(header);
      if (deletes) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return reply;
  }

  set(name: string, value: string): void {
    this.cookies.set(name, value);
  }

  delete(name: string): void {
    this.cookies.delete(name);
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  has(name: string): boolean {
    return this.cookies.has(name);
  }

  /** The Cookie header, or undefined when the jar is empty. */
  header(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  clone(): CookieJar {
    const copy = new CookieJar();
    for (const [name, value] of this.cookies) copy.set(name, value);
    return copy;
  }
}

// ---------------------------------------------------------------------------------------------
// Browser-like headers

export const HTML_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

/** What a browser sends with a same-origin form POST on `origin` (e.g. the sidecar's URL). */
export function sameOriginForm(origin: string): Record<string, string> {
  return {
    origin,
    'sec-fetch-site': 'same-origin',
    'sec-fetch-mode': 'navigate',
    'sec-fetch-dest': 'document',
    accept: HTML_ACCEPT,
    'content-type': 'application/x-www-form-urlencoded',
  };
}

/** A top-level navigation (GET) typed into the address bar. */
export function navigation(): Record<string, string> {
  return { 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', accept: HTML_ACCEPT };
}

/** The value of the hidden `_csrf` field of a sidecar page. */
export function csrfFrom(html: string): string {
  const match = /name="_csrf"[^>]*value="([^"]*)"/.exec(html) ?? /value="([^"]*)"[^>]*name="_csrf"/.exec(html);
  if (!match?.[1]) throw new Error(`no _csrf field in page: ${html.slice(0, 300)}`);
  return match[1];
}

/** The value of the hidden `return_to` field of the login page. */
export function returnToFrom(html: string): string | undefined {
  const match = /name="return_to"[^>]*value="([^"]*)"/.exec(html);
  return match?.[1]?.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

/** Opens the sidecar's login page in `jar` (which receives spg_csrf) and returns the form token. */
export async function openLoginPage(url: string, jar: CookieJar, query = ''): Promise<{ token: string; page: Reply }> {
  const page = jar.take(await send(`${url}/_guard/login${query}`, { headers: { ...navigation(), cookie: jar.header() } }));
  if (page.status !== 200) throw new Error(`login page answered ${page.status}`);
  return { token: csrfFrom(page.text), page };
}

/** Signs in through the sidecar's login form, like a browser, and returns the POST's reply. */
export async function formSignIn(
  url: string,
  jar: CookieJar,
  fields: { email?: string; password?: string; return_to?: string } = {},
): Promise<Reply> {
  const { token } = await openLoginPage(url, jar);
  const body: Record<string, string> = {
    _csrf: token,
    email: fields.email ?? 'merchant@example.com',
    password: fields.password ?? 'smartpush-demo',
    ...(fields.return_to !== undefined ? { return_to: fields.return_to } : {}),
  };
  return jar.take(await send(`${url}/_guard/login`, { method: 'POST', headers: { ...sameOriginForm(url), cookie: jar.header() }, body: form(body) }));
}

/** Signs in through the JSON API into `jar`; throws unless it answered 200. */
export async function apiSignIn(url: string, jar: CookieJar, email = 'merchant@example.com', password = 'smartpush-demo'): Promise<Reply> {
  const reply = jar.take(await postJson(`${url}/_guard/api/login`, { email, password }));
  if (reply.status !== 200) throw new Error(`sign-in failed with ${reply.status}: ${reply.text}`);
  return reply;
}

/** GET /api/me (JSON) with the jar's cookies. */
export function me(url: string, jar: CookieJar | string | undefined): Promise<Reply> {
  const cookie = jar instanceof CookieJar ? jar.header() : jar;
  return send(`${url}/api/me`, { headers: { accept: 'application/json', cookie } });
}

/** Signs in directly at the demo app (no sidecar) and returns its sp_session value. */
export async function upstreamSession(upstreamUrl: string, email = 'merchant@example.com', password = 'smartpush-demo'): Promise<string> {
  const reply = await send(`${upstreamUrl}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form({ email, password }),
  });
  const header = setCookieFor(reply.setCookies, 'sp_session');
  if (reply.status !== 302 || !header) throw new Error(`demo login failed: ${reply.status}`);
  return parseSetCookie(header).value;
}

// ---------------------------------------------------------------------------------------------
// Recording upstream

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** A websocket (or other) upgrade hand-shake rather than a plain request. */
  readonly upgrade: boolean;
}

export interface RecordingUpstream {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** While true, every request's connection is destroyed at once (an outage). */
  down: boolean;
  /** Requests whose method and path (query ignored) match. */
  matching(method: string, path: string): RecordedRequest[];
  close(): Promise<void>;
}

/**
 * A node:http server that records every request and forwards it to `target` (buffered: the tests
 * using it send small bodies). Upgrade hand-shakes are recorded and then refused.
 */
export async function startRecordingUpstream(target: string): Promise<RecordingUpstream> {
  const requests: RecordedRequest[] = [];
  const targetUrl = new URL(target);
  const state = { down: false };
  const server = http.createServer((req, res) => {
    if (state.down) {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers }, body, upgrade: false });
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined || name === 'connection' || name === 'keep-alive' || name === 'transfer-encoding' || name === 'content-length') continue;
        headers[name] = value;
      }
      headers['host'] = targetUrl.host;
      headers['content-length'] = String(body.length);
      const forward = http.request(
        { hostname: targetUrl.hostname, port: targetUrl.port, method: req.method, path: req.url, headers, agent: false },
        (upstreamRes) => {
          const out: Buffer[] = [];
          upstreamRes.on('data', (c: Buffer) => out.push(c));
          upstreamRes.on('end', () => {
            const payload = Buffer.concat(out);
            const responseHeaders: Record<string, string | string[]> = {};
            for (const [name, value] of Object.entries(upstreamRes.headers)) {
              if (value === undefined || name === 'connection' || name === 'keep-alive' || name === 'transfer-encoding' || name === 'content-length') continue;
              responseHeaders[name] = value;
            }
            responseHeaders['content-length'] = String(payload.length);
            res.writeHead(upstreamRes.statusCode ?? 502, responseHeaders);
            res.end(payload);
          });
        },
      );
      forward.on('error', () => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('recording upstream: target failed');
      });
      forward.end(body);
    });
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers }, body: Buffer.alloc(0), upgrade: true });
    socket.on('error', () => undefined);
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get down() {
      return state.down;
    },
    set down(value: boolean) {
      state.down = value;
    },
    matching(method, path) {
      return requests.filter((r) => r.method === method && r.url.split('?', 1)[0]?.toLowerCase() === path.toLowerCase());
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The demo policy plus public debug and websocket routes, so a test can see (through the demo
 * app's /debug/request echo, or a recording upstream) what the upstream receives without a session.
 */
export const BINDING_POLICY = `version: 1
settings:
  case_sensitive: false
  path_parameters: reject
default:
  access: authenticated
intercept:
  login: { paths: ["/login"] }
  logout: { paths: ["/logout"] }
rules:
  - name: debug-public
    paths: ["/debug/**"]
    access: public
  - name: websocket-public
    paths: ["/ws"]
    methods: [GET]
    access: public
`;

/** The Cookie header the demo app's /debug/request echo says it received (undefined when none). */
export function echoedCookie(reply: Reply): string | undefined {
  const headers = reply.json()['headers'] as Record<string, unknown> | undefined;
  const cookie = headers?.['cookie'];
  return typeof cookie === 'string' ? cookie : undefined;
}

/** name=value pairs of a Cookie header, in order (names repeated as often as they appear). */
export function cookiePairs(header: string | undefined): Array<[string, string]> {
  if (!header) return [];
  return header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .map((p) => {
      const eq = p.indexOf('=');
      return eq === -1 ? [p, ''] : [p.slice(0, eq), p.slice(eq + 1)];
    });
}

// ---------------------------------------------------------------------------------------------
// Stacks

/** A sidecar in front of the demo app, with a recording upstream between them. */
export interface RecordedStack {
  readonly stack: Stack;
  readonly url: string;
  /** The demo app itself (bypassing both the recorder and the sidecar). */
  readonly demoUrl: string;
  readonly recorder: RecordingUpstream;
  close(): Promise<void>;
}

export async function startRecordedStack(options: Omit<StackOptions, 'upstreamUrl'> = {}): Promise<RecordedStack> {
  const demo = await startDemoApp({ host: '127.0.0.1', port: 0 });
  const recorder = await startRecordingUpstream(demo.url);
  const stack = await startStack({ ...options, upstreamUrl: recorder.url });
  return {
    stack,
    url: stack.url,
    demoUrl: demo.url,
    recorder,
    close: async () => {
      await stack.close();
      await recorder.close();
      await demo.close();
    },
  };
}

/** Runs `fn` with a fresh recorded stack and always closes it. */
export async function withRecordedStack<T>(options: Omit<StackOptions, 'upstreamUrl'>, fn: (stack: RecordedStack) => Promise<T>): Promise<T> {
  const stack = await startRecordedStack(options);
  try {
    return await fn(stack);
  } finally {
    await stack.close();
  }
}

/**
 * A complete `session` config block: a fresh key file of its own plus the given settings (startStack
 * would keep the stack's keys for a block without them; this one names its own, as before).
 */
export function sessionConfig(settings: { idle_timeout?: string; absolute_lifetime?: string; same_site?: 'lax' | 'strict' } = {}): {
  keys: { file: string };
  idle_timeout?: string;
  absolute_lifetime?: string;
  same_site?: 'lax' | 'strict';
} {
  const dir = mkdtempSync(join(tmpdir(), 'spg-keys-'));
  const file = join(dir, 'session-keys.json');
  writeFileSync(file, JSON.stringify({ '1': randomBytes(32).toString('base64url') }), { mode: 0o600 });
  return { keys: { file }, ...settings };
}

/**
 * The upstream session cookie value bound to this browser's sidecar session, as the upstream
 * receives it (the browser itself never holds it: README, Security model, Binding). Read through
 * the demo app's /debug/request echo, which the session may reach under the demo and binding policies.
 */
export async function boundUpstreamCookie(url: string, jar: CookieJar | string, name = 'sp_session'): Promise<string | undefined> {
  const cookie = typeof jar === 'string' ? jar : jar.header();
  const echo = await send(`${url}/debug/request`, { headers: { accept: 'application/json', ...(cookie ? { cookie } : {}) } });
  if (echo.status !== 200) return undefined;
  return cookiePairs(echoedCookie(echo)).find(([n]) => n === name)?.[1];
}
