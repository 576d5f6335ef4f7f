import { Layout } from './layout.tsx';
import { ReauthCodeStep } from './reauth-code-step.tsx';
import { type SendView } from './send-status.tsx';
import { renderPage, useUi, type PageUi } from './page-ui.tsx';
import { BackToSecurity, CsrfField, Messages, PasswordField, Steps, StartAgainOrBack, type PageMessage, type PageMethod } from './security-parts.tsx';

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
    case 'code':
      return (
        <ReauthCodeStep action={ACTION} csrf={props.csrf} send={props.send} method={view.method} destination={view.destination} total={3} error={props.error} notice={props.notice} warning={props.warning}>
          <BackToSecurity label={t.keepItOn} />
        </ReauthCodeStep>
      );
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
