import { Layout } from './layout.tsx';
import { renderPage, useUi, type PageUi } from './page-ui.tsx';
import { CodeField, CsrfField, HelpLink, Messages, ResendButton } from './security-parts.tsx';
import { SendStatus, type SendView } from './send-status.tsx';

export interface VerifyPageProps {
  readonly csrf: string;
  readonly method: 'totp' | 'sms' | 'email';
  readonly returnTo: string;
  readonly error?: string;
  readonly notice?: string;
  /** Seconds until another code may be sent, when known. */
  readonly resendAfter?: number;
  /** Sending as the server knows it now (sms/email); absent: the method's own instructions. */
  readonly send?: SendView | null;
  /** The account has recovery codes left (a 2FA sign-in); default true. */
  readonly recovery?: boolean;
}

/** The second sign-in step: the code of the user's method, or a recovery code. */
function VerifyPage(props: VerifyPageProps) {
  const { t } = useUi();
  const recovery = props.recovery ?? true;
  return (
    <Layout title={t.verifyTitle}>
      <h1>{t.verifyHeading}</h1>
      <Messages error={props.error} notice={props.notice} />
      {props.send ? <SendStatus send={props.send} /> : <p>{t.verifyInstructions[props.method]}</p>}
      <form method="post" action="/_guard/verify">
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="return_to" value={props.returnTo} />
        <CodeField error={props.error} acceptsRecovery={recovery} />
        <button type="submit" name="action" value="verify">
          {t.verifyButton}
        </button>
        <ResendButton method={props.method} resendAfter={props.resendAfter} />
      </form>
      <p class="muted">
        {recovery ? t.lostDevice : null} {props.method !== 'totp' ? <HelpLink /> : null}
      </p>
    </Layout>
  );
}

export function renderVerifyPage(ui: PageUi, props: VerifyPageProps): string {
  return renderPage(ui, <VerifyPage {...props} />);
}
