import type { ComponentChildren } from 'preact';
import { useUi } from './page-ui.tsx';
import type { Catalogue } from './i18n/en.ts';

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

/** Where "Didn't receive a code?" leads. */
export function HelpLink() {
  const { t } = useUi();
  return <a href="/_guard/help/otp">{t.didntReceive}</a>;
}
