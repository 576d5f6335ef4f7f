import { Layout } from './layout.tsx';
import { landingOf, renderPage, useUi, type PageUi } from './page-ui.tsx';
import { CodeField, CodeHelp, CsrfField, Messages, RecoveryCodeForm, type PageMessage, type PageMethod, ResendButton } from './security-parts.tsx';

export interface StepUpPageProps extends PageMessage {
  readonly csrf: string;
  readonly method: PageMethod;
  /** Masked phone or address the code goes to (sms/email). */
  readonly destination: string | null;
  /** A code was sent: show the code field (always shown for an authenticator app). */
  readonly codeSent: boolean;
  readonly returnTo: string;
  /** The sensitive rule's description, in the page's language. */
  readonly description?: string | undefined;
  /** The code would go by email/SMS but no destination is known: explain instead of offering a send. */
  readonly noDestination?: boolean | undefined;
  /** Seconds until another code may be sent, when known. */
  readonly resendAfter?: number | undefined;
  /** A recovery code counts here (the check is of the enrolled 2FA method, not a plain email code). */
  readonly recovery?: boolean | undefined;
}

/** "Confirm it's you" before a sensitive operation such as a contact export. */
function StepUpPage(props: StepUpPageProps) {
  const { t, brand } = useUi();
  const showCode = props.method === 'totp' || props.codeSent;
  return (
    <Layout title={t.confirmItsYou}>
      <h1>{t.confirmItsYou}</h1>
      <Messages error={props.error} notice={props.notice} />
      <p>
        {props.description !== undefined ? `${props.description} ${t.stepUpCheck}` : t.stepUpText}
        {props.noDestination ? null : ` ${t.stepUpWhere[props.method](props.destination, brand.product)}`}
      </p>
      {props.noDestination ? (
        <p class="error" role="alert">
          {t.stepUpNoEmail(brand.support)}
        </p>
      ) : (
      <form method="post" action="/_guard/step-up">
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="return_to" value={props.returnTo} />
        {showCode ? (
          <>
            <CodeField error={props.error} acceptsRecovery={props.recovery === true} />
            <button type="submit" name="action" value="verify">
              {t.verifyAndContinue}
            </button>
            <ResendButton method={props.method} value="send" resendAfter={props.resendAfter} />
          </>
        ) : (
          <button type="submit" name="action" value="send">
            {t.sendTheCode}
          </button>
        )}
      </form>
      )}
      {props.recovery && !props.noDestination ? <RecoveryCodeForm action="/_guard/step-up" csrf={props.csrf} fields={{ return_to: props.returnTo, action: 'verify' }} /> : null}
      <CodeHelp method={props.method} />
      <p class="muted">
        <a href={landingOf(brand)}>{t.cancel}</a>
      </p>
    </Layout>
  );
}

export function renderStepUpPage(ui: PageUi, props: StepUpPageProps): string {
  return renderPage(ui, <StepUpPage {...props} />);
}

/** After a verification without 2FA: the invitation to turn it on (DESIGN §3). */
function NudgePage(props: { csrf: string; returnTo: string }) {
  const { t } = useUi();
  return (
    <Layout title={t.nudgeTitle}>
      <h1>{t.nudgeHeading}</h1>
      <p>{t.nudgeText}</p>
      <p>
        <a class="button" href="/_guard/security/enable">
          {t.enableNow}
        </a>
      </p>
      <form method="post" action="/_guard/step-up/nudge">
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="return_to" value={props.returnTo} />
        <button type="submit" class="secondary">
          {t.notNow}
        </button>
      </form>
    </Layout>
  );
}

export function renderNudgePage(ui: PageUi, props: { csrf: string; returnTo: string }): string {
  return renderPage(ui, <NudgePage {...props} />);
}
