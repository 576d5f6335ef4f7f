/**
 * How long until another code may be sent, carried across a Post/Redirect/Get as `?wait=<seconds>`
 * so the next page's resend button can count it down (guard.js). Only a hint for the display: the
 * flows enforce the real cooldown whatever the URL says, so a bad value is ignored, not refused.
 */

const MAX_WAIT_SECONDS = 3600;

export function waitParam(seconds: number | undefined): string | undefined {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) return undefined;
  return String(Math.min(MAX_WAIT_SECONDS, Math.ceil(seconds)));
}

export function readWait(value: unknown): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (typeof text !== 'string' || !/^[0-9]{1,4}$/.test(text)) return undefined;
  const seconds = Number(text);
  return seconds > 0 && seconds <= MAX_WAIT_SECONDS ? seconds : undefined;
}
