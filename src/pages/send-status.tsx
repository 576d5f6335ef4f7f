import { useUi } from './page-ui.tsx';

/**
 * What a code page says about sending, taken from the server's state on every request (never from
 * the URL, so a reload neither restarts a countdown nor repeats "we sent"): a code that can be
 * entered was sent, or the last send was refused — then the page says that no code was sent, when
 * a new one can be asked for, and the ways that still work (a recovery code where the account has
 * them, the help page, support).
 */
export interface SendView {
  readonly method: 'sms' | 'email';
  /** Masked phone or address. */
  readonly destination: string | null;
  /** A code sent for this step can still be entered. */
  readonly live: boolean;
  /** Why the last send for this step sent nothing, if it did not. */
  readonly refused: 'budget' | 'delivery' | 'country' | null;
  /** Seconds until a new code may be asked for (server time); 0: now. */
  readonly resendAfter: number;
  /** The account has recovery codes left and this step accepts them. */
  readonly recovery: boolean;
}

export function SendStatus(props: { send: SendView }) {
  const { t, brand } = useUi();
  const { send } = props;
  if (send.refused !== null) {
    const reason = send.refused === 'budget' ? t.sendRefused.budget(send.destination ?? t.methodName[send.method]) : t.sendRefused[send.refused];
    return (
      <div class="warning" role="status" id="send-status" data-send="refused">
        <p>
          <strong>{t.noCodeSent}</strong> {reason}
        </p>
        {send.live ? <p>{t.earlierCodeWorks}</p> : null}
        {/* Asking again cannot help a number texts cannot reach. */}
        {send.refused === 'country' ? null : <p>{send.resendAfter > 0 ? t.askAgainIn(send.resendAfter) : t.askAgainNow}</p>}
        <p>
          {send.recovery ? t.refusedWaysRecovery(brand.support) : t.refusedWaysNone(brand.support)} <a href="/_guard/help/otp">{t.codeHelp}</a>
        </p>
      </div>
    );
  }
  if (send.live) {
    return (
      <p id="send-status" data-send="sent">
        {send.destination !== null ? t.verifyWhere[send.method](send.destination) : send.method === 'sms' ? t.codeSentSmsPhone : t.verifyInstructions.email}
      </p>
    );
  }
  return (
    <p id="send-status" data-send="none">
      {t.noLiveCode}
    </p>
  );
}

