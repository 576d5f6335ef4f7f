import http from 'node:http';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

/**
 * A small legacy app whose accounts are usernames (like Django's admin): a form login on
 * POST /login (`username`, `password`) answering 302 with an `app_session` cookie, and pages that
 * say who is signed in — GET /api/whoami (JSON) and GET /account (HTML with the email in an input)
 * — for the directory's profile and html kinds; GET /rotate re-issues the session cookie and
 * GET /become/NAME switches the session to another account. Usernames are case-sensitive, as in Django.
 */

export interface AppUser {
  readonly username: string;
  readonly password: string;
  readonly email: string | null;
  readonly phone?: string | null;
}

export interface UsernameApp {
  readonly url: string;
  /** Sessions the app holds, by cookie value. */
  readonly sessions: Map<string, string>;
  close(): Promise<void>;
}

/** `caseInsensitive`: the app matches usernames without case at login (as some apps do). */
export async function startUsernameApp(users: readonly AppUser[], options: { caseInsensitive?: boolean } = {}): Promise<UsernameApp> {
  const sessions = new Map<string, string>();
  const byName = new Map(users.map((u) => [u.username, u]));
  const atLogin = (name: string): AppUser | undefined =>
    options.caseInsensitive ? users.find((u) => u.username.toLowerCase() === name.toLowerCase()) : byName.get(name);
  const who = (req: http.IncomingMessage): AppUser | undefined => {
    const match = /(?:^|;\s*)app_session=([^;]+)/.exec(req.headers.cookie ?? '');
    const name = match ? sessions.get(match[1] as string) : undefined;
    return name === undefined ? undefined : byName.get(name);
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (req.method === 'POST' && path === '/login') {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        const user = atLogin(form.get('username') ?? '');
        if (!user || user.password !== form.get('password')) {
          res.writeHead(200, { 'content-type': 'text/html' }).end('<form>Please enter a correct username and password.</form>');
          return;
        }
        const id = randomBytes(16).toString('hex');
        sessions.set(id, user.username);
        res.writeHead(302, { location: '/home', 'set-cookie': `app_session=${id}; Path=/; HttpOnly` }).end();
        return;
      }
      const user = who(req);
      if (!user) {
        res.writeHead(302, { location: '/login' }).end();
        return;
      }
      // A session rotation (as on privilege change) and an auto-login into another account.
      if (path === '/rotate' || path.startsWith('/become/')) {
        const name = path === '/rotate' ? user.username : decodeURIComponent(path.slice('/become/'.length));
        const id = randomBytes(16).toString('hex');
        sessions.set(id, name);
        res.writeHead(200, { 'content-type': 'text/html', 'set-cookie': `app_session=${id}; Path=/; HttpOnly` }).end(`<p>now ${name}</p>`);
        return;
      }
      if (path === '/api/whoami') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ user: { username: user.username, email: user.email ?? '' }, phone: user.phone ?? null }));
        return;
      }
      if (path === '/account') {
        res
          .writeHead(200, { 'content-type': 'text/html' })
          .end(`<html><body><h1 class="who">Signed in as <b>${user.username}</b></h1><form><input name="email" value="${user.email ?? ''}"><span id="tel">Phone: ${user.phone ?? 'none'}</span></form></body></html>`);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<html><body>Hello ${user.username} at ${path}</body></html>`);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    sessions,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
