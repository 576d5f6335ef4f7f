import { Layout } from './layout.tsx';
import { SendStatus, type SendView } from './send-status.tsx';
import { renderPage, useUi, type PageUi } from './page-ui.tsx';
import { BackToSecurity, CodeField, CodeHelp, CsrfField, Messages, RecoveryCodeForm, PasswordField, Steps, methodDescription, StartAgainOrBack, type PageMessage, type PageMethod } from './security-parts.tsx';

/** Turning 2FA off: password → a code of the current method (or a recovery code) → confirm. */

export type DisableView =
  | { readonly step: 'password' }
  | { readonly step: 'code'; readonly method: PageMethod; readonly destination: string | null }
  | { readonly step: 'confirm' }
  | { readonly step: 'restart'; readonly notEnabled: boolean };

type DisableProps = PageMessage & {
  readonly csrf: string;
  /** Sending as the server knows it now (the code step of sms/email). */
  readonly send?: SendView | null | undefined;
  readonly view: DisableView;
};

const ACTION = '/_guard/security/disable';

function Warning() {
  const { t } = useUi();
  return (
    <p class="warning">
      <strong>{t.lessSecure}</strong> {t.disableWarning}
    </p>
  );
}

function Body(props: DisableProps) {
  const { t } = useUi();
  const view = props.view;
  switch (view.step) {
    case 'password':
      return (
        <>
          <Steps current={1} total={3}>
            {t.confirmItsYou}
          </Steps>
          <h1>{t.turnOff}</h1>
          <Messages error={props.error} notice={props.notice} warning={props.warning} />
          <Warning />
          <form method="post" action={ACTION}>
            <CsrfField csrf={props.csrf} />
            <input type="hidden" name="step" value="password" />
            <PasswordField error={props.error} />
            <button type="submit">{t.continue}</button>
          </form>
          <BackToSecurity label={t.keepItOn} />
        </>
      );
    case 'code': {
      const instructions = view.method === 'totp' ? t.sixDigitsFromApp : t.sentTo(methodDescription(t, view.method, view.destination));
      return (
        <>
          <Steps current={2} total={3}>
            {t.enterYourCode}
          </Steps>
          <h1>{t.verifyHeading}</h1>
          <Messages error={props.error} notice={props.notice} warning={props.warning} />
          {props.send ? <SendStatus send={props.send} /> : null}
          {props.send ? null : <p>{instructions}</p>}
          <form method="post" action={ACTION}>
            <CsrfField csrf={props.csrf} />
            <input type="hidden" name="step" value="code" />
            <CodeField error={props.error} acceptsRecovery />
            <button type="submit">{t.continue}</button>
          </form>
          <RecoveryCodeForm action={ACTION} csrf={props.csrf} fields={{ step: 'code' }} />
          <CodeHelp method={view.method}>
            {view.method !== 'totp' ? (
              <>
                <a href={ACTION}>{t.sendNewCode}</a> {t.resendNeedsPassword} ·{' '}
              </>
            ) : null}
          </CodeHelp>
          <BackToSecurity label={t.keepItOn} />
        </>
      );
    }
    case 'confirm':
      return (
        <>
          <Steps current={3} total={3}>
            {t.confirm}
          </Steps>
          <h1>{t.turnOffQuestion}</h1>
          <Messages error={props.error} notice={props.notice} warning={props.warning} />
          <Warning />
          <p>{t.disableConsequences}</p>
          <form method="post" action={ACTION}>
            <CsrfField csrf={props.csrf} />
            <input type="hidden" name="step" value="confirm" />
            <button type="submit" class="danger">
              {t.turnOff}
            </button>
          </form>
          <BackToSecurity label={t.keepItOn} />
        </>
      );
    case 'restart':
      return (
        <>
          <h1>{t.turnOff}</h1>
          <Messages error={props.error} notice={props.notice} warning={props.warning} />
          <StartAgainOrBack href={ACTION} back={view.notEnabled} />
        </>
      );
  }
}

function DisablePage(props: DisableProps) {
  const { t } = useUi();
  return (
    <Layout title={t.turnOff}>
      <Body {...props} />
    </Layout>
  );
}

export function renderDisablePage(ui: PageUi, props: DisableProps): string {
  return renderPage(ui, <DisablePage {...props} />);
}
