import { Layout, renderPage } from './layout.tsx';
import { CsrfField, Messages, methodDescription, type PageMessage, type PageMethod } from './security-parts.tsx';

export interface SecurityPageProps extends PageMessage {
  readonly csrf: string;
  readonly email: string;
  readonly product: string;
  readonly support: string;
  readonly enabled: boolean;
  readonly method: PageMethod | null;
  /** Already masked (`+1 •••• ••89`, `m•••@example.com`); null for the authenticator app. */
  readonly destination: string | null;
  readonly recoveryCodesLeft: number | null;
}

/** "Login & Security": the account, whether 2FA is on and how, and what can be changed. */
export function renderSecurityPage(props: SecurityPageProps): string {
  const left = props.recoveryCodesLeft ?? 0;
  return renderPage(
    <Layout title="Login & Security">
      <h1>Login &amp; Security</h1>
      <Messages {...props} />
      <dl class="facts">
        <dt>Email</dt>
        <dd>{props.email}</dd>
        <dt>Two-factor authentication</dt>
        <dd id="two-factor-status">{props.enabled ? 'On' : 'Off'}</dd>
        {props.enabled && props.method ? (
          <>
            <dt>Verification method</dt>
            <dd id="two-factor-method">{methodDescription(props.method, props.destination)}</dd>
            <dt>Recovery codes left</dt>
            <dd id="recovery-codes-left">{String(left)}</dd>
          </>
        ) : null}
      </dl>
      {props.enabled ? (
        <>
          {left <= 3 ? (
            <p class="warning">
              {left === 0 ? 'You have no recovery codes left.' : `Only ${left} recovery code${left === 1 ? '' : 's'} left.`} Generate new ones so you can still
              sign in if you lose your device.
            </p>
          ) : null}
          <form method="post" action="/_guard/security/recovery-codes">
            <CsrfField csrf={props.csrf} />
            <input type="hidden" name="step" value="start" />
            <button type="submit" class="secondary">
              Generate new recovery codes
            </button>
          </form>
          <p>
            <a class="button danger" href="/_guard/security/disable">
              Turn off two-factor authentication
            </a>
          </p>
        </>
      ) : (
        <>
          <p>
            Two-factor authentication protects your {props.product} account even if someone learns your password: signing in also needs a code from
            your phone or email.
          </p>
          <p>
            <a class="button" href="/_guard/security/enable">
              Enable two-factor authentication
            </a>
          </p>
        </>
      )}
      <p class="muted">
        To change the email or phone used for verification, or if you lost your device, contact support: {props.support}
      </p>
      <p class="muted">
        <a href="/">Back to {props.product}</a> · <a href="/_guard/logout">Sign out</a>
      </p>
    </Layout>,
  );
}
