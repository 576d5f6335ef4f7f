import http from 'node:http';

/**
 * The forward-auth parity suite's shared part: the decision matrix (the demo policy's rules, the
 * path-confusion spellings of THREATS T2/T23, the spoofed headers of T3) and the outcome classes
 * both modes are compared in. test/integration/forward-auth-*.test.ts send it through the full
 * proxy and through a real ingress.
 */

export type Outcome = 'pass' | 'login' | 'step_up' | 'signed_in_page' | 'refused';

/** What happened to a request, in terms both modes share. */
export function classify(status: number, location: string | null, body: string): Outcome {
  if (status === 400 || status === 403 || status === 421) return 'refused';
  if (status === 401) {
    if (/step_up_required/.test(body)) return 'step_up';
    if (/login_required/.test(body)) return 'login';
    return 'refused';
  }
  // The full proxy shows the signed-in state at the app's login URL itself (THREATS T22).
  if (status === 200 && /action="\/_guard\/logout"/.test(body)) return 'signed_in_page';
  if (status >= 300 && status < 400 && location) {
    const path = new URL(location, 'http://x').pathname;
    if (path === '/_guard/login') return 'login';
    if (path === '/_guard/step-up') return 'step_up';
    if (path === '/_guard/logout') return 'signed_in_page';
  }
  return 'pass';
}

/** The request target exactly as written (a URL object would resolve `%2e%2e` and `//` first). */
export function exactRequest(base: string, method: string, target: string, headers: Record<string, string>): Promise<{ status: number; location: string | null; text: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: target, method, headers: { ...headers, 'content-length': '0' }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location ?? null, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export async function outcome(base: string, method: string, target: string, headers: Record<string, string>): Promise<{ outcome: Outcome; status: number; body: string }> {
  const r = await exactRequest(base, method, target, headers);
  return { outcome: classify(r.status, r.location, r.text), status: r.status, body: r.text.slice(0, 200) };
}

export const MATRIX: ReadonlyArray<readonly [string, string]> = [
  ['GET', '/'],
  ['GET', '/dashboard'],
  ['GET', '/static/app.css'],
  ['GET', '/favicon.ico'],
  ['GET', '/api/contacts/export'],
  ['POST', '/api/contacts/export'],
  ['DELETE', '/api/contacts/export'],
  ['PUT', '/static/app.css'],
  ['GET', '/api/campaigns/7/export'],
  ['GET', '/api/contacts'],
  // Path confusion (THREATS T2, T23): each spelling must be decided as the path the app serves.
  ['GET', '/static/%2e%2e/api/contacts/export'],
  ['GET', '/static/%252e%252e/api/contacts/export'],
  ['GET', '/static/..%2fapi/contacts/export'],
  ['GET', '/API/contacts/export'],
  ['GET', '/api/contacts/export/'],
  ['GET', '/api//contacts/export'],
  ['GET', '/api/contacts/export;jsessionid=1'],
  ['GET', '/api/contacts/export?format=csv&format=json'],
  ['GET', '/static/app.css?x=%00'],
  // The app's own login and logout URLs.
  ['GET', '/login'],
  ['GET', '/logout'],
  // (POST /login: the full proxy reads the form and signs in; forward-auth never sees a body, so it
  // sends the browser to the sidecar's sign-in instead — its own test below.)
];

/** Headers a client may send to mislead a forward-auth deployment (THREATS T3). */
export const SPOOFING = {
  'x-original-url': 'http://127.0.0.1/static/app.css',
  'x-original-method': 'GET',
  'x-forwarded-uri': '/static/app.css',
  'x-forwarded-method': 'GET',
  'x-forwarded-host': 'evil.example',
  'x-auth-user': 'admin@example.com',
};

