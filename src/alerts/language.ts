import type { IncomingHttpHeaders } from 'node:http';
import { readCookies } from '../session/cookies.ts';
import { DEFAULT_LANG, isLang, LANG_COOKIE, matchLanguage, negotiateLanguage, type Lang } from '../i18n/language.ts';

/**
 * The language a request states, for the security alerts: the language switcher's cookie, else an
 * Accept-Language that names one of ours. Undefined when it states none (an API client without
 * the header): the account's known language, or the configured default, is then kept instead of
 * being overwritten by the pages' fallback.
 */
export function statedLanguage(headers: IncomingHttpHeaders): Lang | undefined {
  const chosen = readCookies(headers.cookie)[LANG_COOKIE];
  if (isLang(chosen)) return chosen;
  const raw = headers['accept-language'];
  const header = Array.isArray(raw) ? raw.join(',') : raw;
  if (!header) return undefined;
  const negotiated = negotiateLanguage(header);
  if (negotiated !== DEFAULT_LANG) return negotiated;
  const namesDefault = header.split(',').some((item) => {
    const [tag, ...params] = item.split(';');
    return matchLanguage(tag ?? '') === DEFAULT_LANG && !params.some((param) => /^\s*q\s*=\s*0(\.0*)?\s*$/i.test(param));
  });
  return namesDefault ? DEFAULT_LANG : undefined;
}
