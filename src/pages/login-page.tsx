import { Layout, renderPage } from './layout.tsx';

export interface LoginPageProps {
  readonly csrf: string;
  readonly returnTo: string;
  readonly email?: string;
  readonly error?: string;
  readonly notice?: string;
}

/** Email and password; the sidecar replays them to SmartPush, which still owns the password. */
export function renderLoginPage(props: LoginPageProps): string {
  return renderPage(
    <Layout title="Sign in">
      <h1>Sign in to SmartPush</h1>
      {props.notice ? <p role="status">{props.notice}</p> : null}
      {props.error ? (
        <p class="error" role="alert" id="login-error">
          {props.error}
        </p>
      ) : null}
      <form method="post" action="/_guard/login" novalidate>
        <input type="hidden" name="_csrf" value={props.csrf} />
        <input type="hidden" name="return_to" value={props.returnTo} />
        <label for="email">Email</label>
        <input
          id="email"
          name="email"
          type="email"
          autocomplete="username"
          required
          value={props.email ?? ''}
          {...(props.error ? { 'aria-describedby': 'login-error', 'aria-invalid': 'true' } : {})}
        />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        <button type="submit">Sign in</button>
      </form>
    </Layout>,
  );
}
