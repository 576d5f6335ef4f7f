import type { ComponentChildren } from 'preact';
import { renderToString } from 'preact-render-to-string';

/**
 * The words of every message the sidecar sends. `text` is short enough for one SMS (GSM-7, ASCII
 * only when the product name is) and is also the email's text/plain part; `html` is the email's
 * HTML alternative, rendered by Preact so every value is escaped. Emails carry no external images,
 * fonts or links to tracking: only inline styles.
 */

export type CodePurpose = 'login' | 'enable' | 'disable' | 'step_up' | 'identity' | 'risk' | 'recovery';

interface RenderedMessage {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

const CODE_WORDING: Record<CodePurpose, { subject: string; what: string; action: string }> = {
  login: { subject: 'sign-in code', what: 'sign-in code', action: 'to finish signing in' },
  enable: {
    subject: 'code to turn on two-factor authentication',
    what: 'code to turn on two-factor authentication',
    action: 'to turn on two-factor authentication',
  },
  disable: {
    subject: 'code to turn off two-factor authentication',
    what: 'code to turn off two-factor authentication',
    action: 'to turn off two-factor authentication',
  },
  step_up: { subject: 'verification code', what: 'verification code', action: 'to confirm a sensitive action' },
  identity: { subject: 'verification code', what: 'verification code', action: 'to confirm it is you' },
  risk: { subject: 'verification code', what: 'verification code', action: 'to confirm it is you signing in' },
  recovery: { subject: 'account recovery code', what: 'account recovery code', action: 'to recover access to your account' },
};

function minutesText(minutes: number): string {
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

/**
 * A one-time code. The text reads, e.g.:
 * `SmartPush: 123456 is your verification code. It expires in 5 minutes. Never share it with anyone.`
 */
export function codeMessage(input: {
  code: string;
  purpose: CodePurpose;
  minutes: number;
  product: string;
}): RenderedMessage {
  const { code, purpose, minutes, product } = input;
  const wording = CODE_WORDING[purpose];
  const expires = minutesText(minutes);
  const subject = `Your ${product} ${wording.subject}`;
  const text = `${product}: ${code} is your ${wording.what}. It expires in ${expires}. Never share it with anyone.`;
  const html = renderEmail(
    subject,
    <>
      <p style={P}>Use this code {wording.action}:</p>
      <p style={CODE}>{code}</p>
      <p style={P}>It expires in {expires} and works once.</p>
      <p style={P}>
        <strong>Never share this code with anyone.</strong> {product} staff will never ask you for it. If you did not
        ask for a code, you can ignore this message, and consider changing your password.
      </p>
    </>,
    product,
  );
  return { subject, text, html };
}

export type SecurityEvent =
  | '2fa_enabled'
  | '2fa_disabled'
  | '2fa_reset'
  | 'destination_changed'
  | 'recovery_codes_regenerated'
  | 'passkey_added'
  | 'passkey_removed';

type MethodName = 'totp' | 'sms' | 'email';

const METHOD_LABEL: Record<MethodName, string> = {
  totp: 'an authenticator app',
  sms: 'text message (SMS)',
  email: 'email',
};

function eventSentence(event: SecurityEvent, method: MethodName | undefined): { subject: string; what: string } {
  const via = method ? ` using ${METHOD_LABEL[method]}` : '';
  switch (event) {
    case '2fa_enabled':
      return { subject: 'Two-factor authentication was turned on', what: `Two-factor authentication was turned on for your account${via}.` };
    case '2fa_disabled':
      return {
        subject: 'Two-factor authentication was turned off',
        what: 'Two-factor authentication was turned off for your account. Signing in now needs only your password.',
      };
    case '2fa_reset':
      return {
        subject: 'Two-factor authentication was reset',
        what: 'Support reset two-factor authentication for your account. Signing in now needs only your password until you set it up again.',
      };
    case 'destination_changed':
      return {
        subject: 'Your verification destination was changed',
        what: `Support changed where your verification codes are sent${method ? ` by ${METHOD_LABEL[method]}` : ''}.`,
      };
    case 'recovery_codes_regenerated':
      return {
        subject: 'New recovery codes were created',
        what: 'New recovery codes were created for your account. Your old recovery codes no longer work.',
      };
    case 'passkey_added':
      return { subject: 'A passkey was added', what: 'A passkey or security key was added to your account. It can now be used instead of a code.' };
    case 'passkey_removed':
      return { subject: 'A passkey was removed', what: 'A passkey or security key was removed from your account. It can no longer be used to sign in.' };
  }
}

/** Formats a time unambiguously for any reader: `2025-03-04 05:06 UTC`. */
export function formatTime(time: Date): string {
  return time.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

/** A security notification (THREATS T14: every 2FA change is notified by email). */
export function notificationMessage(input: {
  event: SecurityEvent;
  method?: MethodName;
  time: Date;
  product: string;
  /** How to reach support: an address, phone number or URL, shown as text. */
  support: string;
}): RenderedMessage {
  const { product, support } = input;
  const { subject: what, what: sentence } = eventSentence(input.event, input.method);
  const when = formatTime(input.time);
  const subject = `${product}: ${what}`;
  const text =
    `${product}: ${sentence} (${when})\n\n` +
    `If this was you, there is nothing else to do.\n` +
    `If it was not you, contact support right away: ${support}\n`;
  const html = renderEmail(
    subject,
    <>
      <p style={P}>{sentence}</p>
      <p style={P}>Time: {when}</p>
      <p style={P}>If this was you, there is nothing else to do.</p>
      <p style={P}>
        <strong>If it was not you</strong>, contact support right away: {support}
      </p>
    </>,
    product,
  );
  return { subject, text, html };
}

/** 'password': wrong passwords (paused somewhere, or slowed); 'code': a correct password, then wrong codes. */
export type AttackNoticeKind = 'password' | 'code';

/**
 * The owner's notice of failed sign-in attempts (THREATS T21). Says what happened, what was paused
 * and what was not, and what to do; never a code, a password or the attempts' addresses.
 */
export function attackNoticeMessage(input: { kind: AttackNoticeKind; time: Date; product: string; support: string }): RenderedMessage {
  const { product, support } = input;
  const when = formatTime(input.time);
  const subject =
    input.kind === 'password' ? `${product}: failed sign-in attempts on your account` : `${product}: your password was used with wrong verification codes`;
  const what =
    input.kind === 'password'
      ? 'Someone has repeatedly tried to sign in to your account with a wrong password. Sign-in from the places they tried is paused or slowed down for a while; your own known devices keep working.'
      : 'Someone entered your password correctly and then repeatedly entered wrong verification codes. Sign-in from the places they tried is paused; your own known devices keep working.';
  const todo =
    input.kind === 'password'
      ? 'If this was you, there is nothing else to do. If it was not you, your account is still protected; consider a longer password, and turn on two-factor authentication if it is off.'
      : 'If this was not you, change your password now: someone knows it.';
  const text = `${product}: ${what} (${when})\n\n${todo}\nQuestions: ${support}\n`;
  const html = renderEmail(
    subject,
    <>
      <p style={P}>{what}</p>
      <p style={P}>Time: {when}</p>
      <p style={P}>
        <strong>{todo}</strong>
      </p>
      <p style={P}>Questions: {support}</p>
    </>,
    product,
  );
  return { subject, text, html };
}

const P = 'margin:0 0 16px;font-size:15px;line-height:1.5;color:#1f2933;';
const CODE =
  'margin:0 0 16px;font-family:Menlo,Consolas,monospace;font-size:28px;font-weight:bold;letter-spacing:4px;color:#111827;';

function renderEmail(title: string, body: ComponentChildren, product: string): string {
  return renderEmailLayout('en', title, body, <>This is an automatic security message from {product}.</>);
}

/** The HTML frame of every email the sidecar sends (codes, notifications, security alerts). */
export function renderEmailLayout(lang: string, title: string, body: ComponentChildren, footer: ComponentChildren): string {
  return (
    '<!doctype html>' +
    renderToString(
      <html lang={lang}>
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>{title}</title>
        </head>
        <body style="margin:0;padding:24px;background:#f4f5f7;font-family:-apple-system,'Segoe UI',Roboto,Arial,sans-serif;">
          <div style="max-width:480px;margin:0 auto;padding:24px;background:#ffffff;border-radius:8px;">
            <h1 style="margin:0 0 16px;font-size:18px;color:#111827;">{title}</h1>
            {body}
            <p style="margin:24px 0 0;font-size:12px;color:#6b7280;">{footer}</p>
          </div>
        </body>
      </html>,
    )
  );
}
