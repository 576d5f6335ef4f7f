/**
 * Signing in through the sidecar: `POST /_guard/api/login` (JSON). The sidecar replays the
 * credentials to the upstream's login route and keeps the upstream's cookie bound to its own
 * session (an upstream cookie sent without a sidecar session is withheld from the upstream).
 */

export interface Credentials {
  readonly email: string;
  readonly password: string;
}

/** One login; returns the Cookie header a browser would send afterwards (every Set-Cookie `name=value`). */
export async function loginThroughSidecar(sidecarUrl: string, credentials: Credentials): Promise<string> {
  const response = await fetch(new URL('/_guard/api/login', sidecarUrl), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(credentials),
  });
  const text = await response.text();
  if (response.status !== 200 || !text.includes('"authenticated"')) {
    throw new Error(`sidecar login failed: HTTP ${response.status} ${text.slice(0, 300)}`);
  }
  const cookies = response.headers
    .getSetCookie()
    .map((line) => line.split(';')[0] ?? '')
    .filter((pair) => pair.includes('=') && !pair.endsWith('='));
  if (cookies.length === 0) throw new Error('sidecar login: no session cookie in the answer');
  return cookies.join('; ');
}

/** `count` logins one after the other; resolves with the wall time of each, ms. Throws on the first failed login. */
export async function sequentialLogins(sidecarUrl: string, credentials: Credentials, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await loginThroughSidecar(sidecarUrl, credentials);
    times.push(performance.now() - started);
  }
  return times;
}
