import { Layout, renderPage } from './layout.tsx';

/** "Didn't receive a code?": common causes and what to do, for every method. Public. */
export function renderOtpHelpPage(props: { product: string; support: string }): string {
  return renderPage(
    <Layout title="Didn’t receive a code?">
      <h1>Didn’t receive a code?</h1>
      <p>Most missing codes have one of these causes.</p>

      <h2 id="sms">Text message (SMS)</h2>
      <ul class="help-list">
        <li>
          <strong>Delays and carrier filtering.</strong> Texts are sometimes held up for a few minutes, and some carriers filter messages from
          automated senders. Wait a little, then ask for a new code.
        </li>
        <li>
          <strong>Your phone number changed.</strong> Codes go to the number on your account, which you cannot change yourself. Contact support:{' '}
          {props.support}.
        </li>
        <li>
          <strong>Roaming or abroad.</strong> Texts may not arrive while roaming or in another country. Turn on roaming, connect to your home
          network, or use a recovery code.
        </li>
        <li>
          <strong>Blocked short codes.</strong> Your phone, plan or a blocking app may block messages from short codes or unknown senders. Check
          your blocked list and spam folder in your messages app, or ask your carrier to allow them.
        </li>
        <li>
          <strong>No signal or a full inbox.</strong> Make sure the phone has signal and room for new messages.
        </li>
      </ul>

      <h2 id="email">Email</h2>
      <ul class="help-list">
        <li>
          <strong>Spam or junk folder.</strong> Look in your spam, junk, promotions or updates folder, and mark the message as not spam.
        </li>
        <li>
          <strong>Corporate mail filters.</strong> A company mail server can hold or quarantine automated messages for a while. Ask your IT team to
          allow mail from {props.product}.
        </li>
        <li>
          <strong>The right mailbox.</strong> Codes go to the email address you sign in with.
        </li>
      </ul>

      <h2 id="resend">Asking for a new code</h2>
      <ul class="help-list">
        <li>
          <strong>Wait for the resend timer.</strong> A new code can be sent only after a short wait; asking again sooner does not send another.
          When a new code is sent, the previous one stops working: use the newest one.
        </li>
        <li>
          <strong>Codes expire.</strong> A code works for a few minutes only. If it has expired, ask for a new one.
        </li>
      </ul>

      <h2 id="app">Authenticator app</h2>
      <ul class="help-list">
        <li>
          <strong>The phone’s clock is out of sync.</strong> Codes depend on the exact time. Turn on automatic date and time (network time) in your
          phone’s settings; some apps also have a “time correction” option.
        </li>
        <li>
          <strong>The wrong account in the app.</strong> Use the code listed under {props.product} and your email address, not another account’s.
        </li>
        <li>
          <strong>A new phone.</strong> If you moved to a new phone without moving your authenticator accounts, use a recovery code.
        </li>
      </ul>

      <h2 id="recovery">Still no code?</h2>
      <p>
        Enter one of your <strong>recovery codes</strong> in the code field instead. Each works once. If you have none left, or you lost your
        device, contact support: {props.support}.
      </p>

      <p>
        <a href="/_guard/verify">Back to the code page</a> · <a href="/_guard/security">Login &amp; Security</a>
      </p>
    </Layout>,
  );
}
