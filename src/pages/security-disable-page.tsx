import { Layout, renderPage } from './layout.tsx';
import { BackToSecurity, CodeField, CsrfField, Messages, PasswordField, Steps, methodDescription, StartAgainOrBack, type PageMessage, type PageMethod } from './security-parts.tsx';

/** Turning 2FA off: password → a code of the current method (or a recovery code) → confirm. */

export type DisableView =
  | { readonly step: 'password' }
  | { readonly step: 'code'; readonly method: PageMethod; readonly destination: string | null }
  | { readonly step: 'confirm' }
  | { readonly step: 'restart'; readonly notEnabled: boolean };

export type DisableProps = PageMessage & {
  readonly csrf: string;
  readonly product: string;
  readonly view: DisableView;
};

const ACTION = '/_guard/security/disable';
const WARNING = 'Without two-factor authentication, anyone who learns your password can sign in.';

function Warning() {
  return (
    <p class="warning">
      <strong>Your account will be less secure.</strong> {WARNING}
    </p>
  );
}

function body(props: DisableProps) {
  const view = props.view;
  switch (view.step) {
    case 'password':
      return (
        <>
          <Steps current={1} total={3}>
            Confirm it’s you
          </Steps>
          <h1>Turn off two-factor authentication</h1>
          <Warning />
          <Messages error={props.error} notice={props.notice} />
          <form method="post" action={ACTION}>
            <CsrfField csrf={props.csrf} />
            <input type="hidden" name="step" value="password" />
            <PasswordField error={props.error} />
            <button type="submit">Continue</button>
          </form>
          <BackToSecurity label="Cancel, keep it on" />
        </>
      );
    case 'code': {
      const instructions =
        view.method === 'totp'
          ? 'Enter the 6-digit code your authenticator app shows.'
          : `We sent a 6-digit code: ${methodDescription(view.method, view.destination)}.`;
      return (
        <>
          <Steps current={2} total={3}>
            Enter your code
          </Steps>
          <h1>Enter your verification code</h1>
          <p>{instructions} Lost your device? Enter one of your recovery codes instead.</p>
          <Messages error={props.error} notice={props.notice} />
          <form method="post" action={ACTION}>
            <CsrfField csrf={props.csrf} />
            <input type="hidden" name="step" value="code" />
            <CodeField label="Verification code or recovery code" error={props.error} acceptsRecovery />
            <button type="submit">Continue</button>
          </form>
          {view.method !== 'totp' ? (
            <p class="muted">
              <a href={ACTION}>Send a new code</a> (you will enter your password again) · <a href="/_guard/help/otp">Didn’t receive a code?</a>
            </p>
          ) : null}
          <BackToSecurity label="Cancel, keep it on" />
        </>
      );
    }
    case 'confirm':
      return (
        <>
          <Steps current={3} total={3}>
            Confirm
          </Steps>
          <h1>Turn off two-factor authentication?</h1>
          <Warning />
          <p>Your recovery codes stop working, and your other sessions are signed out. You can turn it on again at any time.</p>
          <Messages error={props.error} notice={props.notice} />
          <form method="post" action={ACTION}>
            <CsrfField csrf={props.csrf} />
            <input type="hidden" name="step" value="confirm" />
            <button type="submit" class="danger">
              Turn off two-factor authentication
            </button>
          </form>
          <BackToSecurity label="Cancel, keep it on" />
        </>
      );
    case 'restart':
      return (
        <>
          <h1>Turn off two-factor authentication</h1>
          <Messages error={props.error} notice={props.notice} />
          <StartAgainOrBack href={ACTION} back={view.notEnabled} />
        </>
      );
  }
}

export function renderDisablePage(props: DisableProps): string {
  return renderPage(<Layout title="Turn off two-factor authentication">{body(props)}</Layout>);
}
