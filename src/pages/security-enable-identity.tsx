import { SendStatus } from './send-status.tsx';
import { useUi } from './page-ui.tsx';
import { BackToSecurity, CodeField, CodeHelp, CsrfField, ERROR_ID, Messages, PasswordField, ResendButton, Steps } from './security-parts.tsx';
import { ACTION, TOTAL, type EnableProps, type EnableView } from './security-enable-view.ts';

/* The first steps of the enable wizard: the password, the identity check and its code. */

export function PhoneFlag(props: { phoneOnFile: boolean }) {
  return props.phoneOnFile ? <input type="hidden" name="sms" value="1" /> : null;
}

export function PasswordStep(props: EnableProps) {
  const { t } = useUi();
  return (
    <>
      <Steps current={1} total={TOTAL}>
        {t.confirmItsYou}
      </Steps>
      <h1>{t.enable}</h1>
      <Messages error={props.error} notice={props.notice} warning={props.warning} />
      <p>{t.enablePasswordText}</p>
      <form method="post" action={ACTION}>
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="step" value="password" />
        {props.view.step === 'password' && props.view.returnTo !== undefined ? <input type="hidden" name="return_to" value={props.view.returnTo} /> : null}
        <PasswordField error={props.error} required={false} />
        <button type="submit">{t.continue}</button>
      </form>
      <BackToSecurity label={t.cancel} />
    </>
  );
}

export function IdentityStep(props: EnableProps & { view: Extract<EnableView, { step: 'identity' }> }) {
  const { t, brand } = useUi();
  const { view } = props;
  return (
    <>
      <Steps current={2} total={TOTAL}>
        {t.verifyIdentity}
      </Steps>
      <h1>{t.whereToSend}</h1>
      <Messages error={props.error} notice={props.notice} warning={props.warning} />
      <p>{t.identityText}</p>
      <form method="post" action={ACTION}>
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="step" value="identity" />
        <PhoneFlag phoneOnFile={view.smsOffered} />
        <fieldset class="choices" {...(props.error ? { 'aria-describedby': ERROR_ID } : {})}>
          <legend>{t.sendCodeBy}</legend>
          <label class="choice" for="channel-email">
            <input type="radio" id="channel-email" name="channel" value="email" checked />
            <span>
              <strong>{t.methodName.email}</strong> {t.emailTo(view.maskedEmail)}
            </span>
          </label>
          {view.smsOffered ? (
            <label class="choice" for="channel-sms">
              <input type="radio" id="channel-sms" name="channel" value="sms" />
              <span>
                <strong>{t.methodName.sms}</strong> {t.smsToPhoneOnFile}
              </span>
            </label>
          ) : null}
        </fieldset>
        <button type="submit">{t.sendCode}</button>
      </form>
      {props.error ? (
        <p class="muted">
          {t.refusedWaysNone(brand.support)} <a href="/_guard/help/otp">{t.codeHelp}</a>
        </p>
      ) : null}
      <BackToSecurity label={t.cancel} />
    </>
  );
}

export function CodeStep(props: EnableProps & { view: Extract<EnableView, { step: 'code' }> }) {
  const { t } = useUi();
  const { view } = props;
  return (
    <>
      <Steps current={3} total={TOTAL}>
        {t.verifyIdentity}
      </Steps>
      {/* "the code we sent" only when one was sent and can be entered */}
      <h1>{props.send && !props.send.live ? t.verifyHeading : t.enterCodeWeSent}</h1>
      <Messages error={props.error} notice={props.notice} warning={props.warning} />
      {props.send ? <SendStatus send={props.send} /> : <p>{view.channel === 'sms' ? t.codeSentBySms : t.codeSentToEmail(view.maskedEmail)}</p>}
      <form method="post" action={ACTION}>
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="step" value="code" />
        <input type="hidden" name="channel" value={view.channel} />
        <PhoneFlag phoneOnFile={view.phoneOnFile} />
        <CodeField error={props.error} />
        <button type="submit" name="action" value="verify">
          {t.continue}
        </button>
        <ResendButton method={view.channel} resendAfter={props.send ? props.send.resendAfter : props.resendAfter} />
      </form>
      <CodeHelp method={view.channel}>
        <a href={`${ACTION}?step=identity${view.phoneOnFile ? '&sms=1' : ''}`}>{t.useAnotherWay}</a> ·{' '}
      </CodeHelp>
    </>
  );
}
