import { ChannelError } from './channel.ts';

/**
 * What the HTTP-based SMS channels (Twilio, webhook) share: one POST with a deadline, and the
 * mapping of its outcome to ChannelError. Users only ever see the fixed sentences below; the
 * provider's status and answer travel in `cause` for the logs.
 */

export const SMS_TRANSIENT = 'The text message could not be sent. Please try again in a moment.';
export const SMS_PERMANENT = 'The text message could not be sent. Please contact support if this keeps happening.';

/** The provider's answer to a failed request, kept as the ChannelError's cause. */
export class ProviderResponseError extends Error {
  constructor(
    readonly provider: string,
    readonly status: number,
    /** Provider error code when it sent one (Twilio's numeric `code`). */
    readonly code: string | number | undefined,
    /** At most a few KB of the response body; it never contains the message we sent. */
    readonly body: string,
  ) {
    super(`${provider} answered HTTP ${status}${code !== undefined ? ` (code ${code})` : ''}`);
    this.name = 'ProviderResponseError';
  }
}

/**
 * Parses and checks an endpoint URL: https, or http only to a loopback host (local gateways and
 * tests), because the request carries a live code and, for Twilio, credentials.
 */
export function endpointUrl(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${what} is not a valid URL`);
  }
  if (url.username || url.password) throw new Error(`${what} must not contain credentials`);
  const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new Error(`${what} must use https (http is only allowed to a loopback address)`);
  }
  return url;
}

interface PostResult {
  readonly status: number;
  readonly body: string;
}

/**
 * POSTs and reads at most `maxBody` bytes of the answer, all within `timeoutMs` (the signal covers
 * connecting, the headers and the body). Redirects are not followed: a provider endpoint that
 * redirects is misconfigured, and following would resend the code (and credentials) elsewhere.
 * Network failures and the deadline become transient ChannelErrors.
 */
export async function postWithDeadline(
  provider: string,
  url: URL,
  init: { headers: Record<string, string>; body: string },
  timeoutMs: number,
  maxBody = 8192,
): Promise<PostResult> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: init.headers,
      body: init.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new ChannelError(SMS_TRANSIENT, true, { cause: networkCause(provider, error) });
  }
  let body: string;
  try {
    body = await readLimited(response, maxBody);
  } catch (error) {
    // The provider answered but the body did not arrive in time: with a 2xx the message may well be
    // on its way, but we cannot know, so the caller discards the code and the user retries.
    throw new ChannelError(SMS_TRANSIENT, true, { cause: networkCause(provider, error) });
  }
  return { status: response.status, body };
}

/** Maps a completed exchange: 2xx ok; 429 and 5xx transient; everything else (3xx, 4xx) permanent. */
export function checkStatus(provider: string, result: PostResult, code?: string | number): void {
  const { status } = result;
  if (status >= 200 && status < 300) return;
  const cause = new ProviderResponseError(provider, status, code, result.body);
  const transient = status === 429 || status >= 500;
  throw new ChannelError(transient ? SMS_TRANSIENT : SMS_PERMANENT, transient, { cause });
}

function networkCause(provider: string, error: unknown): Error {
  const timedOut = error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError');
  return new Error(timedOut ? `${provider} did not answer in time` : `${provider} could not be reached`, { cause: error });
}

async function readLimited(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const room = maxBytes - size;
      chunks.push(value.byteLength > room ? value.subarray(0, room) : value);
      size += Math.min(value.byteLength, room);
      if (size >= maxBytes) {
        await reader.cancel().catch(() => undefined);
        break;
      }
    }
  } finally {
    reader.releaseLock();
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}
