import { Layout } from './layout.tsx';
import { SendStatus, type SendView } from './send-status.tsx';
import { renderPage, useUi, type PageUi } from './page-ui.tsx';
import { BackToSecurity, CodeField, CodeHelp, CsrfField, Messages, RecoveryCodeList, methodDescription, StartAgainOrBack, type PageMessage, type PageMethod, ResendButton } from './security-parts.tsx';

/** New recovery codes: a fresh code of the current method, then the ten new codes, shown once. */

export type RecoveryView =
  | { readonly step: 'start'; readonly method: PageMethod; readonly destination: string | null }
  | { readonly step: 'code'; readonly method: PageMethod; readonly destination: string | null }
  | { readonly step: 'codes'; readonly recoveryCodes: readonly string[] }
  | { readonly step: 'restart'; readonly notEnabled: boolean };

type RecoveryProps = PageMessage & {
  /** Sending as the server knows it now (the code step of sms/email). */
  readonly send?: SendView | null | undefined;
  readonly csrf: string;
  /** Seconds until another code may be sent, when known. */
  readonly resendAfter?: number | undefined;
  readonly view: RecoveryView;
};

const ACTION = '/_guard/security/recovery-codes';

function Body(props: RecoveryProps) {
  const { t } = useUi();
  const view = props.view;
  switch (view.step) {
    case 'start':
      return (
        <>
          <h1>{t.generateCodes}</h1>
          <Messages error={props.error} notice={props.notice} warning={props.warning} />
          <p>{t.replaceCodes}</p>
          <p>{view.method === 'totp' ? t.confirmWithApp : t.confirmWithSent(methodDescription(t, view.method, view.destination))}</p>
          <form method="post" action={ACTION}>
            <CsrfField csrf={props.csrf} />
            <input type="hidden" name="step" value="start" />
            <button type="submit">{t.continue}</button>
          </form>
          <BackToSecurity label={t.cancel} />
        </>
      );
    case 'code':
      return (
        <>
          <h1>{t.verifyHeading}</h1>
          <Messages error={props.error} notice={props.notice} warning={props.warning} />
          {props.send ? <SendStatus send={props.send} /> : null}
          <p>
            {view.method === 'totp' ? `${t.sixDigitsFromApp} ` : props.send ? '' : `${t.sentTo(methodDescription(t, view.method, view.destination))} `}
            {t.replaceCodesShort}
          </p>
          <form method="post" action={ACTION}>
            <CsrfField csrf={props.csrf} />
            <input type="hidden" name="step" value="code" />
            <CodeField error={props.error} />
            <button type="submit" name="action" value="confirm">
              {t.generateNewCodes}
            </button>
            <ResendButton method={view.method} resendAfter={props.send ? props.send.resendAfter : props.resendAfter} />
          </form>
          <CodeHelp method={view.method} />
          <BackToSecurity label={t.cancel} />
        </>
      );
    case 'codes':
      return (
        <>
          <h1>{t.newCodesHeading}</h1>
          <p role="status">{t.newCodesStatus}</p>
          <RecoveryCodeList codes={view.recoveryCodes} />
          <p>
            <a class="button" href="/_guard/security?done=codes">
              {t.savedCodesBack}
            </a>
          </p>
        </>
      );
    case 'restart':
      return (
        <>
          <h1>{t.generateCodes}</h1>
          <Messages error={props.error} notice={props.notice} warning={props.warning} />
          <StartAgainOrBack href={ACTION} back={view.notEnabled} />
        </>
      );
  }
}

function RecoveryCodesPage(props: RecoveryProps) {
  const { t } = useUi();
  return (
    <Layout title={t.recoveryTitle}>
      <Body {...props} />
    </Layout>
  );
}

export function renderRecoveryCodesPage(ui: PageUi, props: RecoveryProps): string {
  return renderPage(ui, <RecoveryCodesPage {...props} />);
}
