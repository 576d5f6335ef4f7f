/**
 * SmartPush — the bundled *legacy* merchant web app (demo upstream).
 *
 * This is the application smartpush-guard sits in front of. It is deliberately a plain,
 * somewhat old-fashioned Koa app with its own cookie session (`sp_session`), and it knows
 * nothing about the sidecar: no trusted headers, no 2FA, no awareness of proxies. It is
 * used by `npm start` (sidecar on :8080 → this app on 127.0.0.1:8081), by the integration
 * and security tests, and by the benchmarks.
 *
 * Accounts (override with `createDemoApp({ accounts })`, which REPLACES the defaults):
 *   merchant@example.com / smartpush-demo  (Mia Merchant, phone +15555550189)
 *   owner@example.com    / smartpush-demo  (Owen Owner, no phone)
 *
 * Routes (koa-router defaults: case-insensitive, trailing slash optional — realistic, and
 * exactly the kind of thing a proxy in front must cope with):
 *
 *   GET  /                         302 → /dashboard
 *   GET  /login                    HTML login form (POST /login, fields email + password)
 *   POST /login                    urlencoded or JSON body (max 16 KiB → 413, other type → 415)
 *                                  ok:   302 → /dashboard + Set-Cookie: sp_session=<32 hex>; Path=/; HttpOnly; SameSite=Lax
 *                                  fail: 200 HTML with the form and "Invalid email or password"
 *   GET|POST /logout               deletes the session, Set-Cookie: sp_session=; Max-Age=0; Path=/, 302 → /login
 *   GET  /password/reset           HTML "Reset your password" (public; the demo sends no reset emails)
 *
 *   Session required (HTML → 302 /login; /api/* → 401 {"error":"unauthorized"}):
 *   GET  /dashboard                HTML "SmartPush dashboard" (with Account Management › Login & Security,
 *                                  a link to the sidecar's /_guard/security, and a "Sign out" button)
 *   GET  /api/me                   {email, name, phone|null}
 *   GET  /api/campaigns            [{id, name, status, sent}]
 *   GET|POST /api/campaigns/:id/export   text/csv attachment, streamed (any :id is accepted)
 *   GET|POST /api/contacts/export        text/csv attachment, streamed
 *                                  ?rows=N (default 100, 0..20,000,000, else 400 {"error":"bad_rows"})
 *                                  Header line `id,email,name,status,country\n` (29 bytes) then N rows of
 *                                  EXACTLY 64 bytes each (incl. '\n'), so Content-Length = 29 + 64·N and is
 *                                  sent up front. `?rows=16777216` is exactly 1 GiB (2^30 bytes) of rows
 *                                  plus the 29-byte header (1,073,741,853 bytes in total). Rows are
 *                                  generated lazily, 1024 per chunk (64 KiB), only when the consumer
 *                                  asks for more (backpressure).
 *   POST /api/echo                 streams the request body back unchanged (Content-Type echoed), chunked
 *   POST /api/upload               consumes the body as a stream → {bytes, sha256}
 *
 *   Public (debug / test helpers of the demo):
 *   GET  /api/headers              {method, url, headers, rawHeaders, ...headers}: request headers as received
 *                                  (also spread at top level for convenience), url = raw req.url
 *   ALL  /debug/request[/anything] {method, url, headers, rawHeaders, httpVersion, bodyBytes} after reading the body
 *   GET  /api/slow?ms=N            waits N ms (default 1000, max 120000; else 400 {"error":"bad_ms"}) → {ok:true}
 *   GET  /static/app.css, /static/logo.svg   in-memory assets, Cache-Control + ETag
 *   GET  /favicon.ico                        the logo (what browsers ask every site for)
 *   WS   /ws                       echo (attached by startDemoApp / attachWebSocketEcho; other upgrade paths destroyed)
 *
 *   Anything else → 404 text/plain "Not Found" (Koa default).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { PassThrough, Readable, pipeline } from 'node:stream';
import Koa from 'koa';
import type { Context, Middleware } from 'koa';
import Router from '@koa/router';
import type { RouterContext } from '@koa/router';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';

export interface DemoAccount {
  email: string;
  password: string;
  name: string;
  phone?: string;
}

export interface DemoAppOptions {
  accounts?: Array<{ email: string; password: string; name: string; phone?: string }>;
}

export const DEFAULT_DEMO_PASSWORD = 'smartpush-demo';

export const DEFAULT_ACCOUNTS: ReadonlyArray<DemoAccount> = Object.freeze([
  { email: 'merchant@example.com', password: DEFAULT_DEMO_PASSWORD, name: 'Mia Merchant', phone: '+15555550189' },
  { email: 'owner@example.com', password: DEFAULT_DEMO_PASSWORD, name: 'Owen Owner' },
]);

export const SESSION_COOKIE = 'sp_session';
const SESSION_ID_RE = /^[0-9a-f]{32}$/;
const LOGIN_BODY_LIMIT = 16 * 1024;
const MAX_EXPORT_ROWS = 20_000_000;
const DEFAULT_EXPORT_ROWS = 100;
const MAX_SLOW_MS = 120_000;

// ---------------------------------------------------------------------------------------
// CSV export: fixed-width rows
// ---------------------------------------------------------------------------------------

/** Bytes per CSV data row, including the trailing '\n'. */
export const EXPORT_ROW_BYTES = 64;
/** The header line of every export. */
export const EXPORT_HEADER = 'id,email,name,status,country\n';
export const EXPORT_HEADER_BYTES = Buffer.byteLength(EXPORT_HEADER);
/** Total size of an export with `rows` data rows: header + 64·rows. rows=16777216 → 2^30 + header. */
export function exportSize(rows: number): number {
  return EXPORT_HEADER_BYTES + rows * EXPORT_ROW_BYTES;
}

const ROWS_PER_CHUNK = 1024;
const ID_DIGITS = 8; // ids 1..20,000,000 fit in 8 digits
const STATUSES = ['clicked', 'bounced', 'pending', 'skipped'] as const; // all 7 bytes → fixed width
const ID_MARK = 'X'.repeat(ID_DIGITS);
const STATUS_MARK = 'S'.repeat(7);
// e.g. "00000001,user.00000001@example.com,Contact #00000001,bounced,US\n"
const ROW_TEMPLATE = `${ID_MARK},user.${ID_MARK}@example.com,Contact #${ID_MARK},${STATUS_MARK},US\n`;

function markOffsets(template: string, mark: string): number[] {
  const out: number[] = [];
  for (let i = template.indexOf(mark); i !== -1; i = template.indexOf(mark, i + mark.length)) out.push(i);
  return out;
}
const ID_OFFSETS = markOffsets(ROW_TEMPLATE, ID_MARK);
const STATUS_OFFSET = ROW_TEMPLATE.indexOf(STATUS_MARK);
if (Buffer.byteLength(ROW_TEMPLATE) !== EXPORT_ROW_BYTES || ID_OFFSETS.length !== 3 || STATUS_OFFSET < 0) {
  throw new Error('demo export row template is not 64 bytes');
}
const STATUS_BYTES = STATUSES.map((s) => Buffer.from(s, 'latin1'));
/** ROWS_PER_CHUNK copies of the template, copied into each fresh chunk then patched in place. */
const CHUNK_TEMPLATE = Buffer.from(ROW_TEMPLATE.repeat(ROWS_PER_CHUNK), 'latin1');

/**
 * Lazily generates `rows` fixed-width CSV rows (after the header); one 64 KiB chunk per _read(), and
 * _read() is only called while the consumer keeps up, so memory stays at ~highWaterMark.
 */
export function createExportStream(rows: number): Readable {
  return new CsvExportStream(rows);
}

class CsvExportStream extends Readable {
  #next = 1;
  readonly #last: number;
  #headerSent = false;

  constructor(rows: number) {
    super({ highWaterMark: ROWS_PER_CHUNK * EXPORT_ROW_BYTES });
    this.#last = rows;
  }

  override _read(): void {
    if (!this.#headerSent) {
      this.#headerSent = true;
      this.push(Buffer.from(EXPORT_HEADER, 'latin1'));
      return;
    }
    if (this.#next > this.#last) {
      this.push(null);
      return;
    }
    const n = Math.min(ROWS_PER_CHUNK, this.#last - this.#next + 1);
    const buf = Buffer.allocUnsafe(n * EXPORT_ROW_BYTES);
    CHUNK_TEMPLATE.copy(buf, 0, 0, buf.length);
    for (let r = 0; r < n; r++) {
      const id = this.#next + r;
      const base = r * EXPORT_ROW_BYTES;
      let v = id;
      for (let d = ID_DIGITS - 1; d >= 0; d--) {
        const c = 48 + (v % 10);
        v = (v - (v % 10)) / 10;
        for (const off of ID_OFFSETS) buf[base + off + d] = c;
      }
      (STATUS_BYTES[id % STATUS_BYTES.length] as Buffer).copy(buf, base + STATUS_OFFSET);
    }
    this.#next += n;
    this.push(buf);
  }
}

// ---------------------------------------------------------------------------------------
// Static assets (in memory)
// ---------------------------------------------------------------------------------------

interface StaticAsset {
  type: string;
  body: Buffer;
  etag: string;
}

function asset(type: string, text: string): StaticAsset {
  const body = Buffer.from(text, 'utf8');
  return { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

const STATIC_ASSETS = new Map<string, StaticAsset>([
  [
    'app.css',
    asset(
      'text/css; charset=utf-8',
      `body{font-family:Verdana,Arial,sans-serif;background:#f2f4f7;color:#222;margin:0}
header{background:#1d3557;color:#fff;padding:10px 20px;display:flex;align-items:center;gap:12px}
main{max-width:720px;margin:30px auto;background:#fff;padding:20px 30px;border:1px solid #ccd}
label{display:block;margin:10px 0 4px}input{padding:6px;width:260px}
button{margin-top:14px;padding:6px 18px}.error{color:#b00020;font-weight:bold}
table{border-collapse:collapse}td,th{border:1px solid #ccd;padding:4px 10px}
`,
    ),
  ],
  [
    'logo.svg',
    asset(
      'image/svg+xml',
      `<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">
<circle cx="16" cy="16" r="15" fill="#e63946"/><path d="M9 17l5-9v7h9l-5 9v-7z" fill="#fff"/></svg>
`,
    ),
  ],
]);

// ---------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------

/** Only used for account names (configured data), never for request input. */
function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>${title}</title>
<link rel="stylesheet" href="/static/app.css">
</head>
<body>
<header><img src="/static/logo.svg" alt="" width="32" height="32"><strong>SmartPush</strong></header>
<main>
${body}
</main>
</body>
</html>
`;
}

function loginPage(error: boolean): string {
  return page(
    'SmartPush — Sign in',
    `<h1>Sign in to SmartPush</h1>
${error ? '<p class="error">Invalid email or password</p>\n' : ''}<form method="post" action="/login">
<label for="email">Email</label>
<input type="email" id="email" name="email" autocomplete="username" required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`,
  );
}

// ---------------------------------------------------------------------------------------
// Fake data
// ---------------------------------------------------------------------------------------

const CAMPAIGNS = Object.freeze([
  { id: 1, name: 'Spring Sale 2024', status: 'sent', sent: 12840 },
  { id: 2, name: 'Abandoned Cart Nudge', status: 'running', sent: 3312 },
  { id: 3, name: 'Loyalty Points Reminder', status: 'scheduled', sent: 0 },
]);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

type BodyResult = { ok: true; body: Buffer } | { ok: false; reason: 'too_large' };

/** Reads a (small) request body into memory, stopping at `limit` bytes. */
function readBody(req: http.IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve({ ok: false, reason: 'too_large' });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        resolve({ ok: false, reason: 'too_large' });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ ok: true, body: Buffer.concat(chunks, size) });
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onAborted = (): void => onError(new Error('request aborted'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/** Streams the request body, counting bytes and hashing, never holding more than one chunk. */
async function consumeBody(req: http.IncomingMessage): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    hash.update(chunk);
  }
  return { bytes, sha256: hash.digest('hex') };
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function singleQuery(ctx: Context, name: string): string | undefined | null {
  const v = ctx.query[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return null; // repeated parameter → invalid
  return v;
}

/** `undefined` → default, invalid → null. */
function parseBoundedInt(raw: string | undefined | null, dflt: number, max: number): number | null {
  if (raw === undefined) return dflt;
  if (raw === null || !/^\d{1,9}$/.test(raw)) return null;
  const n = Number(raw);
  return n <= max ? n : null;
}

function setSessionCookie(ctx: Context, id: string): void {
  ctx.append('Set-Cookie', `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax`);
}

function clearSessionCookie(ctx: Context): void {
  ctx.append('Set-Cookie', `${SESSION_COOKIE}=; Max-Age=0; Path=/`);
}

function isClientAbort(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === 'ECONNABORTED' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    code === 'ERR_STREAM_DESTROYED' ||
    (err instanceof Error && err.message === 'aborted')
  );
}

// ---------------------------------------------------------------------------------------
// App
// ---------------------------------------------------------------------------------------

export function createDemoApp(options: DemoAppOptions = {}): { app: Koa; sessions: Map<string, string> } {
  const accounts = new Map<string, DemoAccount & { digest: Buffer }>();
  for (const a of options.accounts ?? DEFAULT_ACCOUNTS) {
    const email = a.email.trim().toLowerCase();
    accounts.set(email, { ...a, email, digest: sha256(a.password) });
  }
  const dummyDigest = sha256(randomBytes(16).toString('hex'));

  /** sp_session id → account email */
  const sessions = new Map<string, string>();

  const app = new Koa();
  app.on('error', (err: unknown) => {
    if (isClientAbort(err)) return;
    const e = err as { status?: number; expose?: boolean; stack?: string };
    if (e.status === 404 || e.expose) return;
    console.error('[demo-app]', e.stack ?? err);
  });

  function sessionId(ctx: Context): string | undefined {
    const id = ctx.cookies.get(SESSION_COOKIE);
    return id !== undefined && SESSION_ID_RE.test(id) ? id : undefined;
  }

  function currentAccount(ctx: Context): DemoAccount | undefined {
    const id = sessionId(ctx);
    if (id === undefined) return undefined;
    const email = sessions.get(id);
    return email === undefined ? undefined : accounts.get(email);
  }

  const accountByCtx = new WeakMap<object, DemoAccount>();
  const requirePage: Middleware = async (ctx, next) => {
    const account = currentAccount(ctx);
    if (!account) {
      ctx.redirect('/login');
      return;
    }
    accountByCtx.set(ctx, account);
    await next();
  };
  const requireApi: Middleware = async (ctx, next) => {
    const account = currentAccount(ctx);
    if (!account) {
      ctx.status = 401;
      ctx.body = { error: 'unauthorized' };
      return;
    }
    accountByCtx.set(ctx, account);
    await next();
  };
  const accountOf = (ctx: Context): DemoAccount => {
    const account = accountByCtx.get(ctx);
    if (!account) throw new Error('route is missing its session middleware');
    return account;
  };

  function checkCredentials(email: unknown, password: unknown): DemoAccount | undefined {
    if (typeof email !== 'string' || typeof password !== 'string') return undefined;
    const account = accounts.get(email.trim().toLowerCase());
    const ok = timingSafeEqual(sha256(password), account ? account.digest : dummyDigest);
    return ok && account ? account : undefined;
  }

  const router = new Router();

  router.get('/', (ctx) => {
    ctx.redirect('/dashboard');
  });

  router.get('/login', (ctx) => {
    ctx.type = 'html';
    ctx.body = loginPage(false);
  });

  // The app's own password reset (the sidecar's sign-in page links here: login.forgot_password_url).
  router.get('/password/reset', (ctx) => {
    ctx.type = 'html';
    ctx.body = page(
      'SmartPush — Reset your password',
      `<h1>Reset your password</h1>
<p>In the real SmartPush this page emails you a link to choose a new password. The demo sends no
reset emails: its accounts use the password <code>smartpush-demo</code>.</p>
<p><a href="/login">Back to sign in</a></p>`,
    );
  });

  router.post('/login', async (ctx) => {
    let fields: { email?: unknown; password?: unknown } = {};
    const kind = ctx.is('application/x-www-form-urlencoded', 'application/json');
    if (kind === false) {
      ctx.status = 415;
      ctx.body = 'Unsupported Media Type';
      return;
    }
    if (kind !== null) {
      const result = await readBody(ctx.req, LOGIN_BODY_LIMIT);
      if (!result.ok) {
        ctx.set('Connection', 'close');
        ctx.status = 413;
        ctx.body = 'Payload Too Large';
        return;
      }
      const text = result.body.toString('utf8');
      if (kind === 'application/json') {
        try {
          const parsed: unknown = text === '' ? {} : JSON.parse(text);
          if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
            const o = parsed as Record<string, unknown>;
            fields = { email: o['email'], password: o['password'] };
          }
        } catch {
          ctx.status = 400;
          ctx.body = 'Bad Request';
          return;
        }
      } else {
        const form = new URLSearchParams(text);
        fields = { email: form.get('email') ?? undefined, password: form.get('password') ?? undefined };
      }
    }

    const account = checkCredentials(fields.email, fields.password);
    if (!account) {
      ctx.status = 200;
      ctx.type = 'html';
      ctx.body = loginPage(true);
      return;
    }
    // New id on every login (no session fixation); drop the previous one if any.
    const previous = sessionId(ctx);
    if (previous !== undefined) sessions.delete(previous);
    const id = randomBytes(16).toString('hex');
    sessions.set(id, account.email);
    setSessionCookie(ctx, id);
    ctx.redirect('/dashboard');
  });

  const logout = (ctx: Context): void => {
    const id = sessionId(ctx);
    if (id !== undefined) sessions.delete(id);
    clearSessionCookie(ctx);
    ctx.redirect('/login');
  };
  router.get('/logout', logout);
  router.post('/logout', logout);

  router.get('/dashboard', requirePage, (ctx) => {
    const account = accountOf(ctx);
    const campaignRows = CAMPAIGNS.map(
      (c) =>
        `<tr><td>${c.id}</td><td>${escapeHtml(c.name)}</td><td>${c.status}</td><td>${c.sent}</td>` +
        `<td><a href="/api/campaigns/${c.id}/export?rows=100">Export CSV</a></td></tr>`,
    ).join('\n');
    ctx.type = 'html';
    ctx.body = page(
      'SmartPush dashboard',
      `<h1>SmartPush dashboard</h1>
<p>Welcome back, ${escapeHtml(account.name)}!</p>
<h2>Campaigns</h2>
<p><a href="/api/campaigns">Campaigns (JSON)</a></p>
<table>
<tr><th>#</th><th>Name</th><th>Status</th><th>Sent</th><th></th></tr>
${campaignRows}
</table>
<h2>Exports</h2>
<ul>
<li><a href="/api/contacts/export">Export contacts (CSV)</a></li>
<li><a href="/api/contacts/export?rows=100000">Export contacts, 100k rows (CSV)</a></li>
</ul>
<nav aria-labelledby="account-management">
<h2 id="account-management">Account Management</h2>
<ul>
<li><a href="/_guard/security">Login &amp; Security</a> (password check, two-factor authentication, recovery codes)</li>
</ul>
</nav>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>`,
    );
  });

  router.get('/api/me', requireApi, (ctx) => {
    const a = accountOf(ctx);
    ctx.body = { email: a.email, name: a.name, phone: a.phone ?? null };
  });

  router.get('/api/campaigns', requireApi, (ctx) => {
    ctx.body = CAMPAIGNS;
  });

  const sendExport = (ctx: Context, filename: string): void => {
    const rows = parseBoundedInt(singleQuery(ctx, 'rows'), DEFAULT_EXPORT_ROWS, MAX_EXPORT_ROWS);
    if (rows === null) {
      ctx.status = 400;
      ctx.body = { error: 'bad_rows' };
      return;
    }
    ctx.set('Content-Type', 'text/csv; charset=utf-8');
    ctx.set('Content-Disposition', `attachment; filename="${filename}"`);
    ctx.body = createExportStream(rows);
    ctx.length = exportSize(rows); // set after body: known in advance thanks to fixed-width rows
  };
  const campaignExport = (ctx: RouterContext): void => {
    const id = (ctx.params['id'] ?? '').replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
    sendExport(ctx, `campaign-${id}-export.csv`);
  };
  const contactsExport = (ctx: Context): void => sendExport(ctx, 'contacts-export.csv');
  router.get('/api/campaigns/:id/export', requireApi, campaignExport);
  router.post('/api/campaigns/:id/export', requireApi, campaignExport);
  router.get('/api/contacts/export', requireApi, contactsExport);
  router.post('/api/contacts/export', requireApi, contactsExport);

  router.post('/api/echo', requireApi, (ctx) => {
    ctx.set('Content-Type', ctx.get('Content-Type') || 'application/octet-stream');
    const out = new PassThrough();
    pipeline(ctx.req, out, () => {
      /* errors surface through `out` → Koa's response pipeline */
    });
    ctx.body = out;
  });

  router.post('/api/upload', requireApi, async (ctx) => {
    ctx.body = await consumeBody(ctx.req);
  });

  router.get('/api/headers', (ctx) => {
    const headers = ctx.req.headers;
    ctx.body = {
      ...headers,
      method: ctx.req.method,
      url: ctx.req.url,
      headers,
      rawHeaders: ctx.req.rawHeaders,
    };
  });

  router.all('/debug/request{/*rest}', async (ctx) => {
    const { bytes, sha256: digest } = await consumeBody(ctx.req);
    ctx.body = {
      method: ctx.req.method,
      url: ctx.req.url,
      httpVersion: ctx.req.httpVersion,
      headers: ctx.req.headers,
      rawHeaders: ctx.req.rawHeaders,
      bodyBytes: bytes,
      bodySha256: digest,
    };
  });

  router.get('/api/slow', async (ctx) => {
    const ms = parseBoundedInt(singleQuery(ctx, 'ms'), 1000, MAX_SLOW_MS);
    if (ms === null) {
      ctx.status = 400;
      ctx.body = { error: 'bad_ms' };
      return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        ctx.res.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      ctx.res.once('close', done); // client went away: stop waiting
    });
    ctx.body = { ok: true };
  });

  router.get('/favicon.ico', (ctx) => {
    ctx.redirect('/static/logo.svg');
  });

  router.get('/static/{*path}', (ctx) => {
    const found = STATIC_ASSETS.get(ctx.params['path'] ?? '');
    if (!found) return; // → 404
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.set('ETag', found.etag);
    ctx.status = 200;
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.set('Content-Type', found.type);
    ctx.body = found.body;
  });

  app.use(router.routes());
  return { app, sessions };
}

// ---------------------------------------------------------------------------------------
// WebSocket echo + listener
// ---------------------------------------------------------------------------------------

/** Attaches the `/ws` echo endpoint to `server`'s upgrade event; any other upgrade path is destroyed. */
export function attachWebSocketEcho(server: http.Server): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws: WebSocket) => {
    ws.on('error', () => {});
    ws.on('message', (data: RawData, isBinary: boolean) => {
      ws.send(data, { binary: isBinary });
    });
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '', 'http://demo.invalid').pathname;
    } catch {
      socket.destroy();
      return;
    }
    if (pathname !== '/ws') {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  return wss;
}

export async function startDemoApp(
  options: DemoAppOptions & { host?: string; port?: number } = {},
): Promise<{ server: http.Server; url: string; close(): Promise<void> }> {
  const { host = '127.0.0.1', port = 0, ...appOptions } = options;
  const { app } = createDemoApp(appOptions);
  const server = http.createServer(app.callback());
  const wss = attachWebSocketEcho(server);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  const url = `http://${hostForUrl}:${addr.port}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };
  return { server, url, close };
}
