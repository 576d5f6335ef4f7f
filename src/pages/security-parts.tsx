import type { ComponentChildren } from 'preact';

/**
 * Pieces shared by the Login & Security pages: the hidden form token, the alert an input refers
 * to, the labelled code and password fields, and the list of recovery codes. Every field has a
 * label, and an error is an element with role="alert" that the field names in aria-describedby.
 */

export type PageMethod = 'totp' | 'sms' | 'email';

/** What the person reads on the page where something went wrong. */
export interface PageMessage {
  readonly error?: string | undefined;
  readonly notice?: string | undefined;
}

export const ERROR_ID = 'form-error';

export function CsrfField(props: { csrf: string }) {
  return <input type="hidden" name="_csrf" value={props.csrf} />;
}

export function Messages(props: PageMessage) {
  return (
    <>
      {props.notice ? (
        <p class="notice" role="status">
          {props.notice}
        </p>
      ) : null}
      {props.error ? (
        <p class="error" role="alert" id={ERROR_ID}>
          {props.error}
        </p>
      ) : null}
    </>
  );
}

const described = (error: string | undefined) => (error ? { 'aria-describedby': ERROR_ID, 'aria-invalid': 'true' as const } : {});

export function CodeField(props: { label?: string; hint?: string; error?: string | undefined; acceptsRecovery?: boolean }) {
  return (
    <>
      <label for="code">{props.label ?? 'Verification code'}</label>
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
        maxlength={props.acceptsRecovery ? 20 : 8}
        required
        {...(props.error
          ? described(props.error)
          : props.hint
            ? { 'aria-describedby': 'code-hint' }
            : {})}
      />
    </>
  );
}

export function PasswordField(props: { error?: string | undefined; required?: boolean }) {
  return (
    <>
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" {...(props.required === false ? {} : { required: true })} {...described(props.error)} />
    </>
  );
}

export function RecoveryCodeList(props: { codes: readonly string[] }) {
  return (
    <>
      <ol class="codes" aria-label="Recovery codes">
        {props.codes.map((code) => (
          <li>
            <code>{code}</code>
          </li>
        ))}
      </ol>
      <div class="warning">
        <p>
          <strong>Save these codes now. They are shown only once.</strong>
        </p>
        <p>
          Each code works one time, in place of a verification code, if you lose your phone or cannot get a code. Print them, or keep them in a
          password manager or another safe place that is not the device you sign in with. Anyone who has them and your password can sign in.
        </p>
      </div>
    </>
  );
}

export function BackToSecurity(props: { label?: string }) {
  return (
    <p>
      <a href="/_guard/security">{props.label ?? 'Back to Login & Security'}</a>
    </p>
  );
}

/** "Send a new code" beside a code field: nothing to send for an authenticator app. */
export function ResendButton(props: { method: PageMethod; value?: string }) {
  if (props.method === 'totp') return null;
  return (
    <button type="submit" name="action" value={props.value ?? 'resend'} class="secondary" formnovalidate>
      Send a new code
    </button>
  );
}

/** After a flow broke off: start it again, or (when it cannot apply) go back to Login & Security. */
export function StartAgainOrBack(props: { href: string; back: boolean }) {
  if (props.back) return <BackToSecurity />;
  return (
    <p>
      <a class="button" href={props.href}>
        Start again
      </a>
    </p>
  );
}

export function Steps(props: { current: number; total: number; children?: ComponentChildren }) {
  return (
    <p class="steps">
      Step {props.current} of {props.total}
      {props.children ? <> · {props.children}</> : null}
    </p>
  );
}

export const METHOD_NAMES: Readonly<Record<PageMethod, string>> = {
  totp: 'Authenticator app',
  sms: 'Text message (SMS)',
  email: 'Email',
};

/** "Authenticator app", "Text message (SMS) to +1 •••• ••89", "Email to m•••@example.com". */
export function methodDescription(method: PageMethod, maskedDestination: string | null): string {
  if (method === 'totp' || !maskedDestination) return METHOD_NAMES[method];
  return `${METHOD_NAMES[method]} to ${maskedDestination}`;
}
