import type { SessionView } from '../flows/active-sessions.ts';
import type { Catalogue } from '../i18n/en.ts';
import { useUi } from './page-ui.tsx';
import { CsrfField } from './security-parts.tsx';

/**
 * "Active sessions" on Login & Security: one list item per live session of the account, each under
 * its own heading (browser and OS), with the network it signed in from, when, when it was last
 * active, and a sign-out button (a plain form: no JavaScript). The browser viewing the page is
 * marked and has no button here (signing out is the page's own sign-out link).
 */

export interface ActiveSessionsView {
  readonly csrf: string;
  readonly sessions: readonly SessionView[];
}

/** "Chrome 120 on Windows", or what is known of it. */
export function deviceName(t: Catalogue, view: Pick<SessionView, 'browser' | 'os'>): string {
  return t.sessionDevice(view.browser, view.os);
}

/** A time as people read it on this page: `2026-12-03 02:15 UTC` (the same form the notification emails use). */
const shown = (ms: number): string => new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';

function When(props: { ms: number }) {
  return <time datetime={new Date(props.ms).toISOString()}>{shown(props.ms)}</time>;
}

export function ActiveSessionsSection(props: ActiveSessionsView) {
  const { t } = useUi();
  const others = props.sessions.filter((s) => !s.current).length;
  return (
    <section id="active-sessions" aria-labelledby="active-sessions-heading">
      <h2 id="active-sessions-heading">{t.activeSessionsTitle}</h2>
      <p>{t.activeSessionsIntro}</p>
      <ul class="sessions">
        {props.sessions.map((s, i) => (
          <li class="session" id={`session-${i + 1}`} data-current={s.current ? 'true' : undefined}>
            <h3>
              {deviceName(t, s)} {s.current ? <span class="badge">{t.sessionThisBrowser}</span> : null}
            </h3>
            <dl class="facts">
              <dt>{t.sessionNetwork}</dt>
              <dd>
                {s.network ?? t.sessionNetworkUnknown}
                {s.place ? ` (${s.place})` : ''}
              </dd>
              <dt>{t.sessionSignedIn}</dt>
              <dd>
                <When ms={s.signedInAt} />
              </dd>
              <dt>{t.sessionLastSeen}</dt>
              <dd>
                <When ms={s.lastSeenAt} />
              </dd>
            </dl>
            {s.current ? null : (
              <form method="post" action="/_guard/security/sessions/revoke">
                <CsrfField csrf={props.csrf} />
                <input type="hidden" name="handle" value={s.handle} />
                <button type="submit" class="secondary">
                  {t.sessionSignOut}
                  <span class="offscreen"> {deviceName(t, s)}</span>
                </button>
              </form>
            )}
          </li>
        ))}
      </ul>
      {others > 0 ? (
        <form method="post" action="/_guard/security/sessions/revoke-others">
          <CsrfField csrf={props.csrf} />
          <button type="submit">{t.sessionsSignOutOthers}</button>
        </form>
      ) : (
        <p class="muted">{t.sessionsOnlyThis}</p>
      )}
      <p class="muted">{t.sessionsNetworkNote}</p>
    </section>
  );
}
