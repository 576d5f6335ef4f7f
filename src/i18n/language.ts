import type { IncomingHttpHeaders } from 'node:http';
import { parseCookie } from 'cookie';
import { en, type Catalogue } from './en.ts';
import { zhCN } from './zh-cn.ts';

/**
 * Which language a page is in: the visitor's own choice (the `spg_lang` cookie the language
 * switcher sets), else the browser's Accept-Language with its q-values, else English. The cookie is
 * a preference, not a secret; an unknown value in it is ignored.
 */

export const LANGUAGES = ['en', 'zh-CN'] as const;
export type Lang = (typeof LANGUAGES)[number];
export const DEFAULT_LANG: Lang = 'en';
export const LANG_COOKIE = 'spg_lang';

const CATALOGUES: Readonly<Record<Lang, Catalogue>> = { en, 'zh-CN': zhCN };

export function catalogue(lang: Lang): Catalogue {
  return CATALOGUES[lang];
}

/**
 * A language tag as one of ours: `en`, `en-GB` → en; `zh`, `zh-CN`, `zh-Hans`, `zh-Hans-CN`,
 * `zh-SG` → zh-CN. Traditional Chinese (zh-TW, zh-HK, zh-Hant) is not Simplified: no match.
 */
export function matchLanguage(tag: string): Lang | null {
  const parts = tag.trim().toLowerCase().split(/[-_]/);
  if (parts[0] === 'en') return 'en';
  if (parts[0] !== 'zh') return null;
  const rest = parts.slice(1);
  if (rest.includes('hant') || rest.includes('tw') || rest.includes('hk') || rest.includes('mo')) return null;
  return 'zh-CN';
}

/** RFC 9110 §12.5.4: the highest q wins, ties keep header order, q=0 means "not this one". */
export function negotiateLanguage(header: string | undefined): Lang {
  if (!header) return DEFAULT_LANG;
  let best: { lang: Lang; q: number } | null = null;
  for (const item of header.split(',').slice(0, 32)) {
    const [tagPart, ...params] = item.split(';');
    const tag = tagPart?.trim() ?? '';
    if (tag === '' || tag === '*') continue;
    let q = 1;
    for (const param of params) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(param);
      if (m?.[1] !== undefined) q = Math.min(1, Number(m[1]));
    }
    if (q <= 0) continue;
    const lang = matchLanguage(tag);
    if (lang && (best === null || q > best.q)) best = { lang, q };
  }
  return best?.lang ?? DEFAULT_LANG;
}

export function isLang(value: unknown): value is Lang {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);
}

export function requestLanguage(headers: IncomingHttpHeaders): Lang {
  // Parsed here rather than with session/cookies.ts (a layer above): the same parser, the same result.
  const chosen = headers.cookie ? parseCookie(headers.cookie)[LANG_COOKIE] : undefined;
  if (isLang(chosen)) return chosen;
  const accept = headers['accept-language'];
  return negotiateLanguage(Array.isArray(accept) ? accept.join(',') : accept);
}
