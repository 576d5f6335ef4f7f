import { Layout } from './layout.tsx';
import { renderPage, useUi, type PageUi } from './page-ui.tsx';
import type { EnableProps } from './security-enable-view.ts';
import { CodeStep, IdentityStep, PasswordStep } from './security-enable-identity.tsx';
import { ConfirmStep, DoneStep, MethodStep, RestartStep, TotpStep } from './security-enable-setup.tsx';

/**
 * The "enable two-factor authentication" wizard, one view per step (the views: security-enable-view.ts;
 * the steps: security-enable-identity.tsx and security-enable-setup.tsx).
 */
function EnablePage(props: EnableProps) {
  const { t } = useUi();
  return <Layout title={props.view.step === 'done' ? t.enabledTitle : t.enable}>{body(props)}</Layout>;
}

export function renderEnablePage(ui: PageUi, props: EnableProps): string {
  return renderPage(ui, <EnablePage {...props} />);
}

function body(props: EnableProps) {
  const view = props.view;
  switch (view.step) {
    case 'password':
      return <PasswordStep {...props} />;
    case 'identity':
      return <IdentityStep {...props} view={view} />;
    case 'code':
      return <CodeStep {...props} view={view} />;
    case 'method':
      return <MethodStep {...props} view={view} />;
    case 'totp':
      return <TotpStep {...props} view={view} />;
    case 'confirm':
      return <ConfirmStep {...props} view={view} />;
    case 'done':
      return <DoneStep {...props} view={view} />;
    case 'restart':
      return <RestartStep {...props} view={view} />;
  }
}
