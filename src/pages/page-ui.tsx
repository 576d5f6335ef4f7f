import type { IncomingHttpHeaders } from 'node:http';
import { createContext, type ComponentChildren } from 'preact';
import { useContext } from 'preact/hooks';
import { renderToString } from 'preact-render-to-string';
import type { Catalogue } from '../i18n/en.ts';
import { catalogue, requestLanguage, type Lang } from '../i18n/language.ts';

/**
 * What every page needs besides its own props: the language (and its catalogue) and the
 * merchant-facing brand from config. Handed down through a Preact context so the parts of a page
 * do not each take it as a prop.
 */

export interface Brand {
  readonly product: string;
  readonly support: string;
  /** URL of the configured logo under /_guard/assets/, or null for none. */
  readonly logoUrl: string | null;
  /** What people sign in with (`login.identifier`): the login field's label and type. Default email. */
  readonly identifier?: 'email' | 'username' | undefined;
  /** Where "back" and "cancel" links go (`login.landing`). Default `/`. */
  readonly landing?: string | undefined;
  /** The app's own password reset page (`login.forgot_password_url`), linked from the sign-in page. */
  readonly forgotPasswordUrl?: string | undefined;
}

/** The site's landing path for back/cancel links. */
export const landingOf = (brand: Brand): string => brand.landing ?? '/';

export interface PageUi {
  readonly lang: Lang;
  readonly t: Catalogue;
  readonly brand: Brand;
  /** This page's own path and query: where the language switcher comes back to. */
  readonly here: string;
}

export const DEFAULT_BRAND: Brand = { product: 'SmartPush', support: 'your SmartPush administrator', logoUrl: null };

/** The UI of the page answering a request with these headers at this URL. */
export function pageUi(brand: Brand, headers: IncomingHttpHeaders, url: string): PageUi {
  const lang = requestLanguage(headers);
  return { lang, t: catalogue(lang), brand, here: url };
}

const UiContext = createContext<PageUi | null>(null);

export function useUi(): PageUi {
  const ui = useContext(UiContext);
  if (!ui) throw new Error('a page part was rendered outside renderPage');
  return ui;
}

/** Renders a page: the doctype, and the UI context every part reads its words from. */
export function renderPage(ui: PageUi, node: ComponentChildren): string {
  return '<!doctype html>' + renderToString(<UiContext.Provider value={ui}>{node}</UiContext.Provider>);
}
