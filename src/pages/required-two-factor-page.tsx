import { Layout } from './layout.tsx';
import { renderPage, useUi, type PageUi } from './page-ui.tsx';
import { CsrfField, Messages } from './security-parts.tsx';

/**
 * "Your organisation requires two-step verification" (policy `require_2fa`, issue 17): shown after
 * sign-in and on a covered page to an account without 2FA. "Set up now" is a plain link to the
 * enable flow on Login & Security, which comes back to `returnTo` afterwards; while the grace
 * period lasts, "Not now" is a form (POST with the form token) that counts one skip. Works without
 * JavaScript.
 */
interface RequiredTwoFactorPageProps {
  readonly csrf: string;
  readonly returnTo: string;
  readonly enableUrl: string;
  /** grace: "Not now" offered; required: the grace period is over; enabled / not_required: nothing owed. */
  readonly state: 'grace' | 'required' | 'enabled' | 'not_required';
  /** Skips still allowed (grace only); null: no skip limit. */
  readonly skipsLeft: number | null;
  /** Whole days left (grace only); null: no day or date limit. */
  readonly daysLeft: number | null;
  readonly error?: string | undefined;
}

function RequiredTwoFactorPage(props: RequiredTwoFactorPageProps) {
  const { t, brand } = useUi();
  if (props.state === 'enabled' || props.state === 'not_required') {
    return (
      <Layout title={t.requiredTitle}>
        <h1>{props.state === 'enabled' ? t.requiredAlreadyOnHeading : t.requiredNotNeededHeading}</h1>
        <Messages error={props.error} />
        <p>
          <a class="button" href={props.returnTo}>
            {t.continue}
          </a>
        </p>
      </Layout>
    );
  }
  const grace = props.state === 'grace';
  return (
    <Layout title={t.requiredTitle}>
      <h1>{t.requiredHeading}</h1>
      <Messages error={props.error} />
      <p>{t.requiredText(brand.product)}</p>
      {grace ? (
        <p id="grace-left">{t.requiredGraceLeft(props.skipsLeft, props.daysLeft)}</p>
      ) : (
        <p class="warning" role="status" id="grace-over">
          {t.requiredGraceOver}
        </p>
      )}
      <p>
        <a class="button" href={props.enableUrl}>
          {t.requiredSetUpNow}
        </a>
      </p>
      {grace ? (
        <form method="post" action="/_guard/two-factor-required">
          <CsrfField csrf={props.csrf} />
          <input type="hidden" name="return_to" value={props.returnTo} />
          <button type="submit" class="secondary">
            {t.notNow}
          </button>
        </form>
      ) : null}
      <p class="muted">{t.requiredHelp(brand.support)}</p>
    </Layout>
  );
}

export function renderRequiredTwoFactorPage(ui: PageUi, props: RequiredTwoFactorPageProps): string {
  return renderPage(ui, <RequiredTwoFactorPage {...props} />);
}
