import { Layout, renderPage } from './layout.tsx';

/** Signing out changes state, so it is a POST behind a button, never a bare GET (THREATS T11). */
export function renderLogoutPage(props: { csrf: string }): string {
  return renderPage(
    <Layout title="Sign out">
      <h1>Sign out of SmartPush?</h1>
      <p>You will need your password (and your verification code, if you use two-factor authentication) to sign in again.</p>
      <form method="post" action="/_guard/logout">
        <input type="hidden" name="_csrf" value={props.csrf} />
        <button type="submit">Sign out</button>
      </form>
      <p>
        <a href="/">Stay signed in</a>
      </p>
    </Layout>,
  );
}
