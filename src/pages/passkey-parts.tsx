import { useUi } from './page-ui.tsx';
import { CsrfField } from './security-parts.tsx';

/**
 * The passkey forms the pages share. Each is rendered `hidden` with the server's WebAuthn options
 * in `data-options`; /_guard/assets/passkey.js shows it where the browser can use passkeys, runs
 * the ceremony, and submits the answer in the hidden `response` field. Without JavaScript or
 * WebAuthn the form stays hidden and the `fallback` words say to use a code instead.
 */
export interface PasskeyFormView {
  /** The WebAuthn options as JSON (PublicKeyCredentialRequestOptionsJSON or …CreationOptionsJSON). */
  readonly options: string;
}

export function PasskeyScript() {
  return <script src="/_guard/assets/passkey.js" defer />;
}

/** "Use a passkey" on the sign-in code page and the step-up page. */
export function PasskeyAssertForm(props: { action: string; csrf: string; view: PasskeyFormView; fields?: Readonly<Record<string, string>> }) {
  const { t } = useUi();
  return (
    <section aria-labelledby="passkey-heading" class="passkey">
      <h2 id="passkey-heading">{t.passkey.orUseKey}</h2>
      <p id="passkey-fallback" class="muted">
        {t.passkey.unsupported}
      </p>
      <form
        method="post"
        action={props.action}
        hidden
        data-passkey="get"
        data-options={props.view.options}
        data-status="passkey-status"
        data-fallback="passkey-fallback"
        data-cancelled={t.passkey.cancelled}
        data-unsupported={t.passkey.unsupported}
      >
        <CsrfField csrf={props.csrf} />
        {Object.entries(props.fields ?? {}).map(([name, value]) => (
          <input type="hidden" name={name} value={value} />
        ))}
        <input type="hidden" name="response" value="" />
        <button type="submit" class="secondary">
          {t.passkey.useButton}
        </button>
      </form>
      <p id="passkey-status" aria-live="assertive" />
      <PasskeyScript />
    </section>
  );
}
