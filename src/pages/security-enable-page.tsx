import { Layout, renderPage } from './layout.tsx';
import {
  BackToSecurity,
  CodeField,
  CsrfField,
  ERROR_ID,
  Messages,
  METHOD_NAMES,
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
  | { readonly step: 'password' }
  | { readonly step: 'identity'; readonly smsOffered: boolean; readonly maskedEmail: string }
  | { readonly step: 'code'; readonly channel: 'email' | 'sms'; readonly maskedEmail: string; readonly phoneOnFile: boolean }
  | { readonly step: 'method'; readonly methods: readonly PageMethod[]; readonly phoneOnFile: boolean; readonly askPhone: boolean }
  | { readonly step: 'totp'; readonly key: string; readonly qrSvg: string; readonly otpauthUri: string }
  | { readonly step: 'confirm'; readonly method: PageMethod; readonly maskedEmail: string; readonly phoneOnFile: boolean }
  | { readonly step: 'done'; readonly method: PageMethod; readonly destination: string | null; readonly recoveryCodes: readonly string[] }
  /** A step that cannot go on (out of order, already on): the message and a way forward. */
  | { readonly step: 'restart'; readonly alreadyEnabled: boolean };

export type EnableProps = PageMessage & {
  readonly csrf: string;
  readonly product: string;
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
  return (
    <>
      <Steps current={1} total={TOTAL}>
        Confirm it’s you
      </Steps>
      <h1>Enable two-factor authentication</h1>
      <p>Enter your password to continue. If you signed in a moment ago, you can leave it empty.</p>
      <Messages error={props.error} notice={props.notice} />
      <form method="post" action={ACTION}>
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="step" value="password" />
        <PasswordField error={props.error} required={false} />
        <button type="submit">Continue</button>
      </form>
      <BackToSecurity label="Cancel" />
    </>
  );
}

function IdentityStep(props: EnableProps & { view: Extract<EnableView, { step: 'identity' }> }) {
  const { view } = props;
  return (
    <>
      <Steps current={2} total={TOTAL}>
        Verify your identity
      </Steps>
      <h1>Where should we send a code?</h1>
      <p>We’ll send a one-time code to confirm that this account is yours.</p>
      <Messages error={props.error} notice={props.notice} />
      <form method="post" action={ACTION}>
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="step" value="identity" />
        <PhoneFlag phoneOnFile={view.smsOffered} />
        <fieldset class="choices" {...(props.error ? { 'aria-describedby': ERROR_ID } : {})}>
          <legend>Send the code by</legend>
          <label class="choice" for="channel-email">
            <input type="radio" id="channel-email" name="channel" value="email" checked />
            <span>
              <strong>Email</strong> to {view.maskedEmail}
            </span>
          </label>
          {view.smsOffered ? (
            <label class="choice" for="channel-sms">
              <input type="radio" id="channel-sms" name="channel" value="sms" />
              <span>
                <strong>Text message (SMS)</strong> to the phone number on your account
              </span>
            </label>
          ) : null}
        </fieldset>
        <button type="submit">Send code</button>
      </form>
      <BackToSecurity label="Cancel" />
    </>
  );
}

function CodeStep(props: EnableProps & { view: Extract<EnableView, { step: 'code' }> }) {
  const { view } = props;
  const where = view.channel === 'sms' ? 'by text message to the phone number on your account' : `to ${view.maskedEmail}`;
  return (
    <>
      <Steps current={3} total={TOTAL}>
        Verify your identity
      </Steps>
      <h1>Enter the code we sent</h1>
      <p>We sent a 6-digit code {where}. It expires in a few minutes.</p>
      <Messages error={props.error} notice={props.notice} />
      <form method="post" action={ACTION}>
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="step" value="code" />
        <input type="hidden" name="channel" value={view.channel} />
        <PhoneFlag phoneOnFile={view.phoneOnFile} />
        <CodeField error={props.error} />
        <button type="submit" name="action" value="verify">
          Continue
        </button>
        <button type="submit" name="action" value="resend" class="secondary" formnovalidate>
          Send a new code
        </button>
      </form>
      <p class="muted">
        <a href="/_guard/help/otp">Didn’t receive a code?</a> · <a href={`${ACTION}?step=identity${view.phoneOnFile ? '&sms=1' : ''}`}>Use another way</a>
      </p>
    </>
  );
}

const METHOD_CARDS: Readonly<Record<PageMethod, { title: string; badge?: string; text: string; warning?: string }>> = {
  totp: {
    title: 'Authenticator app',
    badge: 'Recommended',
    text: 'An app such as Google Authenticator, Microsoft Authenticator, Authy or 1Password shows a new code every 30 seconds. It works offline and nothing is sent over the phone network.',
  },
  sms: {
    title: 'Text message (SMS)',
    text: 'We text a code to your phone each time you sign in.',
    warning:
      'NIST (SP 800-63B) classes SMS as a “restricted”, weaker method: texts can be intercepted or redirected to another phone, for example by SIM swapping or number porting.',
  },
  email: {
    title: 'Email',
    text: 'We email a code to you each time you sign in.',
    warning: 'The weakest choice: anyone with access to your mailbox can sign in. Use it only if you cannot use the other methods.',
  },
};

function MethodStep(props: EnableProps & { view: Extract<EnableView, { step: 'method' }> }) {
  const { view } = props;
  const first = view.methods[0];
  return (
    <>
      <Steps current={4} total={TOTAL}>
        Choose a method
      </Steps>
      <h1>How do you want to get your codes?</h1>
      <Messages error={props.error} notice={props.notice} />
      <form method="post" action={ACTION}>
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="step" value="method" />
        <input type="hidden" name="methods" value={view.methods.join(',')} />
        <PhoneFlag phoneOnFile={view.phoneOnFile} />
        <fieldset class="choices" {...(props.error ? { 'aria-describedby': ERROR_ID } : {})}>
          <legend>Verification method</legend>
          {view.methods.map((method) => {
            const card = METHOD_CARDS[method];
            return (
              <label class="choice card-choice" for={`method-${method}`}>
                <input type="radio" id={`method-${method}`} name="method" value={method} {...(method === first ? { checked: true } : {})} />
                <span>
                  <strong>{card.title}</strong>
                  {card.badge ? <span class="badge"> {card.badge}</span> : null}
                  <span class="choice-text">{card.text}</span>
                  {card.warning ? <span class="choice-warning">{card.warning}</span> : null}
                </span>
              </label>
            );
          })}
        </fieldset>
        {view.methods.includes('sms') && view.askPhone ? (
          <>
            <label for="phone">Phone number for text messages</label>
            <p class="muted" id="phone-hint">
              Only needed if you choose text message. Use international format, for example +1 555 555 0189.
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
        <button type="submit">Continue</button>
      </form>
      <BackToSecurity label="Cancel" />
    </>
  );
}

function TotpStep(props: EnableProps & { view: Extract<EnableView, { step: 'totp' }> }) {
  const { view } = props;
  return (
    <>
      <Steps current={5} total={TOTAL}>
        Set up your authenticator app
      </Steps>
      <h1>Scan this QR code</h1>
      <ol class="steps-list">
        <li>Open your authenticator app and add an account (often a “+” button).</li>
        <li>Scan the QR code, or enter the key below by hand.</li>
        <li>Enter the 6-digit code the app shows for {props.product}.</li>
      </ol>
      <Messages error={props.error} notice={props.notice} />
      <p class="qr">
        <img src={svgDataUri(view.qrSvg)} alt={`QR code for adding ${props.product} to your authenticator app`} width={200} height={200} />
      </p>
      <p>
        Can’t scan it? Enter this key (time-based, 6 digits, every 30 seconds):
        <br />
        <code class="key" id="totp-key">
          {view.key}
        </code>
      </p>
      <p class="muted">
        On this phone? <a href={view.otpauthUri}>Open it in your authenticator app</a>.
      </p>
      <p class="muted">This key is shown only now. If you leave this page before finishing, start this step again for a new key.</p>
      <form method="post" action={ACTION}>
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="step" value="confirm" />
        <input type="hidden" name="method" value="totp" />
        <CodeField label="Code from the app" error={props.error} />
        <button type="submit">Turn on two-factor authentication</button>
      </form>
      <BackToSecurity label="Cancel" />
    </>
  );
}

function ConfirmStep(props: EnableProps & { view: Extract<EnableView, { step: 'confirm' }> }) {
  const { view } = props;
  const instructions =
    view.method === 'totp'
      ? 'Enter the 6-digit code your authenticator app shows.'
      : view.method === 'sms'
        ? 'We sent a 6-digit code by text message to your phone.'
        : `We sent a 6-digit code to ${view.maskedEmail}.`;
  return (
    <>
      <Steps current={5} total={TOTAL}>
        Confirm {METHOD_NAMES[view.method].toLowerCase()}
      </Steps>
      <h1>Enter the code to finish</h1>
      <p>{instructions}</p>
      <Messages error={props.error} notice={props.notice} />
      <form method="post" action={ACTION}>
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="step" value="confirm" />
        <input type="hidden" name="method" value={view.method} />
        <PhoneFlag phoneOnFile={view.phoneOnFile} />
        <CodeField error={props.error} />
        <button type="submit" name="action" value="confirm">
          Turn on two-factor authentication
        </button>
        <ResendButton method={view.method} />
      </form>
      {view.method === 'totp' ? (
        <form method="post" action={ACTION}>
          <CsrfField csrf={props.csrf} />
          <input type="hidden" name="step" value="method" />
          <input type="hidden" name="method" value="totp" />
          <PhoneFlag phoneOnFile={view.phoneOnFile} />
          <button type="submit" class="secondary">
            Show a new QR code
          </button>
        </form>
      ) : (
        <p class="muted">
          <a href="/_guard/help/otp">Didn’t receive a code?</a>
        </p>
      )}
      <BackToSecurity label="Cancel" />
    </>
  );
}

function DoneStep(props: EnableProps & { view: Extract<EnableView, { step: 'done' }> }) {
  const { view } = props;
  return (
    <>
      <h1>Two-Factor Authentication Enabled</h1>
      <p role="status">
        From now on, signing in to {props.product} needs your password and a code: {methodDescription(view.method, view.destination)}. We also sent you
        an email about this change. Your other sessions were signed out.
      </p>
      <h2>Your recovery codes</h2>
      <RecoveryCodeList codes={view.recoveryCodes} />
      <p>
        <a class="button" href="/_guard/security?done=enabled">
          I saved my codes — back to Login &amp; Security
        </a>
      </p>
    </>
  );
}

function RestartStep(props: EnableProps & { view: Extract<EnableView, { step: 'restart' }> }) {
  return (
    <>
      <h1>Enable two-factor authentication</h1>
      <Messages error={props.error} notice={props.notice} />
      <StartAgainOrBack href={ACTION} back={props.view.alreadyEnabled} />
    </>
  );
}

export function renderEnablePage(props: EnableProps): string {
  const title = props.view.step === 'done' ? 'Two-Factor Authentication Enabled' : 'Enable two-factor authentication';
  return renderPage(<Layout title={title}>{body(props)}</Layout>);
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
