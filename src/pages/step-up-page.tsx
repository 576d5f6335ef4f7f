import { Layout, renderPage } from './layout.tsx';
import { CodeField, CsrfField, Messages, type PageMessage, type PageMethod, ResendButton } from './security-parts.tsx';

export interface StepUpPageProps extends PageMessage {
  readonly csrf: string;
  readonly method: PageMethod;
  /** Masked phone or address the code goes to (sms/email). */
  readonly destination: string | null;
  /** A code was sent: show the code field (always shown for an authenticator app). */
  readonly codeSent: boolean;
  readonly returnTo: string;
}

const WHERE: Record<PageMethod, (destination: string | null) => string> = {
  totp: () => 'Enter the 6-digit code your authenticator app shows for SmartPush.',
  sms: (d) => `We send a 6-digit code by text message to ${d ?? 'your phone'}.`,
  email: (d) => `We send a 6-digit code to ${d ?? 'your email address'}.`,
};

/** "Confirm it's you" before a sensitive operation such as a contact export. */
export function renderStepUpPage(props: StepUpPageProps): string {
  const showCode = props.method === 'totp' || props.codeSent;
  return renderPage(
    <Layout title="Confirm it's you">
      <h1>Confirm it’s you</h1>
      <p>This operation exports your data, so we check that it is really you. {WHERE[props.method](props.destination)}</p>
      <Messages error={props.error} notice={props.notice} />
      <form method="post" action="/_guard/step-up">
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="return_to" value={props.returnTo} />
        {showCode ? (
          <>
            <CodeField error={props.error} acceptsRecovery={props.method !== 'email'} />
            <button type="submit" name="action" value="verify">
              Verify and continue
            </button>
            <ResendButton method={props.method} value="send" />
          </>
        ) : (
          <button type="submit" name="action" value="send">
            Send the code
          </button>
        )}
      </form>
      <p class="muted">
        {props.method !== 'totp' ? <a href="/_guard/help/otp">Didn’t receive a code?</a> : null} <a href="/">Cancel</a>
      </p>
    </Layout>,
  );
}

/** After a verification without 2FA: the invitation to turn it on (DESIGN §3). */
export function renderNudgePage(props: { csrf: string; returnTo: string }): string {
  return renderPage(
    <Layout title="Protect your account">
      <h1>Protect your account with two-factor authentication</h1>
      <p>
        You just confirmed a sensitive operation with a code. With two-factor authentication on, signing in always
        needs a code as well, so a stolen password alone is not enough — and most exports then go through without
        extra checks.
      </p>
      <p>
        <a class="button" href="/_guard/security/enable">
          Enable now
        </a>
      </p>
      <form method="post" action="/_guard/step-up/nudge">
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="return_to" value={props.returnTo} />
        <button type="submit" class="secondary">
          Not now
        </button>
      </form>
    </Layout>,
  );
}
