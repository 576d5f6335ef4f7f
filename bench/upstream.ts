/**
 * The tiny upstream of the pass-through cases: plain node:http, keep-alive. Run by
 * server-processes.ts as its own process. It answers
 *
 * - `GET /static/**`: a fixed 1 KiB body (the public pass-through case);
 * - `POST /login` (urlencoded `email`, `password`): password `bench-password` → `302 Location:
 *   /dashboard` with `Set-Cookie: sp_session=<random>; Path=/; HttpOnly`, anything else → 200 with
 *   the form again, like a legacy app (what the sidecar's login replays to);
 * - `GET /api/me`: `{"email": …}` of the account that logged in with the `sp_session` cookie, 401
 *   without one (the sidecar's profile endpoint; not on any measured path);
 * - any other `GET`/`HEAD` (e.g. `/app/data`, the authenticated pass-through case): the same fixed
 *   1 KiB body. Cookies are not checked, so the answer costs what the static one costs and the
 *   comparison stays about the proxy in front.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { announceReady, exitWithParent, failStartup } from './announce-ready.ts';
import { BENCH_PASSWORD, STATIC_BODY_BYTES, staticBody } from './upstream-body.ts';

exitWithParent();

const body = staticBody();
const notFound = Buffer.from('Not Found');
const loginForm = Buffer.from('<!doctype html><title>Sign in</title><form method="post" action="/login"><p>Wrong email or password.</p></form>');

/** sp_session value → email, for GET /api/me. Bounded: the oldest sessions are forgotten first. */
const sessions = new Map<string, string>();
const MAX_SESSIONS = 100_000;

function readBody(req: http.IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size <= limit ? Buffer.concat(chunks).toString('utf8') : null));
    req.on('error', () => resolve(null));
  });
}

async function login(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const text = await readBody(req, 16 * 1024);
  const form = new URLSearchParams(text ?? '');
  const email = form.get('email')?.trim() ?? '';
  if (text === null || email.length === 0 || form.get('password') !== BENCH_PASSWORD) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': loginForm.length });
    res.end(loginForm);
    return;
  }
  const session = randomBytes(24).toString('base64url');
  if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value as string);
  sessions.set(session, email);
  res.writeHead(302, {
    Location: '/dashboard',
    'Set-Cookie': `sp_session=${session}; Path=/; HttpOnly`,
    'Content-Length': 0,
  });
  res.end();
}

function me(req: http.IncomingMessage, res: http.ServerResponse): void {
  const match = /(?:^|;\s*)sp_session=([^;]*)/.exec(req.headers.cookie ?? '');
  const email = match ? sessions.get(match[1] as string) : undefined;
  const json = Buffer.from(email === undefined ? '{"error":"not_signed_in"}' : JSON.stringify({ email }));
  res.writeHead(email === undefined ? 401 : 200, {
    'Content-Type': 'application/json',
    'Content-Length': json.length,
    'Cache-Control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : json);
}

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const url = req.url ?? '/';
  if (req.method === 'GET' || req.method === 'HEAD') {
    if (url.startsWith('/static/')) {
      res.writeHead(200, {
        'Content-Type': 'text/css; charset=utf-8',
        'Content-Length': STATIC_BODY_BYTES,
        'Cache-Control': 'public, max-age=3600',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (url === '/api/me') {
      me(req, res);
      return;
    }
    // Any other page of the "app" (e.g. /app/data): the same body, as cheap as the static answer.
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': STATIC_BODY_BYTES,
      'Cache-Control': 'private, no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  if (req.method === 'POST' && url === '/login') {
    login(req, res).catch((error: unknown) => {
      console.error(error);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
    return;
  }
  req.resume();
  res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': notFound.length });
  res.end(notFound);
});
server.on('error', failStartup);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  announceReady(`http://127.0.0.1:${port}`);
});
