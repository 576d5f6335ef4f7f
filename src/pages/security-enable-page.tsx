import { Layout } from './layout.tsx';
import { SendStatus, type SendView } from './send-status.tsx';
import { renderPage, useUi, type PageUi } from './page-ui.tsx';
import {
  CopyButton,
  CodeHelp,
  BackToSecurity,
  CodeField,
  CsrfField,
  ERROR_ID,
  Messages,
  PasswordField,
  RecoveryCodeList,
  Steps,
  methodDescription,
  StartAgainOrBack,
  type PageMessage,
  type PageMethod,
  ResendButton,
} from './security-parts.tsx';

/**
 * The "enable two-factor authentication" wizard, one view per step. The step a browser is on lives
 * in the URL; the flow (server-side) decides whether that step may happen now. Views that show a
 * secret (the TOTP key, the recovery codes) are only ever rendered as the answer to a POST.
 */

export type EnableView =
  /** `returnTo`: where the merchant came from ("Enable now" after a step-up), carried by the form. */
  | { readonly step: 'password'; readonly returnTo?: string | undefined }
  | { readonly step: 'identity'; readonly smsOffered: boolean; readonly maskedEmail: string }
  | { readonly step: 'code'; readonly channel: 'email' | 'sms'; readonly maskedEmail: string; readonly phoneOnFile: boolean }
  | { readonly step: 'method'; readonly methods: readonly PageMethod[]; readonly phoneOnFile: boolean; readonly askPhone: boolean }
  | { readonly step: 'totp'; readonly key: string; readonly qrSvg: string; readonly otpauthUri: string }
  | { readonly step: 'confirm'; readonly method: PageMethod; readonly maskedEmail: string; readonly phoneOnFile: boolean }
  | {
      readonly step: 'done';
      readonly method: PageMethod;
      readonly destination: string | null;
      readonly recoveryCodes: readonly string[];
      /** Where the merchant was when they chose "Enable now" (after a step-up), to go back to. */
      readonly back?: string | undefined;
    }
  /** A step that cannot go on (out of order, already on): the message and a way forward. */
  | { readonly step: 'restart'; readonly alreadyEnabled: boolean };

export type EnableProps = PageMessage & {
  readonly csrf: string;
  /** Seconds until another code may be sent, when known. */
  readonly resendAfter?: number | undefined;
  /** Sending as the server knows it now (the code and confirm steps of sms/email). */
  readonly send?: SendView | null | undefined;
  readonly view: EnableView;
};

const ACTION = '/_guard/security/enable';
const TOTAL = 5;

function svgDataUri(svg: string): string {
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
}

function PhoneFlag(props: { phoneOnFile: boolean }) {
  return props.phoneOnFile ? <input type="hidden" name="sms" value="1" /> : null;
}

function PasswordStep(props: EnableProps) {
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

function IdentityStep(props: EnableProps & { view: Extract<EnableView, { step: 'identity' }> }) {
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

function CodeStep(props: EnableProps & { view: Extract<EnableView, { step: 'code' }> }) {
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

function MethodStep(props: EnableProps & { view: Extract<EnableView, { step: 'method' }> }) {
  const { t } = useUi();
  const { view } = props;
  const first = view.methods[0];
  return (
    <>
      <Steps current={4} total={TOTAL}>
        {t.chooseMethod}
      </Steps>
      <h1>{t.howCodes}</h1>
      <Messages error={props.error} notice={props.notice} warning={props.warning} />
      <form method="post" action={ACTION}>
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="step" value="method" />
        <input type="hidden" name="methods" value={view.methods.join(',')} />
        <PhoneFlag phoneOnFile={view.phoneOnFile} />
        <fieldset class="choices" {...(props.error ? { 'aria-describedby': ERROR_ID } : {})}>
          <legend>{t.verificationMethod}</legend>
          {view.methods.map((method) => {
            const warning = t.methodWarning[method];
            return (
              <label class="choice card-choice" for={`method-${method}`}>
                <input type="radio" id={`method-${method}`} name="method" value={method} {...(method === first ? { checked: true } : {})} />
                <span>
                  <strong>{t.methodName[method]}</strong>
                  {method === 'totp' ? <span class="badge"> {t.recommended}</span> : null}
                  <span class="choice-text">{t.methodText[method]}</span>
                  {warning ? <span class="choice-warning">{warning}</span> : null}
                </span>
              </label>
            );
          })}
        </fieldset>
        {view.methods.includes('sms') && view.askPhone ? (
          <>
            <label for="phone">{t.phoneLabel}</label>
            <p class="muted" id="phone-hint">
              {t.phoneHint}
            </p>
            <input
              id="phone"
              name="phone"
              type="tel"
              autocomplete="tel"
              {...(props.error ? { 'aria-describedby': `${ERROR_ID} phone-hint`, 'aria-invalid': 'true' } : { 'aria-describedby': 'phone-hint' })}
            />
          </>
        ) : null}
        <button type="submit">{t.continue}</button>
      </form>
      <BackToSecurity label={t.cancel} />
    </>
  );
}

function TotpStep(props: EnableProps & { view: Extract<EnableView, { step: 'totp' }> }) {
  const { t, brand } = useUi();
  const { view } = props;
  return (
    <>
      <Steps current={5} total={TOTAL}>
        {t.setUpApp}
      </Steps>
      <h1>{t.scanQr}</h1>
      <Messages error={props.error} notice={props.notice} warning={props.warning} />
      <ol class="steps-list">
        <li>{t.totpStep1}</li>
        <li>{t.totpStep2}</li>
        <li>{t.totpStep3(brand.product)}</li>
      </ol>
      <p class="qr">
        <img src={svgDataUri(view.qrSvg)} alt={t.qrAlt(brand.product)} width={200} height={200} />
      </p>
      <p>
        {t.cantScan}
        <br />
        <code class="key" id="totp-key">
          {view.key}
        </code>
      </p>
      <CopyButton target="totp-key" label={t.copyKey} />
      <p class="muted">
        {t.onThisPhone} <a href={view.otpauthUri}>{t.openInApp}</a>
      </p>
      <p class="muted">{t.keyShownOnce}</p>
      <form method="post" action={ACTION}>
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="step" value="confirm" />
        <input type="hidden" name="method" value="totp" />
        <CodeField label={t.codeFromApp} error={props.error} />
        <button type="submit">{t.turnOn}</button>
      </form>
      <CodeHelp method="totp" />
      <BackToSecurity label={t.cancel} />
    </>
  );
}

function ConfirmStep(props: EnableProps & { view: Extract<EnableView, { step: 'confirm' }> }) {
  const { t } = useUi();
  const { view } = props;
  const instructions = view.method === 'totp' ? t.sixDigitsFromApp : view.method === 'sms' ? t.codeSentSmsPhone : t.codeSentEmail(view.maskedEmail);
  return (
    <>
      <Steps current={5} total={TOTAL}>
        {t.confirmMethod(t.methodName[view.method])}
      </Steps>
      <h1>{t.enterCodeToFinish}</h1>
      <Messages error={props.error} notice={props.notice} warning={props.warning} />
      {props.send ? <SendStatus send={props.send} /> : <p>{instructions}</p>}
      <form method="post" action={ACTION}>
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="step" value="confirm" />
        <input type="hidden" name="method" value={view.method} />
        <PhoneFlag phoneOnFile={view.phoneOnFile} />
        <CodeField error={props.error} />
        <button type="submit" name="action" value="confirm">
          {t.turnOn}
        </button>
        <ResendButton method={view.method} resendAfter={props.send ? props.send.resendAfter : props.resendAfter} />
      </form>
      {view.method === 'totp' ? (
        <form method="post" action={ACTION}>
          <CsrfField csrf={props.csrf} />
          <input type="hidden" name="step" value="method" />
          <input type="hidden" name="method" value="totp" />
          <PhoneFlag phoneOnFile={view.phoneOnFile} />
          <button type="submit" class="secondary">
            {t.newQr}
          </button>
        </form>
      ) : null}
      <CodeHelp method={view.method} />
      <BackToSecurity label={t.cancel} />
    </>
  );
}

function DoneStep(props: EnableProps & { view: Extract<EnableView, { step: 'done' }> }) {
  const { t, brand } = useUi();
  const { view } = props;
  return (
    <>
      <h1>{t.enabledTitle}</h1>
      <p role="status">{t.enabledText(brand.product, methodDescription(t, view.method, view.destination))}</p>
      <h2>{t.yourRecoveryCodes}</h2>
      <RecoveryCodeList codes={view.recoveryCodes} />
      <p>
        {view.back !== undefined ? (
          <a class="button" href={view.back} id="enable-back">
            {t.enableDoneBack}
          </a>
        ) : (
          <a class="button" href="/_guard/security?done=enabled">
            {t.savedCodesBack}
          </a>
        )}
      </p>
    </>
  );
}

function RestartStep(props: EnableProps & { view: Extract<EnableView, { step: 'restart' }> }) {
  const { t } = useUi();
  return (
    <>
      <h1>{t.enable}</h1>
      <Messages error={props.error} notice={props.notice} warning={props.warning} />
      <StartAgainOrBack href={ACTION} back={props.view.alreadyEnabled} />
    </>
  );
}

function EnablePage(props: EnableProps) {
  const { t } = useUi();
  return <Layout title={props.view.step === 'done' ? t.enabledTitle : t.enable}>{body(props)}</Layout>;
}

export function renderEnablePage(ui: PageUi, props: EnableProps): string {
  return renderPage(ui, <EnablePage {...props} />);
}

function body(props: EnableProps) {
  const view = props.view;
  switch (view.step) {
    case 'password':
      return <PasswordStep {...props} />;
    case 'identity':
      return <IdentityStep {...props} view={view} />;
    case 'code':
      return <CodeStep {...props} view={view} />;
    case 'method':
      return <MethodStep {...props} view={view} />;
    case 'totp':
      return <TotpStep {...props} view={view} />;
    case 'confirm':
      return <ConfirmStep {...props} view={view} />;
    case 'done':
      return <DoneStep {...props} view={view} />;
    case 'restart':
      return <RestartStep {...props} view={view} />;
  }
}
