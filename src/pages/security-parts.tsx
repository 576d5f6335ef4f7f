import type { ComponentChildren } from 'preact';
import { useUi } from './page-ui.tsx';
import type { Catalogue } from '../i18n/en.ts';

/**
 * Pieces shared by the sidecar pages: the hidden form token, the alert an input refers to, the
 * labelled code and password fields, and the list of recovery codes. Every field has a label, and
 * an error is an element with role="alert" that the field names in aria-describedby. Words come
 * from the page's catalogue (useUi), never from here.
 */

export type PageMethod = 'totp' | 'sms' | 'email';

/** What the person reads on the page where something went wrong. */
export interface PageMessage {
  readonly error?: string | undefined;
  readonly notice?: string | undefined;
  /** Something to heed that is not a failure (a risk notice, "2FA is off"): warning style, not success. */
  readonly warning?: string | undefined;
}

export const ERROR_ID = 'form-error';

/** Digits in the codes the sidecar sends and the authenticator apps show. */
export const CODE_DIGITS = 6;

export function CsrfField(props: { csrf: string }) {
  return <input type="hidden" name="_csrf" value={props.csrf} />;
}

/** The error first (role="alert" is announced at once), then any notice. */
export function Messages(props: PageMessage) {
  return (
    <>
      {props.error ? (
        <p class="error" role="alert" id={ERROR_ID}>
          {props.error}
        </p>
      ) : null}
      {props.notice ? (
        <p class="notice" role="status">
          {props.notice}
        </p>
      ) : null}
      {props.warning ? (
        <p class="warning" role="status">
          {props.warning}
        </p>
      ) : null}
    </>
  );
}

const described = (error: string | undefined) => (error ? { 'aria-describedby': ERROR_ID, 'aria-invalid': 'true' as const } : {});

export function CodeField(props: { label?: string; hint?: string; error?: string | undefined; acceptsRecovery?: boolean }) {
  const { t } = useUi();
  return (
    <>
      <label for="code">{props.label ?? t.verificationCode}</label>
      {props.hint ? (
        <p class="muted" id="code-hint">
          {props.hint}
        </p>
      ) : null}
      <input
        id="code"
        name="code"
        type="text"
        inputmode="numeric"
        autocomplete="one-time-code"
        autocapitalize="off"
        spellcheck={false}
        maxlength={props.acceptsRecovery ? 20 : 8}
        required
        data-autosubmit={String(CODE_DIGITS)}
        {...(props.error ? described(props.error) : props.hint ? { 'aria-describedby': 'code-hint' } : {})}
      />
    </>
  );
}

export function PasswordField(props: { error?: string | undefined; required?: boolean }) {
  const { t } = useUi();
  return (
    <>
      <label for="password">{t.password}</label>
      <input id="password" name="password" type="password" autocomplete="current-password" {...(props.required === false ? {} : { required: true })} {...described(props.error)} />
    </>
  );
}

/** A button that copies the text of another element; hidden until guard.js makes it work. */
export function CopyButton(props: { target: string; label: string }) {
  const { t } = useUi();
  return (
    <button type="button" class="copy secondary" data-copy={props.target} data-copied={t.copied} hidden>
      {props.label}
    </button>
  );
}

export function RecoveryCodeList(props: { codes: readonly string[] }) {
  const { t } = useUi();
  return (
    <>
      <ol class="codes" id="recovery-codes" aria-label={t.recoveryCodesLabel}>
        {props.codes.map((code) => (
          <li>
            <code>{code}</code>
          </li>
        ))}
      </ol>
      <CopyButton target="recovery-codes" label={t.copyCodes} />
      <div class="warning">
        <p>
          <strong>{t.saveCodesNow}</strong>
        </p>
        <p>{t.saveCodesHow}</p>
      </div>
    </>
  );
}

export function BackToSecurity(props: { label?: string }) {
  const { t } = useUi();
  return (
    <p>
      <a href="/_guard/security">{props.label ?? t.backToSecurity}</a>
    </p>
  );
}

/**
 * "Send a new code" beside a code field: nothing to send for an authenticator app. When the
 * server knows how long until another code may be sent, guard.js counts it down on the button.
 */
export function ResendButton(props: { method: PageMethod; value?: string; resendAfter?: number | undefined }) {
  const { t } = useUi();
  if (props.method === 'totp') return null;
  return (
    <button
      type="submit"
      name="action"
      value={props.value ?? 'resend'}
      class="secondary"
      formnovalidate
      {...(props.resendAfter !== undefined && props.resendAfter > 0 ? { 'data-resend-after': String(props.resendAfter) } : {})}
      data-countdown={t.resendCountdown}
    >
      {t.sendNewCode}
    </button>
  );
}

/** After a flow broke off: start it again, or (when it cannot apply) go back to Login & Security. */
export function StartAgainOrBack(props: { href: string; back: boolean }) {
  const { t } = useUi();
  if (props.back) return <BackToSecurity />;
  return (
    <p>
      <a class="button" href={props.href}>
        {t.startAgain}
      </a>
    </p>
  );
}

export function Steps(props: { current: number; total: number; children?: ComponentChildren }) {
  const { t } = useUi();
  return (
    <p class="steps">
      {t.stepOf(props.current, props.total)}
      {props.children ? <> · {props.children}</> : null}
    </p>
  );
}

/** "Authenticator app", "Text message (SMS) to +1 •••• ••89", "Email to m•••@example.com". */
export function methodDescription(t: Catalogue, method: PageMethod, maskedDestination: string | null): string {
  if (method === 'totp' || !maskedDestination) return t.methodName[method];
  return t.methodTo(t.methodName[method], maskedDestination);
}

/** Where "Didn't receive a code?" (or, for an authenticator app, "Can't use your app?") leads. */
function HelpLink(props: { method?: PageMethod | undefined }) {
  const { t } = useUi();
  if (props.method === 'totp') return <a href="/_guard/help/otp#app">{t.cantUseApp}</a>;
  return <a href={props.method ? `/_guard/help/otp#${props.method}` : '/_guard/help/otp'}>{t.didntReceive}</a>;
}

/** Under every code field: the help page for the method, and who to ask when that does not help. */
export function CodeHelp(props: { method: PageMethod; children?: ComponentChildren }) {
  const { t, brand } = useUi();
  return (
    <p class="muted code-help">
      {props.children}
      <HelpLink method={props.method} /> · {t.supportContact(brand.support)}
    </p>
  );
}

/**
 * A field for a recovery code alone: letters and digits, so a text keyboard; no one-time-code
 * autofill (that belongs to the code field).
 */
export function RecoveryCodeInput(props: { error?: string | undefined }) {
  const { t } = useUi();
  return (
    <>
      <label for="recovery-code">{t.recoveryCodeLabel}</label>
      <p class="muted" id="recovery-code-hint">
        {t.recoveryCodeHint}
      </p>
      <input
        id="recovery-code"
        name="code"
        type="text"
        inputmode="text"
        autocomplete="off"
        autocapitalize="off"
        spellcheck={false}
        maxlength={20}
        required
        aria-describedby="recovery-code-hint"
        {...(props.error ? { 'aria-invalid': 'true' as const } : {})}
      />
    </>
  );
}

/**
 * A recovery code in a form of its own, folded away until asked for (works without JavaScript):
 * its field takes letters (`inputmode="text"`), where the code field above keeps the digit keypad
 * and `autocomplete="one-time-code"`. Offered only to accounts that have 2FA, so recovery codes.
 */
export function RecoveryCodeForm(props: { action: string; csrf: string; fields: Readonly<Record<string, string>>; error?: string | undefined; open?: boolean }) {
  const { t } = useUi();
  return (
    <details class="recovery" {...(props.open ? { open: true } : {})}>
      <summary>{t.useRecoveryCode}</summary>
      <form method="post" action={props.action}>
        <CsrfField csrf={props.csrf} />
        {Object.entries(props.fields).map(([name, value]) => (
          <input type="hidden" name={name} value={value} />
        ))}
        <RecoveryCodeInput error={props.error} />
        <button type="submit" class="secondary">
          {t.useRecoveryButton}
        </button>
      </form>
    </details>
  );
}
