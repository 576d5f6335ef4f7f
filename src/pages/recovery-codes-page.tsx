import { Layout, renderPage } from './layout.tsx';
import { BackToSecurity, CodeField, CsrfField, Messages, RecoveryCodeList, methodDescription, StartAgainOrBack, type PageMessage, type PageMethod, ResendButton } from './security-parts.tsx';

/** New recovery codes: a fresh code of the current method, then the ten new codes, shown once. */

export type RecoveryView =
  | { readonly step: 'start'; readonly method: PageMethod; readonly destination: string | null }
  | { readonly step: 'code'; readonly method: PageMethod; readonly destination: string | null }
  | { readonly step: 'codes'; readonly recoveryCodes: readonly string[] }
  | { readonly step: 'restart'; readonly notEnabled: boolean };

export type RecoveryProps = PageMessage & {
  readonly csrf: string;
  readonly view: RecoveryView;
};

const ACTION = '/_guard/security/recovery-codes';

function body(props: RecoveryProps) {
  const view = props.view;
  switch (view.step) {
    case 'start':
      return (
        <>
          <h1>Generate new recovery codes</h1>
          <p>New codes replace all your current recovery codes: the old ones stop working.</p>
          <p>
            {view.method === 'totp'
              ? 'You will confirm with a code from your authenticator app.'
              : `You will confirm with a code we send: ${methodDescription(view.method, view.destination)}.`}
          </p>
          <Messages error={props.error} notice={props.notice} />
          <form method="post" action={ACTION}>
            <CsrfField csrf={props.csrf} />
            <input type="hidden" name="step" value="start" />
            <button type="submit">Continue</button>
          </form>
          <BackToSecurity label="Cancel" />
        </>
      );
    case 'code':
      return (
        <>
          <h1>Enter your verification code</h1>
          <p>
            {view.method === 'totp'
              ? 'Enter the 6-digit code your authenticator app shows.'
              : `We sent a 6-digit code: ${methodDescription(view.method, view.destination)}.`}{' '}
            New codes replace all your current recovery codes.
          </p>
          <Messages error={props.error} notice={props.notice} />
          <form method="post" action={ACTION}>
            <CsrfField csrf={props.csrf} />
            <input type="hidden" name="step" value="code" />
            <CodeField error={props.error} />
            <button type="submit" name="action" value="confirm">
              Generate new codes
            </button>
            <ResendButton method={view.method} />
          </form>
          {view.method !== 'totp' ? (
            <p class="muted">
              <a href="/_guard/help/otp">Didn’t receive a code?</a>
            </p>
          ) : null}
          <BackToSecurity label="Cancel" />
        </>
      );
    case 'codes':
      return (
        <>
          <h1>Your new recovery codes</h1>
          <p role="status">Your previous recovery codes no longer work. We also sent you an email about this change.</p>
          <RecoveryCodeList codes={view.recoveryCodes} />
          <p>
            <a class="button" href="/_guard/security?done=codes">
              I saved my codes — back to Login &amp; Security
            </a>
          </p>
        </>
      );
    case 'restart':
      return (
        <>
          <h1>Generate new recovery codes</h1>
          <Messages error={props.error} notice={props.notice} />
          <StartAgainOrBack href={ACTION} back={view.notEnabled} />
        </>
      );
  }
}

export function renderRecoveryCodesPage(props: RecoveryProps): string {
  return renderPage(<Layout title="Recovery codes">{body(props)}</Layout>);
}
