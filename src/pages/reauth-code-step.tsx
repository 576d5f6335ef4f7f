import type { ComponentChildren } from 'preact';
import { useUi } from './page-ui.tsx';
import { SendStatus, type SendView } from './send-status.tsx';
import { CodeField, CodeHelp, CsrfField, Messages, RecoveryCodeForm, Steps, methodDescription, type PageMessage, type PageMethod } from './security-parts.tsx';

/**
 * The step that proves the owner with a code of the current method (or a recovery code) before the
 * factor is changed or turned off: one form for both wizards, posted to each one's own action.
 */
export function ReauthCodeStep(
  props: PageMessage & {
    readonly action: string;
    readonly csrf: string;
    readonly send?: SendView | null | undefined;
    readonly method: PageMethod;
    readonly destination: string | null;
    readonly total: number;
    /** The way back under the form (its label differs per wizard). */
    readonly children: ComponentChildren;
  },
) {
  const { t } = useUi();
  const instructions = props.method === 'totp' ? t.sixDigitsFromApp : t.sentTo(methodDescription(t, props.method, props.destination));
  return (
    <>
      <Steps current={2} total={props.total}>
        {t.enterYourCode}
      </Steps>
      <h1>{t.verifyHeading}</h1>
      <Messages error={props.error} notice={props.notice} warning={props.warning} />
      {props.send ? <SendStatus send={props.send} /> : null}
      {props.send ? null : <p>{instructions}</p>}
      <form method="post" action={props.action}>
        <CsrfField csrf={props.csrf} />
        <input type="hidden" name="step" value="code" />
        <CodeField error={props.error} acceptsRecovery />
        <button type="submit">{t.continue}</button>
      </form>
      <RecoveryCodeForm action={props.action} csrf={props.csrf} fields={{ step: 'code' }} />
      <CodeHelp method={props.method}>
        {props.method !== 'totp' ? (
          <>
            <a href={props.action}>{t.sendNewCode}</a> {t.resendNeedsPassword} ·{' '}
          </>
        ) : null}
      </CodeHelp>
      {props.children}
    </>
  );
}
