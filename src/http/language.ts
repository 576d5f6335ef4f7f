import type { Context } from 'koa';
import { stringifySetCookie } from 'cookie';
import { isLang, LANG_COOKIE } from '../i18n/language.ts';
import type { GuardHttp } from './guard-http.ts';
import { sendError } from './answer.ts';
import { safeReturnTo } from './return-to.ts';

/**
 * The language switcher's target: `GET /_guard/lang?set=zh-CN&return_to=/_guard/login` stores the
 * choice in the `spg_lang` cookie (a preference, not a secret; the upstream never sees it, like
 * every spg_ cookie) and goes back to the page, which must be a same-origin path (return-to.ts);
 * anything else lands on the login page. An unknown language is a 400, not a silent default.
 */

const ONE_YEAR = 365 * 24 * 3600;

export function setLanguage(http: GuardHttp, ctx: Context): void {
  const lang = ctx.query['set'];
  if (!isLang(lang)) {
    sendError(ctx, 400, 'unknown_language', 'Choose a language: en or zh-CN.');
    return;
  }
  http.appendSetCookie(ctx, [
    stringifySetCookie({ name: LANG_COOKIE, value: lang, path: '/', maxAge: ONE_YEAR, httpOnly: true, sameSite: 'lax', secure: http.secure(ctx) }),
  ]);
  http.redirect(ctx, safeReturnTo(ctx.query['return_to'], '/_guard/login', { guardPages: true }));
}
