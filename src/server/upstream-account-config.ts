import type { Config } from '../config/schema.ts';
import { withQuery, type FormFetchConfig } from '../config/login-schema.ts';
import type { FormFetch, UpstreamAccountConfig } from '../flows/upstream-account.ts';
import type { Clock } from '../core/clock.ts';

/** The `login` config mapped once into what the upstream replay needs (serve and `login probe` alike). */

const formFetch = (form: FormFetchConfig | undefined): FormFetch | undefined =>
  form ? { fetch: form.fetch, page: form.page, selector: form.selector, hiddenFields: form.hidden_fields } : undefined;

/** The session cookies: `login.session_cookies`, else the success cookie(s). */
export function sessionCookieNames(config: Config): string[] {
  return [...new Set(config.login.session_cookies ?? config.login.success.cookie)];
}

export function upstreamAccountConfig(config: Config, clock: Clock): UpstreamAccountConfig {
  const upstream = new URL(config.upstream.url);
  const publicUrl = config.public_url !== undefined ? new URL(config.public_url) : undefined;
  const { login } = config;
  return {
    upstream,
    defaultHost: publicUrl?.host ?? upstream.host,
    defaultProto: (publicUrl ?? upstream).protocol === 'https:' ? 'https' : 'http',
    login: {
      path: withQuery(login.upstream.path, login.upstream.query),
      encoding: login.upstream.encoding,
      fields: login.upstream.fields,
      form: formFetch(login.upstream.form),
      extraFields: login.upstream.extra_fields,
      extraHeaders: login.upstream.extra_headers,
      returnField: login.upstream.return_field !== undefined ? { name: login.upstream.return_field, value: login.landing } : undefined,
    },
    timeoutMs: login.upstream.timeout,
    success: {
      status: login.success.status,
      location: login.success.location !== undefined ? new RegExp(login.success.location) : undefined,
      cookies: login.success.cookie,
      body: login.success.body !== undefined ? new RegExp(login.success.body) : undefined,
    },
    failure: login.failure
      ? {
          status: login.failure.status,
          location: login.failure.location !== undefined ? new RegExp(login.failure.location) : undefined,
          body: login.failure.body !== undefined ? new RegExp(login.failure.body) : undefined,
        }
      : undefined,
    sessionCookies: sessionCookieNames(config),
    logout: login.logout
      ? { path: withQuery(login.logout.path, login.logout.query), method: login.logout.method, form: formFetch(login.logout.form), extraFields: login.logout.extra_fields, check: login.logout.check }
      : undefined,
    clock,
  };
}
