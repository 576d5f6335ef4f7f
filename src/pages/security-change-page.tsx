import { Layout } from './layout.tsx';
import { ReauthCodeStep } from './reauth-code-step.tsx';
import { renderPage, useUi, type PageUi } from './page-ui.tsx';
import { type SendView } from './send-status.tsx';
import { BackToSecurity, CsrfField, Messages, PasswordField, StartAgainOrBack, Steps, type PageMessage, type PageMethod } from './security-parts.tsx';

/**
 * Changing the 2FA method (issue 17: where policy requires 2FA it cannot be turned off, so the
 * method is changed in place): password → a code of the current method (or a recovery code) →
 * the enable wizard's method and confirm steps, which replace the enrollment.
 */

export type ChangeView =
  | { readonly step: 'password' }
  | { readonly step: 'code'; readonly method: PageMethod; readonly destination: string | null }
  | { readonly step: 'restart'; readonly notEnabled: boolean };

type ChangeProps = PageMessage & {
  readonly csrf: string;
  readonly send?: SendView | null | undefined;
  readonly view: ChangeView;
};

export const CHANGE_ACTION = '/_guard/security/change';

function Body(props: ChangeProps) {
  const { t } = useUi();
  const view = props.view;
  switch (view.step) {
    case 'password':
      return (
        <>
          <Steps current={1} total={4}>
            {t.confirmItsYou}
          </Steps>
          <h1>{t.changeMethodTitle}</h1>
          <Messages error={props.error} notice={props.notice} warning={props.warning} />
          <p>{t.changeMethodText}</p>
          <form method="post" action={CHANGE_ACTION}>
            <CsrfField csrf={props.csrf} />
            <input type="hidden" name="step" value="password" />
            <PasswordField error={props.error} />
            <button type="submit">{t.continue}</button>
          </form>
          <BackToSecurity />
        </>
      );
    case 'code':
      return (
        <ReauthCodeStep action={CHANGE_ACTION} csrf={props.csrf} send={props.send} method={view.method} destination={view.destination} total={4} error={props.error} notice={props.notice} warning={props.warning}>
          <BackToSecurity />
        </ReauthCodeStep>
      );
    case 'restart':
      return (
        <>
          <h1>{t.changeMethodTitle}</h1>
          <Messages error={props.error} notice={props.notice} warning={props.warning} />
          <StartAgainOrBack href={CHANGE_ACTION} back={view.notEnabled} />
        </>
      );
  }
}

function ChangePage(props: ChangeProps) {
  const { t } = useUi();
  return (
    <Layout title={t.changeMethodTitle}>
      <Body {...props} />
    </Layout>
  );
}

export function renderChangePage(ui: PageUi, props: ChangeProps): string {
  return renderPage(ui, <ChangePage {...props} />);
}
