import type { ComponentChildren } from 'preact';
import { LANGUAGES, catalogue } from '../i18n/language.ts';
import { useUi } from './page-ui.tsx';

/**
 * The frame of every sidecar page. Rendered by Preact, which escapes every interpolated value, so
 * no page builds HTML from strings by hand. No inline script or style: the CSP forbids both; the
 * brand colours come from a generated stylesheet and the behaviour from /_guard/assets/guard.js,
 * which only adds to pages that work without it.
 */
export function Layout(props: { title: string; children: ComponentChildren; /** A same-origin path the page continues to by itself (a download starts, the page stays). */ refreshTo?: string }) {
  const { t, lang, brand } = useUi();
  return (
    <html lang={lang}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{t.siteTitle(props.title, brand.product)}</title>
        {/* A meta refresh works without script (the CSP allows no inline one) and keeps the page on a
            download; at once, as a timed refresh is a WCAG 2.2.1 failure. */}
        {props.refreshTo !== undefined ? <meta http-equiv="refresh" content={`0;url=${props.refreshTo}`} /> : null}
        {/* No icon: without this the browser asks the app for /favicon.ico, which needs a session. */}
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="/_guard/assets/guard.css" />
        <link rel="stylesheet" href="/_guard/assets/brand.css" />
        <script src="/_guard/assets/guard.js" defer />
      </head>
      <body>
        <a class="skip" href="#main">
          {t.skipToContent}
        </a>
        <header class="top">
          {brand.logoUrl ? <img class="logo" src={brand.logoUrl} alt={t.logoAlt(brand.product)} /> : <span class="product">{brand.product}</span>}
          <LanguageSwitcher />
        </header>
        <main class="card" id="main">
          {props.children}
        </main>
      </body>
    </html>
  );
}

/**
 * Plain links, so switching works without JavaScript: /_guard/lang sets the preference cookie and
 * returns to this page (a same-origin path only). Each language is named in itself.
 */
function LanguageSwitcher() {
  const { t, lang, here } = useUi();
  return (
    <nav class="languages" aria-label={t.languageSwitcher}>
      <ul>
        {LANGUAGES.map((option) => (
          <li>
            {option === lang ? (
              <span aria-current="true" lang={option}>
                {catalogue(option).languageName}
              </span>
            ) : (
              <a href={`/_guard/lang?set=${encodeURIComponent(option)}&return_to=${encodeURIComponent(here)}`} lang={option} hreflang={option}>
                {catalogue(option).languageName}
              </a>
            )}
          </li>
        ))}
      </ul>
    </nav>
  );
}
