import { lazyModule } from '../core/lazy-module.ts';

/** tough-cookie (and its public-suffix list) is loaded on the first login replay, not at start. */
export const toughCookie = lazyModule<typeof import('tough-cookie')>('tough-cookie');

/**
 * Judges the upstream's answer to a replayed login. Only the configured success signal signs in
 * and only the configured failure signal is a wrong password (the one outcome that counts towards
 * lock-outs); every other answer — a 403 from a CSRF check, a 400 from a host allow-list, a 500, a
 * redirect nobody expected — is an upstream error, reported with what the upstream said.
 */

export interface SuccessSignal {
  readonly status: readonly number[];
  readonly location?: RegExp | undefined;
  /** Cookies the login answer must set (every one). */
  readonly cookies: readonly string[];
  readonly body?: RegExp | undefined;
}

export interface FailureSignal {
  readonly status?: readonly number[] | undefined;
  readonly location?: RegExp | undefined;
  readonly body?: RegExp | undefined;
}

export interface LoginAnswer {
  readonly status: number;
  readonly location: string;
  readonly setCookies: readonly string[];
  readonly body: string;
}

export interface Check {
  /** What was tested, e.g. `success.status in [302, 303]`. */
  readonly predicate: string;
  readonly holds: boolean;
  /** What the upstream actually sent (never a cookie value). */
  readonly actual: string;
}

export type Verdict = { readonly kind: 'success' | 'failure' | 'upstream_error'; readonly checks: readonly Check[] };

/** A Set-Cookie header read as a browser would: its name, value, and whether it deletes the cookie. */
export interface SetCookie {
  readonly name: string;
  readonly value: string;
  readonly deleted: boolean;
}

export function readSetCookie(header: string, now: number): SetCookie | null {
  const cookie = toughCookie().Cookie.parse(header, { loose: true });
  if (!cookie || !cookie.key) return null;
  const ttl = cookie.TTL(now);
  const expired = cookie.expires instanceof Date ? cookie.expires.getTime() <= now : false;
  return { name: cookie.key, value: cookie.value, deleted: cookie.value === '' || cookie.value === '""' || ttl <= 0 || expired };
}

/** Cookies an answer sets (a later header for the same name wins); deletions are kept as such. */
export function cookiesSet(setCookies: readonly string[], now: number): Map<string, SetCookie> {
  const found = new Map<string, SetCookie>();
  for (const header of setCookies) {
    const cookie = readSetCookie(header, now);
    if (cookie) found.set(cookie.name, cookie);
  }
  return found;
}

const statusList = (codes: readonly number[]): string => `[${codes.join(', ')}]`;

export function judgeLoginAnswer(answer: LoginAnswer, success: SuccessSignal, failure: FailureSignal | undefined, now: number): Verdict {
  const set = cookiesSet(answer.setCookies, now);
  const setNames = [...set.values()].filter((c) => !c.deleted).map((c) => c.name);
  const cookiesShown = setNames.length > 0 ? setNames.join(', ') : '(none)';
  const checks: Check[] = [];
  const check = (predicate: string, holds: boolean, actual: string): boolean => {
    checks.push({ predicate, holds, actual });
    return holds;
  };

  let ok = check(`success.status in ${statusList(success.status)}`, success.status.includes(answer.status), String(answer.status));
  if (success.location) ok = check(`success.location matches /${success.location.source}/`, success.location.test(answer.location), answer.location || '(no Location)') && ok;
  for (const name of success.cookies) ok = check(`success.cookie ${name} is set`, set.get(name)?.deleted === false, cookiesShown) && ok;
  if (success.body) ok = check(`success.body matches /${success.body.source}/`, success.body.test(answer.body), `${answer.body.length} bytes`) && ok;
  if (ok) return { kind: 'success', checks };

  let bad: boolean;
  if (failure) {
    bad = true;
    if (failure.status) bad = check(`failure.status in ${statusList(failure.status)}`, failure.status.includes(answer.status), String(answer.status)) && bad;
    if (failure.location) bad = check(`failure.location matches /${failure.location.source}/`, failure.location.test(answer.location), answer.location || '(no Location)') && bad;
    if (failure.body) bad = check(`failure.body matches /${failure.body.source}/`, failure.body.test(answer.body), `${answer.body.length} bytes`) && bad;
  } else {
    // The default failure signal: the app answered normally (2xx/3xx) and did not start a session.
    const normal = check('failure (default): status is 2xx or 3xx', answer.status >= 200 && answer.status < 400, String(answer.status));
    const noSession = check(
      `failure (default): no success cookie (${success.cookies.join(', ')}) set`,
      success.cookies.every((name) => set.get(name)?.deleted !== false),
      cookiesShown,
    );
    bad = normal && noSession;
  }
  return { kind: bad ? 'failure' : 'upstream_error', checks };
}
