import { Layout } from './layout.tsx';
import { renderPage, useUi, type PageUi } from './page-ui.tsx';
import { CodeField, CodeHelp, CsrfField, Messages, RecoveryCodeForm, ResendButton } from './security-parts.tsx';
import { SendStatus, type SendView } from './send-status.tsx';
import { PasskeyAssertForm, type PasskeyFormView } from './passkey-parts.tsx';

interface VerifyPageProps {
  readonly csrf: string;
  readonly method: 'totp' | 'sms' | 'email';
  /** Where the code went, masked (`m•••@example.com`); null for an authenticator app or when unknown. */
  readonly destination?: string | null | undefined;
  /** The account has 2FA (so recovery codes); a risk-only email code does not. */
  readonly twoFactor?: boolean | undefined;
  readonly returnTo: string;
  readonly error?: string;
  readonly notice?: string;
  readonly warning?: string;
  /** Seconds until another code may be sent, when known. */
  readonly resendAfter?: number;
  /** Sending as the server knows it now (sms/email); absent: the method's own instructions. */
  readonly send?: SendView | null;
  /** The account has recovery codes left (a 2FA sign-in); default true. */
  readonly recovery?: boolean;
  /** "Don't ask again on this browser for N days" is offered (a 2FA sign-in, feature on). */
  readonly rememberDays?: number | undefined;
  /** The account's passkeys can finish this sign-in (src/pages/passkey-parts.tsx). */
  readonly passkey?: PasskeyFormView | null | undefined;
}

/** The "remember this browser" checkbox (issue 17), with what it means. */
function RememberField(props: { days: number }) {
  const { t } = useUi();
  return (
    <label class="choice" for="remember">
      <input type="checkbox" id="remember" name="remember" value="1" aria-describedby="remember-hint" />
      <span>
        {t.rememberBrowser(props.days)}
        <br />
        <small class="muted" id="remember-hint">
          {t.rememberBrowserHint}
        </small>
      </span>
    </label>
  );
}

/** The second sign-in step: the code of the user's method, or (with 2FA) a recovery code. */
function VerifyPage(props: VerifyPageProps) {
  const { t } = useUi();
  // A recovery code is offered to 2FA accounts that have some left (never to a risk-only sign-in).
  const recovery = (props.recovery ?? true) && props.twoFactor !== false;
  const where = props.method !== 'totp' && props.destination ? t.verifyWhere[props.method](props.destination) : t.verifyInstructions[props.method];
  return (
    <Layout title={t.verifyTitle}>
      <h1>{t.verifyHeading}</h1>
      <Messages error={props.error} notice={props.notice} warning={props.warning} />
      {props.send ? <SendStatus send={props.send} /> : <p id="code-destination">{where}</p>}
      <form method="post" action="/_guard/verify">
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="return_to" value={props.returnTo} />
        <CodeField error={props.error} acceptsRecovery={recovery} />
        {props.rememberDays !== undefined && props.twoFactor !== false ? <RememberField days={props.rememberDays} /> : null}
        <button type="submit" name="action" value="verify">
          {t.verifyButton}
        </button>
        <ResendButton method={props.method} resendAfter={props.resendAfter} />
      </form>
      {recovery ? <RecoveryCodeForm action="/_guard/verify" csrf={props.csrf} fields={{ return_to: props.returnTo, action: 'verify' }} /> : null}
      {props.passkey ? <PasskeyAssertForm action="/_guard/verify/passkey" csrf={props.csrf} view={props.passkey} fields={{ return_to: props.returnTo }} /> : null}
      <CodeHelp method={props.method} />
    </Layout>
  );
}

export function renderVerifyPage(ui: PageUi, props: VerifyPageProps): string {
  return renderPage(ui, <VerifyPage {...props} />);
}
