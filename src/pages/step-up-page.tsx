import { Layout } from './layout.tsx';
import { landingOf, renderPage, useUi, type PageUi } from './page-ui.tsx';
import { CodeField, CodeHelp, CsrfField, Messages, RecoveryCodeForm, type PageMessage, type PageMethod, ResendButton } from './security-parts.tsx';
import { SendStatus, type SendView } from './send-status.tsx';
import { RecoveryCodeInput } from './security-parts.tsx';
import { PasskeyAssertForm, type PasskeyFormView } from './passkey-parts.tsx';

interface StepUpPageProps extends PageMessage {
  readonly csrf: string;
  readonly method: PageMethod;
  /** Masked phone or address the code goes to (sms/email). */
  readonly destination: string | null;
  /** Sending as the server knows it now (sms/email); null: nothing was asked for yet or an app. */
  readonly send: SendView | null;
  /** A recovery code can be used here (the account has some left, and the rule accepts them). */
  readonly recovery: boolean;
  readonly returnTo: string;
  /** The sensitive rule's description, in the page's language. */
  readonly description?: string | undefined;
  /** The code would go by email/SMS but no destination is known: explain instead of offering a send. */
  readonly noDestination?: boolean | undefined;
  /** The account's passkeys can answer this step-up (src/pages/passkey-parts.tsx). */
  readonly passkey?: PasskeyFormView | null | undefined;
  /** The rule asks for a phishing-resistant factor: only a passkey answers it (no code, no recovery code). */
  readonly passkeyOnly?: boolean | undefined;
}

/** A recovery code on its own form, usable before (or instead of) sending a code. */
function RecoveryForm(props: { csrf: string; returnTo: string; error?: string | undefined; /** The way that still works (no code can be sent now). */ primary: boolean }) {
  const { t } = useUi();
  return (
    <form method="post" action="/_guard/step-up" class="recovery">
      <p>{t.stepUpRecovery}</p>
      <CsrfField csrf={props.csrf} />
      <input type="hidden" name="return_to" value={props.returnTo} />
      <RecoveryCodeInput error={props.error} />
      <button type="submit" name="action" value="verify" {...(props.primary ? {} : { class: 'secondary' })}>
        {t.submitRecoveryCode}
      </button>
    </form>
  );
}

/** "Confirm it's you" before a sensitive operation such as a contact export. */
function StepUpPage(props: StepUpPageProps) {
  const { t, brand } = useUi();
  if (props.passkeyOnly) return <PasskeyOnlyStepUp {...props} />;
  const send = props.send;
  // The code field is there when there is a code to enter: the app's, or a sent one still live.
  const showCode = props.method === 'totp' || (send !== null && send.live);
  const refused = send !== null && send.refused !== null;
  const asked = send !== null && (send.live || refused);
  return (
    <Layout title={t.confirmItsYou}>
      <h1>{t.confirmItsYou}</h1>
      <Messages error={props.error} notice={props.notice} />
      <p>
        {props.description !== undefined ? `${props.description} ${t.stepUpCheck}` : t.stepUpText}
        {props.noDestination || asked ? null : ` ${t.stepUpWhere[props.method](props.destination, brand.product)}`}
      </p>
      {send !== null && asked ? <SendStatus send={send} /> : null}
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
              <CodeField error={props.error} acceptsRecovery={props.recovery} />
              <button type="submit" name="action" value="verify">
                {t.verifyAndContinue}
              </button>
              <ResendButton method={props.method} value="send" resendAfter={send?.resendAfter} />
            </>
          ) : asked ? (
            <ResendButton method={props.method} value="send" resendAfter={send?.resendAfter} />
          ) : (
            <button type="submit" name="action" value="send">
              {t.sendTheCode}
            </button>
          )}
        </form>
      )}
      {props.recovery && !showCode ? <RecoveryForm csrf={props.csrf} returnTo={props.returnTo} error={props.error} primary={refused} /> : null}
      {props.recovery && showCode ? <RecoveryCodeForm action="/_guard/step-up" csrf={props.csrf} fields={{ return_to: props.returnTo, action: 'verify' }} /> : null}
      {props.passkey ? <PasskeyAssertForm action="/_guard/step-up/passkey" csrf={props.csrf} view={props.passkey} fields={{ return_to: props.returnTo }} /> : null}
      <CodeHelp method={props.method} />
      <p class="muted">
        <a href={landingOf(brand)}>{t.cancel}</a>
      </p>
    </Layout>
  );
}

/** A rule that asks for a phishing-resistant factor: a passkey, or the words that say one is needed. */
function PasskeyOnlyStepUp(props: StepUpPageProps) {
  const { t, brand } = useUi();
  return (
    <Layout title={t.confirmItsYou}>
      <h1>{t.confirmItsYou}</h1>
      <Messages error={props.error} notice={props.notice} />
      {props.description !== undefined ? <p>{props.description}</p> : null}
      {props.passkey ? (
        <PasskeyAssertForm action="/_guard/step-up/passkey" csrf={props.csrf} view={props.passkey} fields={{ return_to: props.returnTo }} />
      ) : (
        <p class="warning" id="phishing-resistant-required">
          {t.passkey.phishingResistantRequired} <a href="/_guard/security/passkeys">{t.passkey.manage}</a>
        </p>
      )}
      <p class="muted">
        <a href={landingOf(brand)}>{t.cancel}</a>
      </p>
    </Layout>
  );
}

export function renderStepUpPage(ui: PageUi, props: StepUpPageProps): string {
  return renderPage(ui, <StepUpPage {...props} />);
}

interface StepUpDoneProps {
  readonly csrf: string;
  /** The operation to continue (a same-origin path); null when it cannot be repeated by a GET. */
  readonly continueTo: string | null;
  /** Where the person was before the operation. */
  readonly back: string;
  readonly freshMinutes: number | null;
  /** Invite to enable 2FA (after the operation, never before it). */
  readonly nudge: boolean;
  /** The sensitive rule's description, in the page's language. */
  readonly description?: string | undefined;
}

/**
 * The result of a step-up: it worked, what happens now (the operation continues by itself: a
 * download starts and this page stays, or the page opens), a way back, and only then the invitation
 * to turn on 2FA, which never holds the operation back.
 */
function StepUpDonePage(props: StepUpDoneProps) {
  const { t } = useUi();
  return (
    <Layout title={t.stepUpDoneTitle} {...(props.continueTo !== null ? { refreshTo: props.continueTo } : {})}>
      <h1>{t.stepUpDoneHeading}</h1>
      <p class="notice" role="status" id="step-up-done">
        {props.description !== undefined ? `${props.description} ` : null}
        {props.continueTo !== null ? t.stepUpDoneText : t.stepUpRetry}
      </p>
      {props.freshMinutes !== null ? <p>{t.stepUpDoneFresh(props.freshMinutes)}</p> : null}
      <p>
        {props.continueTo !== null ? (
          <>
            <a href={props.continueTo} id="continue">
              {t.stepUpDoneAgain}
            </a>{' '}
            ·{' '}
          </>
        ) : null}
        <a href={props.back} id="back">
          {t.backToWhereYouWere}
        </a>
      </p>
      {props.nudge ? (
        <section class="nudge" aria-labelledby="nudge-heading">
          <h2 id="nudge-heading">{t.nudgeHeading}</h2>
          <p>{t.nudgeText}</p>
          <p>
            <a class="button" href={`/_guard/security/enable?return_to=${encodeURIComponent(props.back)}`}>
              {t.enableNow}
            </a>
          </p>
          <form method="post" action="/_guard/step-up/nudge">
            <CsrfField csrf={props.csrf} />
            <input type="hidden" name="return_to" value={props.back} />
            <button type="submit" class="secondary">
              {t.notNow}
            </button>
          </form>
        </section>
      ) : null}
    </Layout>
  );
}

export function renderStepUpDonePage(ui: PageUi, props: StepUpDoneProps): string {
  return renderPage(ui, <StepUpDonePage {...props} />);
}

/** After a verification without 2FA: the invitation to turn it on (DESIGN §3). */
function NudgePage(props: { csrf: string; returnTo: string }) {
  const { t } = useUi();
  return (
    <Layout title={t.nudgeTitle}>
      <h1>{t.nudgeHeading}</h1>
      <p>{t.nudgeText}</p>
      <p>
        <a class="button" href={`/_guard/security/enable?return_to=${encodeURIComponent(props.returnTo)}`}>
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
