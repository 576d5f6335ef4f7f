import { Layout } from './layout.tsx';
import { landingOf, renderPage, useUi, type PageUi } from './page-ui.tsx';
import { CsrfField, Messages, methodDescription, type PageMessage, type PageMethod } from './security-parts.tsx';

export interface SecurityPageProps extends PageMessage {
  readonly csrf: string;
  readonly email: string;
  readonly enabled: boolean;
  readonly method: PageMethod | null;
  /** Already masked (`+1 •••• ••89`, `m•••@example.com`); null for the authenticator app. */
  readonly destination: string | null;
  readonly recoveryCodesLeft: number | null;
}

/** "Login & Security": the account, whether 2FA is on and how, and what can be changed. */
function SecurityPage(props: SecurityPageProps) {
  const { t, brand } = useUi();
  const left = props.recoveryCodesLeft ?? 0;
  return (
    <Layout title={t.securityTitle}>
      <h1>{t.securityTitle}</h1>
      <Messages {...props} />
      <dl class="facts">
        <dt>{brand.identifier === 'username' ? t.username : t.email}</dt>
        <dd>{props.email}</dd>
        <dt>{t.twoFactor}</dt>
        <dd id="two-factor-status">
          <span class={props.enabled ? 'badge on' : 'badge off'}>{props.enabled ? t.on : t.off}</span>
        </dd>
        {props.enabled && props.method ? (
          <>
            <dt>{t.verificationMethod}</dt>
            <dd id="two-factor-method">{methodDescription(t, props.method, props.destination)}</dd>
            <dt>{t.recoveryCodesLeft}</dt>
            <dd id="recovery-codes-left">{String(left)}</dd>
          </>
        ) : null}
      </dl>
      {props.enabled ? (
        <>
          {left <= 3 ? (
            <p class="warning">
              {left === 0 ? t.noCodesLeft : t.fewCodesLeft(left)} {t.generateCodesHint}
            </p>
          ) : null}
          <form method="post" action="/_guard/security/recovery-codes">
            <CsrfField csrf={props.csrf} />
            <input type="hidden" name="step" value="start" />
            <button type="submit" class="secondary">
              {t.generateCodes}
            </button>
          </form>
          <p>
            <a class="button danger" href="/_guard/security/disable">
              {t.turnOff}
            </a>
          </p>
        </>
      ) : (
        <>
          <p>{t.enablePitch(brand.product)}</p>
          <p>
            <a class="button" href="/_guard/security/enable">
              {t.enable}
            </a>
          </p>
        </>
      )}
      <p class="muted">{t.supportNote(brand.support)}</p>
      <p class="muted">
        <a href={landingOf(brand)}>{t.backToProduct(brand.product)}</a> · <a href="/_guard/logout">{t.signOutTitle}</a>
      </p>
    </Layout>
  );
}

export function renderSecurityPage(ui: PageUi, props: SecurityPageProps): string {
  return renderPage(ui, <SecurityPage {...props} />);
}
