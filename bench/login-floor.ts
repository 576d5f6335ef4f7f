/**
 * The HTTP a sidecar sign-in cannot do without, and nothing else: the reference the bench's sign-in
 * CPU is read against. It takes `POST /_guard/api/login` (JSON), replays the credentials to the
 * upstream's `POST /login` (form), reads the account with `GET /api/me` and the upstream's session
 * cookie, and answers `{"status":"authenticated"}` with a session-sized Set-Cookie: the three HTTP
 * exchanges of a sidecar sign-in, over keep-alive connections, with no session, risk, audit,
 * throttle, log or cookie jar. Keeps one tick object alive, as the sidecar and the bare proxy do.
 * Usage: node --import tsx bench/login-floor.ts <upstream-url>
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { keepTickShape } from '../src/server/tick-shape.ts';
import { announceReady, exitWithParent, failStartup } from './announce-ready.ts';

exitWithParent();
keepTickShape();

const target = process.argv[2];
if (!target) failStartup(new Error('usage: login-floor.ts <upstream-url>'));
const upstream = new URL(target);
const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
// The length of the sidecar's sealed session cookie (Iron, a session handle inside).
const SESSION_COOKIE = `__Host-spg_session=${'x'.repeat(330)}; Path=/; HttpOnly; Secure; SameSite=Lax`;

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

function send(method: 'GET' | 'POST', path: string, headers: http.OutgoingHttpHeaders, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { hostname: upstream.hostname, port: upstream.port, method, path, agent, headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function signIn(credentials: { email?: unknown; password?: unknown }): Promise<boolean> {
  const form = new URLSearchParams({ email: String(credentials.email ?? ''), password: String(credentials.password ?? '') }).toString();
  const login = await send('POST', '/login', { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, form);
  if (login.status !== 302) return false;
  const cookie = (login.headers['set-cookie'] ?? []).map((line) => line.split(';', 1)[0]).join('; ');
  const me = await send('GET', '/api/me', { cookie, accept: 'application/json' });
  return me.status === 200 && typeof (JSON.parse(me.body.toString('utf8')) as { email?: unknown }).email === 'string';
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    signIn(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { email?: unknown; password?: unknown }).then(
      (ok) => {
        const body = JSON.stringify(ok ? { status: 'authenticated' } : { error: 'invalid_credentials' });
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(ok ? { 'set-cookie': SESSION_COOKIE } : {}) });
        res.end(body);
      },
      () => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('Bad Gateway');
      },
    );
  });
});
server.on('error', failStartup);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  announceReady(`http://127.0.0.1:${port}`);
});
