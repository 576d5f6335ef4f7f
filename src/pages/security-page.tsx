import { Layout } from './layout.tsx';
import { landingOf, renderPage, useUi, type PageUi } from './page-ui.tsx';
import { CsrfField, Messages, type PageMessage, type PageMethod } from './security-parts.tsx';
import { ActiveSessionsSection, type ActiveSessionsView } from './sessions-section.tsx';
import { RememberedBrowsersSection, type RememberedBrowsersSectionProps } from './remembered-browsers-section.tsx';

interface SecurityPageProps extends PageMessage {
  readonly csrf: string;
  readonly email: string;
  readonly enabled: boolean;
  readonly method: PageMethod | null;
  /** Already masked (`+1 •••• ••89`, `m•••@example.com`); null for the authenticator app. */
  readonly destination: string | null;
  readonly recoveryCodesLeft: number | null;
  /** "Active sessions" (src/pages/sessions-section.tsx); absent, the section is not shown. */
  readonly activeSessions?: ActiveSessionsView | undefined;
  /** "Remembered browsers" (issue 17); absent when the feature is off and none is remembered. */
  readonly rememberedBrowsers?: RememberedBrowsersSectionProps | undefined;
  /** Policy require_2fa covers the account: 2FA cannot be turned off, only its method changed. */
  readonly required?: boolean;
}

/**
 * "Login & Security", read like the help article: the status as a heading ("Two-Factor
 * Authentication Enabled"), then how (method, where codes go, recovery codes left), then what can
 * be done in the order people need it; turning 2FA off is there, but not the loudest thing.
 */
function SecurityPage(props: SecurityPageProps) {
  const { t, brand } = useUi();
  const left = props.recoveryCodesLeft ?? 0;
  const on = props.enabled && props.method !== null;
  return (
    <Layout title={t.securityTitle}>
      <h1>{t.securityTitle}</h1>
      <Messages {...props} />
      <h2 class="status" id="two-factor-status">
        {on ? t.twoFactorEnabledHeading : t.twoFactorDisabledHeading}
      </h2>
      <p>{on ? t.twoFactorEnabledText(brand.product) : t.enablePitch(brand.product)}</p>
      <dl class="facts">
        <dt>{brand.identifier === 'username' ? t.username : t.email}</dt>
        <dd>{props.email}</dd>
        {on && props.method ? (
          <>
            <dt>{t.verificationMethod}</dt>
            <dd id="two-factor-method">{t.methodName[props.method]}</dd>
            {props.destination ? (
              <>
                <dt>{t.codesGoTo}</dt>
                <dd id="two-factor-destination">{props.destination}</dd>
              </>
            ) : null}
            <dt>{t.recoveryCodesLeft}</dt>
            <dd id="recovery-codes-left">{String(left)}</dd>
          </>
        ) : null}
      </dl>
      {on && left <= 3 ? (
        <p class="warning">
          {left === 0 ? t.noCodesLeft : t.fewCodesLeft(left)} {t.generateCodesHint}
        </p>
      ) : null}
      <h2>{t.securityActions}</h2>
      {on ? (
        <>
          <form method="post" action="/_guard/security/recovery-codes">
            <CsrfField csrf={props.csrf} />
            <input type="hidden" name="step" value="start" />
            <button type="submit">{t.generateCodes}</button>
          </form>
          <p>
            <a class="button secondary" href="/_guard/security/passkeys" id="manage-passkeys">
              {t.passkey.manage}
            </a>
          </p>
          {props.required ? (
            <>
              <p>
                <a class="button secondary" href="/_guard/security/change">
                  {t.changeMethodTitle}
                </a>
              </p>
              <p class="muted" id="two-factor-required-note">
                {t.requiredCannotTurnOff}
              </p>
            </>
          ) : (
            <>
              <p>
                <a class="button secondary" href="/_guard/security/disable">
                  {t.turnOff}
                </a>
              </p>
              <p class="muted">{t.turnOffNote}</p>
            </>
          )}
        </>
      ) : (
        <p>
          <a class="button" href="/_guard/security/enable">
            {t.enable}
          </a>
        </p>
      )}
      {props.activeSessions ? <ActiveSessionsSection {...props.activeSessions} /> : null}
      {props.rememberedBrowsers ? <RememberedBrowsersSection {...props.rememberedBrowsers} /> : null}
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
