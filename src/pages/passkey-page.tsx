import { Layout } from './layout.tsx';
import { renderPage, useUi, type PageUi } from './page-ui.tsx';
import { PasskeyScript, type PasskeyFormView } from './passkey-parts.tsx';
import { BackToSecurity, CodeField, CsrfField, Messages, PasswordField, ResendButton, methodDescription, type PageMessage, type PageMethod } from './security-parts.tsx';

/**
 * Login & Security › Passkeys and security keys: the list, then the proof (password, then a code
 * of the enrolled method), then adding one (the WebAuthn ceremony, run by passkey.js) or removing
 * one. Everything but the ceremony itself works without JavaScript.
 */

interface PasskeyRow {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

export type PasskeyPageStep =
  | { readonly step: 'two_factor_off' }
  | { readonly step: 'password' }
  | { readonly step: 'code'; readonly method: PageMethod; readonly destination: string | null }
  /** `add` null: no passkey can be added now; `problem` says why (default: not at this address). */
  | { readonly step: 'verified'; readonly add: PasskeyFormView | null; readonly problem?: string | undefined };

type PasskeyPageProps = PageMessage & {
  readonly csrf: string;
  readonly keys: readonly PasskeyRow[];
  readonly view: PasskeyPageStep;
};

const ACTION = '/_guard/security/passkeys';

function when(iso: string, lang: string): string {
  return new Date(iso).toLocaleDateString(lang.toLowerCase() === 'zh-cn' ? 'zh-CN' : 'en-GB', { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' });
}

function KeyList(props: { keys: readonly PasskeyRow[]; csrf: string; canRemove: boolean }) {
  const { t, lang } = useUi();
  if (props.keys.length === 0) return <p id="passkey-none">{t.passkey.none}</p>;
  return (
    <table class="passkeys" id="passkey-list">
      <caption>{t.passkey.listCaption}</caption>
      <thead>
        <tr>
          <th scope="col">{t.passkey.name}</th>
          <th scope="col">{t.passkey.addedOn}</th>
          <th scope="col">{t.passkey.lastUsed}</th>
          {props.canRemove ? <th scope="col">{t.passkey.actions}</th> : null}
        </tr>
      </thead>
      <tbody>
        {props.keys.map((key) => (
          <tr>
            <th scope="row">{key.name}</th>
            <td>{when(key.createdAt, lang)}</td>
            <td>{key.lastUsedAt ? when(key.lastUsedAt, lang) : t.passkey.never}</td>
            {props.canRemove ? (
              <td>
                <form method="post" action={ACTION}>
                  <CsrfField csrf={props.csrf} />
                  <input type="hidden" name="step" value="remove" />
                  <input type="hidden" name="id" value={key.id} />
                  <button type="submit" class="secondary">
                    {t.passkey.remove(key.name)}
                  </button>
                </form>
              </td>
            ) : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Body(props: PasskeyPageProps) {
  const { t } = useUi();
  const view = props.view;
  switch (view.step) {
    case 'two_factor_off':
      return <p class="warning">{t.passkey.needsTwoFactor}</p>;
    case 'password':
      return (
        <>
          <h2>{t.passkey.confirmHeading}</h2>
          <p>{t.passkey.confirmText}</p>
          <form method="post" action={ACTION}>
            <CsrfField csrf={props.csrf} />
            <input type="hidden" name="step" value="password" />
            <PasswordField error={props.error} />
            <button type="submit">{t.continue}</button>
          </form>
        </>
      );
    case 'code':
      return (
        <>
          <h2>{t.passkey.confirmHeading}</h2>
          <p>{view.method === 'totp' ? t.sixDigitsFromApp : t.sentTo(methodDescription(t, view.method, view.destination))}</p>
          <form method="post" action={ACTION}>
            <CsrfField csrf={props.csrf} />
            <CodeField error={props.error} />
            <button type="submit" name="step" value="code">
              {t.continue}
            </button>
            <ResendButton method={view.method} value="resend" />
          </form>
        </>
      );
    case 'verified':
      return (
        <>
          <h2>{t.passkey.addHeading}</h2>
          {view.add ? (
            <>
              <p id="passkey-add-fallback" class="muted">
                {t.passkey.unsupportedAdd}
              </p>
              <form
                method="post"
                action={ACTION}
                hidden
                data-passkey="create"
                data-options={view.add.options}
                data-status="passkey-status"
                data-fallback="passkey-add-fallback"
                data-cancelled={t.passkey.cancelled}
                data-unsupported={t.passkey.unsupportedAdd}
              >
                <CsrfField csrf={props.csrf} />
                <input type="hidden" name="step" value="add" />
                <input type="hidden" name="response" value="" />
                <label for="passkey-name">{t.passkey.nameLabel}</label>
                <input id="passkey-name" name="name" type="text" required maxLength={64} autocomplete="off" aria-describedby="passkey-name-hint" />
                <p id="passkey-name-hint" class="muted">
                  {t.passkey.nameHint}
                </p>
                <button type="submit">{t.passkey.addButton}</button>
              </form>
              <p id="passkey-status" aria-live="assertive" />
              <PasskeyScript />
            </>
          ) : (
            <p class="warning">{view.problem ?? t.passkey.unavailableHere}</p>
          )}
        </>
      );
  }
}

function PasskeyPage(props: PasskeyPageProps) {
  const { t, brand } = useUi();
  return (
    <Layout title={t.passkey.title}>
      <h1>{t.passkey.title}</h1>
      <Messages error={props.error} notice={props.notice} warning={props.warning} />
      <p>{t.passkey.intro(brand.product)}</p>
      <KeyList keys={props.keys} csrf={props.csrf} canRemove={props.view.step === 'verified'} />
      <Body {...props} />
      <BackToSecurity />
    </Layout>
  );
}

export function renderPasskeyPage(ui: PageUi, props: PasskeyPageProps): string {
  return renderPage(ui, <PasskeyPage {...props} />);
}
