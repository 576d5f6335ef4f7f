import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * What a page shows after a form post that failed or was refused (Post/Redirect/Get): the status,
 * the error or notice in the visitor's language, and the identifier typed on the sign-in page. It
 * travels in a cookie the sidecar signs (HMAC, key derived from the session keys) and binds to the
 * browser and the page it is for, so neither a URL nor another site can put words on a page.
 */
export interface Flash {
  readonly status: number;
  readonly error?: string | undefined;
  readonly notice?: string | undefined;
  /** The identifier the sign-in form had (shown again, never trusted for anything). */
  readonly email?: string | undefined;
}

const MAX_TEXT = 1000;

export function createFlash(csrfKey: Buffer): {
  seal(binding: string, path: string, flash: Flash): string;
  open(binding: string, path: string, value: string): Flash | null;
} {
  const key = createHmac('sha256', csrfKey).update('smartpush-guard flash v1').digest();
  const mac = (binding: string, path: string, payload: string): Buffer => createHmac('sha256', key).update(`${binding}\n${path}\n${payload}`).digest();
  return {
    seal(binding, path, flash) {
      const clip = (text: string | undefined): string | undefined => (text === undefined ? undefined : text.slice(0, MAX_TEXT));
      const payload = Buffer.from(JSON.stringify({ s: flash.status, e: clip(flash.error), n: clip(flash.notice), u: clip(flash.email) }), 'utf8').toString('base64url');
      return `${payload}.${mac(binding, path, payload).toString('base64url')}`;
    },
    open(binding, path, value) {
      const [payload, tag, extra] = value.split('.');
      if (payload === undefined || tag === undefined || extra !== undefined) return null;
      const given = Buffer.from(tag, 'base64url');
      const expected = mac(binding, path, payload);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      } catch {
        return null;
      }
      if (typeof parsed !== 'object' || parsed === null) return null;
      const { s, e, n, u } = parsed as Record<string, unknown>;
      if (typeof s !== 'number' || !Number.isInteger(s) || s < 200 || s > 599) return null;
      const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
      return { status: s, error: text(e), notice: text(n), email: text(u) };
    },
  };
}
