import { browserLabelParts } from '../flows/browser-label.ts';
import { useUi } from './page-ui.tsx';
import { CsrfField } from './security-parts.tsx';

/**
 * "Remembered browsers" on Login & Security (issue 17): the browsers that skip the sign-in second
 * factor, each with "Forget", and "Forget all". Plain POST forms with the session's form token,
 * answered with a 303 back to the page (Post/Redirect/Get, src/http/remembered-browsers.ts).
 */

interface RememberedBrowserItem {
  readonly id: string;
  readonly label: string;
  /** Dates as shown (YYYY-MM-DD). */
  readonly lastUsed: string;
  readonly expires: string;
  /** The browser showing the page. */
  readonly current: boolean;
}

export interface RememberedBrowsersSectionProps {
  readonly csrf: string;
  readonly browsers: readonly RememberedBrowserItem[];
}

export const FORGET_BROWSER_PATH = '/_guard/security/remembered-browsers/forget';

export function RememberedBrowsersSection(props: RememberedBrowsersSectionProps) {
  const { t } = useUi();
  return (
    <section aria-labelledby="remembered-browsers-heading">
      <h2 id="remembered-browsers-heading">{t.rememberedBrowsersHeading}</h2>
      <p class="muted">{t.rememberedBrowsersText}</p>
      {props.browsers.length === 0 ? (
        <p id="remembered-browsers-none">{t.rememberedBrowsersNone}</p>
      ) : (
        <>
          <ul id="remembered-browsers">
            {props.browsers.map((b) => {
              const parts = browserLabelParts(b.label);
              const name = t.sessionDevice(parts.browser, parts.os);
              return (
                <li data-browser-id={b.id}>
                  <strong>{name}</strong>
                  {b.current ? ` (${t.rememberedBrowserThis})` : ''}
                  <br />
                  <small class="muted">{t.rememberedBrowserDates(b.lastUsed, b.expires)}</small>
                  <form method="post" action={FORGET_BROWSER_PATH}>
                    <CsrfField csrf={props.csrf} />
                    <input type="hidden" name="id" value={b.id} />
                    <button type="submit" class="secondary" aria-label={t.forgetBrowserLabel(name)}>
                      {t.forgetBrowser}
                    </button>
                  </form>
                </li>
              );
            })}
          </ul>
          <form method="post" action={FORGET_BROWSER_PATH}>
            <CsrfField csrf={props.csrf} />
            <input type="hidden" name="all" value="1" />
            <button type="submit" class="secondary" id="forget-all-browsers">
              {t.forgetAllBrowsers}
            </button>
          </form>
        </>
      )}
    </section>
  );
}
