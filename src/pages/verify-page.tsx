import { Layout, renderPage } from './layout.tsx';
import { ResendButton } from './security-parts.tsx';

export interface VerifyPageProps {
  readonly csrf: string;
  readonly method: 'totp' | 'sms' | 'email';
  readonly returnTo: string;
  readonly product: string;
  readonly error?: string;
  readonly notice?: string;
}

const INSTRUCTIONS: Record<VerifyPageProps['method'], string> = {
  totp: 'Open your authenticator app and enter the 6-digit code it shows for SmartPush.',
  sms: 'We sent a 6-digit code by text message to the phone number on your account.',
  email: 'We sent a 6-digit code to your email address.',
};

/** The second sign-in step: the code of the user's method, or a recovery code. */
export function renderVerifyPage(props: VerifyPageProps): string {
  return renderPage(
    <Layout title="Verification code">
      <h1>Enter your verification code</h1>
      <p>{INSTRUCTIONS[props.method]}</p>
      {props.notice ? <p role="status">{props.notice}</p> : null}
      {props.error ? (
        <p class="error" role="alert" id="code-error">
          {props.error}
        </p>
      ) : null}
      <form method="post" action="/_guard/verify">
        <input type="hidden" name="_csrf" value={props.csrf} />
        <input type="hidden" name="return_to" value={props.returnTo} />
        <label for="code">Verification code</label>
        <input
          id="code"
          name="code"
          type="text"
          inputmode="numeric"
          autocomplete="one-time-code"
          maxlength={20}
          required
          {...(props.error ? { 'aria-describedby': 'code-error', 'aria-invalid': 'true' } : {})}
        />
        <button type="submit" name="action" value="verify">
          Verify
        </button>
        <ResendButton method={props.method} />
      </form>
      <p class="muted">
        Lost your device? Enter one of your recovery codes instead.{' '}
        {props.method !== 'totp' ? <a href="/_guard/help/otp">Didn’t receive a code?</a> : null}
      </p>
    </Layout>,
  );
}
