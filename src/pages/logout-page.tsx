import { Layout } from './layout.tsx';
import { landingOf, renderPage, useUi, type PageUi } from './page-ui.tsx';
import { CsrfField } from './security-parts.tsx';

/** Signing out changes state, so it is a POST behind a button, never a bare GET (THREATS T11). */
function LogoutPage(props: { csrf: string }) {
  const { t, brand } = useUi();
  return (
    <Layout title={t.signOutTitle}>
      <h1>{t.signOutHeading(brand.product)}</h1>
      <p>{t.signOutText}</p>
      <form method="post" action="/_guard/logout">
        <CsrfField csrf={props.csrf} />
        <button type="submit">{t.signOutButton}</button>
      </form>
      <p>
        <a href={landingOf(brand)}>{t.staySignedIn}</a>
      </p>
    </Layout>
  );
}

export function renderLogoutPage(ui: PageUi, props: { csrf: string }): string {
  return renderPage(ui, <LogoutPage {...props} />);
}
