import { SendStatus } from './send-status.tsx';
import { useUi } from './page-ui.tsx';
import {
  BackToSecurity,
  CodeField,
  CodeHelp,
  CopyButton,
  CsrfField,
  ERROR_ID,
  Messages,
  RecoveryCodeList,
  ResendButton,
  StartAgainOrBack,
  Steps,
  methodDescription,
} from './security-parts.tsx';
import { ACTION, TOTAL, type EnableProps, type EnableView } from './security-enable-view.ts';
import { PhoneFlag } from './security-enable-identity.tsx';

/* The later steps of the enable wizard: the method, its set-up, the confirmation and the recovery codes. */

function svgDataUri(svg: string): string {
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
}
export function MethodStep(props: EnableProps & { view: Extract<EnableView, { step: 'method' }> }) {
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

export function TotpStep(props: EnableProps & { view: Extract<EnableView, { step: 'totp' }> }) {
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

export function ConfirmStep(props: EnableProps & { view: Extract<EnableView, { step: 'confirm' }> }) {
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

export function DoneStep(props: EnableProps & { view: Extract<EnableView, { step: 'done' }> }) {
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

export function RestartStep(props: EnableProps & { view: Extract<EnableView, { step: 'restart' }> }) {
  const { t } = useUi();
  return (
    <>
      <h1>{t.enable}</h1>
      <Messages error={props.error} notice={props.notice} warning={props.warning} />
      <StartAgainOrBack href={ACTION} back={props.view.alreadyEnabled} />
    </>
  );
}
