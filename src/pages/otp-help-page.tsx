import { Layout } from './layout.tsx';
import type { HelpItem } from '../i18n/en.ts';
import { renderPage, useUi, type PageUi } from './page-ui.tsx';

function Items(props: { items: readonly HelpItem[] }) {
  return (
    <ul class="help-list">
      {props.items.map(([lead, text]) => (
        <li>
          <strong>{lead}</strong> {text}
        </li>
      ))}
    </ul>
  );
}

/** "Didn't receive a code?": common causes and what to do, for every method. Public. */
function OtpHelpPage() {
  const { t, brand } = useUi();
  return (
    <Layout title={t.didntReceive}>
      <h1>{t.didntReceive}</h1>
      <p>{t.helpIntro}</p>

      <h2 id="sms">{t.helpSms}</h2>
      <Items items={[t.helpSmsDelay, t.helpSmsNumber(brand.support), t.helpSmsRoaming, t.helpSmsBlocked, t.helpSmsSignal]} />

      <h2 id="email">{t.helpEmail}</h2>
      <Items items={[t.helpEmailSpam, t.helpEmailCorporate(brand.product), t.helpEmailMailbox(brand.identifier === 'username')]} />

      <h2 id="resend">{t.helpResend}</h2>
      <Items items={[t.helpResendTimer, t.helpResendExpire]} />

      <h2 id="app">{t.helpApp}</h2>
      <Items items={[t.helpAppClock, t.helpAppAccount(brand.product, brand.identifier === 'username'), t.helpAppPhone]} />

      <h2 id="recovery">{t.helpStill}</h2>
      <p>{t.helpStillText(brand.support)}</p>
      <Items items={[t.helpNoTwoFactor]} />

      <p>
        <a href="/_guard/verify">{t.helpBackToCode}</a> · <a href="/_guard/security">{t.securityTitle}</a>
      </p>
    </Layout>
  );
}

export function renderOtpHelpPage(ui: PageUi): string {
  return renderPage(ui, <OtpHelpPage />);
}
