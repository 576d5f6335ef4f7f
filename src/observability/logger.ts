import { pino, type Logger, type DestinationStream } from 'pino';

/**
 * Structured JSON logs. Anything that could carry a secret is redacted by path, so a careless
 * `log.info({ req })` cannot leak a cookie, a bearer token, a password or a code.
 */
export const REDACTED_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.cookie',
  'headers.authorization',
  '*.password',
  '*.code',
  '*.token',
  '*.secret',
  // Top level and one level down: credentials, codes shown once, cookies the sidecar withholds.
  // (A top-level `code` stays: it names error codes such as HPE_HEADER_OVERFLOW.)
  'password',
  'token',
  'secret',
  'cookie',
  'authorization',
  '*.cookie',
  '*.authorization',
  'recovery_codes',
  '*.recovery_codes',
  'recoveryCodes',
  '*.recoveryCodes',
  'otpauth_uri',
  '*.otpauth_uri',
  'totpSecret',
  '*.totpSecret',
  'setCookies',
  '*.setCookies',
  'upstreamSetCookies',
  '*.upstreamSetCookies',
  'upstreamCookies',
  '*.upstreamCookies',
  'cookieValue',
  '*.cookieValue',
  'headers["set-cookie"]',
];

export type { Logger };

let stampedMs = -1;
let stamp = '';
/**
 * pino's isoTime, formatted once per millisecond: under load several access-log lines share a
 * millisecond, and `toISOString` was a visible share of a proxied request's CPU.
 */
function isoTimeOncePerMs(): string {
  const now = Date.now();
  if (now !== stampedMs) {
    stampedMs = now;
    stamp = `,"time":"${new Date(now).toISOString()}"`;
  }
  return stamp;
}

/**
 * A stream is used as given (tests capture lines); a file descriptor or path gets a buffered
 * asynchronous writer, because a synchronous write per access-log line is a system call per
 * request on the hot path. Buffered lines are flushed when the process exits.
 */
export function createLogger(level: string, destination: DestinationStream | number | string = 1): Logger {
  const options = {
    level,
    base: { service: 'smartpush-guard' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: isoTimeOncePerMs,
  };
  if (typeof destination === 'object') return pino(options, destination);
  const stream = pino.destination({ dest: destination, sync: false, minLength: 4096 });
  // A quiet sidecar must not hold its lines back: what is buffered is written at least every second.
  setInterval(() => {
    stream.flush();
  }, 1000).unref();
  process.once('exit', () => {
    try {
      stream.flushSync();
    } catch {
      // Nothing more can be done for log lines at exit.
    }
  });
  return pino(options, stream);
}
