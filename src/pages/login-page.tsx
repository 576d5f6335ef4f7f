import { Layout } from './layout.tsx';
import { renderPage, useUi, type PageUi } from './page-ui.tsx';
import { CsrfField, Messages, ERROR_ID } from './security-parts.tsx';

interface LoginPageProps {
  readonly csrf: string;
  readonly returnTo: string;
  readonly email?: string;
  readonly error?: string;
  readonly notice?: string;
}

/** Identifier (email or username, as login.identifier says) and password; the sidecar replays them to the upstream, which still owns the password. */
function LoginPage(props: LoginPageProps) {
  const { t, brand } = useUi();
  const byUsername = brand.identifier === 'username';
  const invalid = props.error ? { 'aria-describedby': ERROR_ID, 'aria-invalid': 'true' as const } : {};
  return (
    <Layout title={t.signInTitle}>
      <h1>{t.signInHeading(brand.product)}</h1>
      <Messages error={props.error} notice={props.notice} />
      <form method="post" action="/_guard/login" novalidate>
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="return_to" value={props.returnTo} />
        {/* The field keeps the name "email" for both kinds: it is the identifier the JSON API also takes as email. */}
        <label for="email">{byUsername ? t.username : t.email}</label>
        {byUsername ? (
          <input id="email" name="email" type="text" autocomplete="username" autocapitalize="off" spellcheck={false} required value={props.email ?? ''} {...invalid} />
        ) : (
          <input id="email" name="email" type="email" autocomplete="username" autocapitalize="off" spellcheck={false} required value={props.email ?? ''} {...invalid} />
        )}
        <label for="password">{t.password}</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required {...invalid} />
        <button type="submit">{t.signInButton}</button>
      </form>
      {/* Only the app resets passwords: the link goes to its own page, as configured. */}
      {brand.forgotPasswordUrl ? (
        <p class="signin-help">
          <a href={brand.forgotPasswordUrl}>{t.forgotPassword}</a>
        </p>
      ) : null}
      <p class="muted signin-help">{t.signInHelp(brand.support)}</p>
    </Layout>
  );
}

export function renderLoginPage(ui: PageUi, props: LoginPageProps): string {
  return renderPage(ui, <LoginPage {...props} />);
}
