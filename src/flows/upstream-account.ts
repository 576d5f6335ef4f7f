import type { CookieJar } from 'tough-cookie';
import { cookiesSet, judgeLoginAnswer, toughCookie } from './login-answer.ts';
import { cookieHeader, locationOf, maskCookieHeader, REDACTED, UpstreamReplay, type Answer, type LogoutResult, type PasswordCheckResult, type ReplayContext, type Trace } from './upstream-replay.ts';

export type { FormFetch, LogoutResult, PasswordCheckResult, ReplayContext, ReplayStep, Trace, UpstreamAccountConfig } from './upstream-replay.ts';

/**
 * The upstream's own account endpoints, called server-side as a browser would call them. The
 * upstream keeps checking passwords: the sidecar fetches the login page in the pending login's own
 * cookie jar, copies the form's hidden fields, posts the credentials with the same Host and
 * X-Forwarded-* as proxied traffic, and judges the answer by the configured signals. The session
 * cookies it gets back stay server-side (bound to the sidecar session); logout is verified.
 */
export class UpstreamAccount extends UpstreamReplay {
  async checkPassword(identifier: string, password: string, context: ReplayContext, trace?: Trace): Promise<PasswordCheckResult> {
    const { login } = this.config;
    const jar = new (toughCookie().CookieJar)();
    const fields: Array<[string, string]> = [];
    const put = (name: string, value: string): void => {
      const at = fields.findIndex(([n]) => n === name);
      if (at === -1) fields.push([name, value]);
      else fields[at] = [name, value];
    };
    const page = login.form?.page ?? login.path;
    if (login.form?.fetch) {
      const read = await this.readForm(jar, page, login.form, { passwordField: login.fields.password }, context, 'Fetch the login page', trace);
      if (!read.ok) {
        return read.unavailable
          ? { ok: false, reason: 'unavailable', detail: read.detail }
          : { ok: false, reason: 'upstream_error', detail: read.detail, status: read.status, location: read.location };
      }
      for (const [name, value] of read.form.fields) put(name, value);
    }
    for (const [name, value] of Object.entries(login.extraFields)) put(name, value);
    if (login.returnField) put(login.returnField.name, login.returnField.value);
    put(login.fields.identifier, identifier);
    put(login.fields.password, password);
    const json = login.encoding === 'json';
    const body = json ? JSON.stringify(Object.fromEntries(fields)) : new URLSearchParams(fields).toString();
    const { answer, cookieHeader } = await this.sendInJar(
      jar,
      'POST',
      login.path,
      {
        ...login.extraHeaders,
        ...this.browserHeaders(context, page),
        'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded',
        accept: 'text/html,application/json;q=0.9',
      },
      context,
      body,
    );
    const copied = new Set(Object.keys(login.extraFields));
    const request = {
      method: 'POST',
      path: login.path,
      headers: { ...login.extraHeaders, ...(cookieHeader ? { cookie: maskCookieHeader(cookieHeader) } : {}) },
      fields: fields.map(([name, value]): [string, string] => [
        name,
        name === login.fields.password ? REDACTED : name === login.fields.identifier || copied.has(name) || name === login.returnField?.name ? value : `‹${value.length} characters›`,
      ]),
    };
    if ('error' in answer) {
      trace?.({ title: 'Post the credentials', request, problem: answer.error });
      return { ok: false, reason: 'unavailable', detail: `POST ${login.path}: ${answer.error}` };
    }
    const now = this.config.clock.now();
    const location = locationOf(answer);
    const verdict = judgeLoginAnswer(
      { status: answer.status, location, setCookies: answer.headers['set-cookie'] ?? [], body: answer.body.toString('utf8') },
      this.config.success,
      this.config.failure,
      now,
    );
    trace?.({ title: 'Post the credentials', request, response: this.stepResponse(answer), checks: verdict.checks });
    if (verdict.kind === 'failure') return { ok: false, reason: 'rejected' };
    if (verdict.kind === 'upstream_error') {
      const failed = verdict.checks.filter((c) => !c.holds).map((c) => `${c.predicate} (got ${c.actual})`);
      return {
        ok: false,
        reason: 'upstream_error',
        detail: `POST ${login.path} answered ${answer.status}: neither success nor failure — ${failed.join('; ')}`,
        status: answer.status,
        location: location || null,
      };
    }
    const bound: Record<string, string> = {};
    const all = await jar.getCookies(this.siteUrl(context, login.path), { allPaths: true });
    for (const cookie of all) if (this.sessionNames.has(cookie.key)) bound[cookie.key] = cookie.value;
    const missing = this.config.sessionCookies.filter((name) => bound[name] === undefined);
    if (missing.length > 0) {
      return { ok: false, reason: 'upstream_error', detail: `the session cookie(s) ${missing.join(', ')} were not set`, status: answer.status, location: location || null };
    }
    // Released to the browser once every step passed; the bound names are for the release to drop (DESIGN §2).
    return { ok: true, setCookies: answer.headers['set-cookie'] ?? [], upstreamCookies: bound };
  }

  /** A jar holding the bound session, as the browser-visible site would. */
  private async sessionJar(cookies: Readonly<Record<string, string>>, context: ReplayContext): Promise<CookieJar> {
    const jar = new (toughCookie().CookieJar)();
    const now = new Date(this.config.clock.now());
    for (const [name, value] of Object.entries(cookies)) await jar.setCookie(`${name}=${value}; Path=/`, this.siteUrl(context, '/'), { now, ignoreError: true, loose: true });
    return jar;
  }

  /**
   * Whether an answer ended the session: every session cookie deleted, or (with `logout.check`)
   * the old session refused afterwards.
   */
  private async judgeLogout(answer: Answer, cookies: Readonly<Record<string, string>>, context: ReplayContext, trace: Trace | undefined): Promise<LogoutResult> {
    const set = cookiesSet(answer.headers['set-cookie'] ?? [], this.config.clock.now());
    // The cookies whose setting signalled the sign-in are the ones whose deletion signals the end
    // (a PHP app may leave its pre-login PHPSESSID in place while destroying the session).
    const signal = this.config.success.cookies.filter((name) => cookies[name] !== undefined);
    const names = signal.length > 0 ? signal : Object.keys(cookies);
    if (names.length > 0 && names.every((name) => set.get(name)?.deleted === true)) return { ok: true, how: 'cookie_deleted' };
    const check = this.config.logout?.check;
    if (check !== undefined) {
      const probe = await this.send('GET', check, { accept: 'text/html', cookie: cookieHeader(cookies) }, context);
      if ('error' in probe) return { ok: false, detail: `GET ${check} after the logout: ${probe.error}`, status: answer.status, location: locationOf(answer) || null };
      const refused = probe.status === 401 || probe.status === 403 || (probe.status >= 300 && probe.status < 400 && this.isLoginLocation(locationOf(probe)));
      trace?.({
        title: 'Check that the old session is refused',
        request: { method: 'GET', path: check, headers: { cookie: names.map((n) => `${n}=…`).join('; ') } },
        response: this.stepResponse(probe),
        checks: [{ predicate: 'answer is 401/403 or a redirect to the login page', holds: refused, actual: `${probe.status}${locationOf(probe) ? ` → ${locationOf(probe)}` : ''}` }],
      });
      if (refused) return { ok: true, how: 'session_refused' };
      return { ok: false, detail: `the old session still works: GET ${check} answered ${probe.status}`, status: answer.status, location: locationOf(answer) || null };
    }
    return {
      ok: false,
      detail: `the logout answer (${answer.status}) did not delete the session cookie(s) ${names.join(', ')}`,
      status: answer.status,
      location: locationOf(answer) || null,
    };
  }

  /** A Location that points at the upstream's login page (the session is no longer accepted). */
  isLoginLocation(location: string): boolean {
    if (!location) return false;
    let path: string;
    try {
      path = new URL(location, 'http://upstream.invalid/').pathname;
    } catch {
      return false;
    }
    const login = this.config.login;
    const pathOf = (p: string): string => p.split('?', 1)[0] ?? p;
    if (path !== pathOf(login.path) && (login.form?.page === undefined || path !== pathOf(login.form.page))) return false;
    // Apps routed by query string serve every page from one script (`/doku.php?id=…`): only a
    // Location that also names the login route's own parameters (`do=login`) is the login page.
    // The form page's other parameters (`next=`) are return addresses, not the route.
    const route = new URLSearchParams(login.path.includes('?') ? login.path.slice(login.path.indexOf('?') + 1) : '');
    const query = new URL(location, 'http://upstream.invalid/').searchParams;
    for (const [name, value] of route) {
      if (query.get(name)?.toLowerCase() !== value.toLowerCase()) return false;
    }
    return true;
  }

  /**
   * Ends the upstream session named by `cookies` by replaying the configured logout (carrying the
   * app's CSRF token from its own page when `logout.form` says so), then verifies it ended.
   */
  async logout(cookies: Readonly<Record<string, string>>, context: ReplayContext, trace?: Trace): Promise<LogoutResult> {
    const logout = this.config.logout;
    if (!logout || Object.keys(cookies).length === 0) return { ok: true, how: 'not_configured' };
    const jar = await this.sessionJar(cookies, context);
    const fields: Array<[string, string]> = [];
    if (logout.form?.fetch) {
      const page = logout.form.page ?? logout.path;
      const read = await this.readForm(jar, page, logout.form, { actionPath: logout.path }, context, 'Fetch the page with the logout form', trace);
      if (!read.ok) return { ok: false, detail: read.detail, status: read.status, location: read.location };
      fields.push(...read.form.fields.map(([n, v]): [string, string] => [n, v]));
    }
    for (const [name, value] of Object.entries(logout.extraFields)) fields.push([name, value]);
    const post = logout.method === 'POST';
    const { answer, cookieHeader } = await this.sendInJar(
      jar,
      logout.method,
      logout.path,
      post ? { ...this.browserHeaders(context, logout.form?.page ?? logout.path), 'content-type': 'application/x-www-form-urlencoded' } : {},
      context,
      post ? new URLSearchParams(fields).toString() : undefined,
    );
    const request = { method: logout.method, path: logout.path, headers: { cookie: maskCookieHeader(cookieHeader) }, ...(post ? { fields: fields.map(([n, v]): [string, string] => [n, `‹${v.length} characters›`]) } : {}) };
    if ('error' in answer) {
      trace?.({ title: 'Sign out of the app', request, problem: answer.error });
      return { ok: false, detail: `${logout.method} ${logout.path}: ${answer.error}`, status: null, location: null };
    }
    trace?.({ title: 'Sign out of the app', request, response: this.stepResponse(answer) });
    return this.judgeLogout(answer, cookies, context, trace);
  }

  /**
   * The browser's own logout request (its form, with the CSRF token the app's page gave it),
   * forwarded with the bound session; verified like a replayed one.
   */
  async forwardLogout(
    request: { readonly method: 'POST'; readonly path: string; readonly cookieHeader: string | undefined; readonly contentType: string; readonly body: string },
    cookies: Readonly<Record<string, string>>,
    context: ReplayContext,
  ): Promise<LogoutResult> {
    const answer = await this.send(
      request.method,
      request.path,
      { ...(request.cookieHeader ? { cookie: request.cookieHeader } : {}), 'content-type': request.contentType, ...this.browserHeaders(context, request.path) },
      context,
      request.body,
    );
    if ('error' in answer) return { ok: false, detail: `${request.method} ${request.path}: ${answer.error}`, status: null, location: null };
    return this.judgeLogout(answer, cookies, context, undefined);
  }

  /** Whether a logout is configured that the sidecar can replay. */
  get replaysLogout(): boolean {
    return this.config.logout !== undefined;
  }

  /** A GET of an app page with an upstream session (the directory's profile and html kinds). */
  async fetchWithSession(
    path: string,
    cookies: Readonly<Record<string, string>>,
    accept: string,
    requestId: string,
  ): Promise<{ status: number; body: Buffer } | { error: string }> {
    const answer = await this.send('GET', path, { accept, cookie: cookieHeader(cookies) }, { forwardedFor: '127.0.0.1', requestId });
    return 'error' in answer ? answer : { status: answer.status, body: answer.body };
  }

  close(): void {
    this.agent.destroy();
  }
}
