/**
 * The streamed-export case: log in to the demo app directly (through the sidecar: sidecar-login.ts), then download a CSV
 * export as fast as the socket delivers it, counting and discarding the bytes.
 */
import http from 'node:http';

export const DEMO_EMAIL = 'merchant@example.com';
export const DEMO_PASSWORD = 'smartpush-demo';

/** POST /login on the demo app itself; returns the `sp_session=…` cookie pair. */
export async function loginToDemo(demoUrl: string): Promise<string> {
  const body = new URLSearchParams({ email: DEMO_EMAIL, password: DEMO_PASSWORD }).toString();
  const response = await fetch(new URL('/login', demoUrl), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body,
  });
  await response.arrayBuffer();
  const cookie = response.headers
    .getSetCookie()
    .map((line) => line.split(';')[0] ?? '')
    .find((pair) => pair.startsWith('sp_session=') && pair.length > 'sp_session='.length);
  if (response.status !== 302 || !cookie) throw new Error(`demo login failed: HTTP ${response.status}, no sp_session cookie`);
  return cookie;
}

export interface Download {
  readonly status: number;
  readonly bytes: number;
  readonly expectedBytes: number | undefined;
  readonly seconds: number;
  /** 10^6 bytes per second. */
  readonly mbPerSecond: number;
}

/** GET the URL with the cookie, consume the body with no processing, resolve when it has ended. */
export function download(url: string, cookie: string): Promise<Download> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const request = http.get(url, { headers: { Cookie: cookie, Accept: 'text/csv' }, agent: false }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      response.once('error', reject);
      response.once('end', () => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const length = response.headers['content-length'];
        resolve({
          status: response.statusCode ?? 0,
          bytes,
          expectedBytes: length === undefined ? undefined : Number(length),
          seconds,
          mbPerSecond: bytes / 1e6 / seconds,
        });
      });
      response.once('aborted', () => reject(new Error(`${url}: response aborted after ${bytes} bytes`)));
    });
    request.once('error', reject);
  });
}
