import { Layout } from './layout.tsx';
import { renderPage, useUi, type PageUi } from './page-ui.tsx';
import { CsrfField } from './security-parts.tsx';

interface LogoutPageProps {
  readonly csrf: string;
  /** Where "stay signed in" leads (`login.landing`). */
  readonly landing: string;
  /** The signed-in account. */
  readonly signedInAs?: string | undefined;
  /** The visitor came by the app's own login URL while signed in: say so rather than ask. */
  readonly alreadySignedIn?: boolean | undefined;
}

/**
 * Signing out changes state, so it is a POST behind a button, never a bare GET (THREATS T11, T22).
 * The app's own login and logout URLs, opened while signed in, show this page too: who is signed
 * in, the sign-out button, and the way back.
 */
function LogoutPage(props: LogoutPageProps) {
  const { t, brand } = useUi();
  const already = props.alreadySignedIn === true;
  return (
    <Layout title={already ? t.alreadySignedInTitle : t.signOutTitle}>
      <h1>{already ? t.alreadySignedInHeading(brand.product) : t.signOutHeading(brand.product)}</h1>
      {props.signedInAs !== undefined ? <p>{t.signedInAs(props.signedInAs)}</p> : null}
      <p>{t.signOutText}</p>
      <form method="post" action="/_guard/logout">
        <CsrfField csrf={props.csrf} />
        <button type="submit">{t.signOutButton}</button>
      </form>
      <p>
        <a href={props.landing}>{already ? t.continueTo(brand.product) : t.staySignedIn}</a>
      </p>
    </Layout>
  );
}

export function renderLogoutPage(ui: PageUi, props: LogoutPageProps): string {
  return renderPage(ui, <LogoutPage {...props} />);
}
