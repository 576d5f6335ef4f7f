import { Layout } from './layout.tsx';
import { landingOf, renderPage, useUi, type PageUi } from './page-ui.tsx';

interface ErrorPageProps {
  readonly status: number;
  /** The machine code of the refusal (`forbidden`, `upstream_unavailable`, …): picks the words. */
  readonly error: string;
  readonly requestId?: string;
}

/** Words for an error code, in the page's language; unknown codes get a generic sentence. */
export function errorWords(ui: PageUi, status: number, error: string): { title: string; message: string } {
  const { t, brand } = ui;
  const title = t.errorTitle[status as keyof typeof t.errorTitle] ?? t.errorTitleDefault;
  if (error === 'upstream_timeout') return { title, message: t.upstreamTimeout(brand.product) };
  if (error === 'upstream_unavailable') return { title, message: t.upstreamDown(brand.product) };
  const known = (t.errorMessage as Readonly<Record<string, string | undefined>>)[error] ?? (t.flow as Readonly<Record<string, string | undefined>>)[error] ?? t.passkey.errors[error];
  return { title, message: known ?? t.errorGeneric };
}

/** Plain error page: what happened, what the person can do, and an id support can search for. */
function ErrorPage(props: ErrorPageProps) {
  const ui = useUi();
  const { t, brand } = ui;
  const { title, message } = errorWords(ui, props.status, props.error);
  return (
    <Layout title={title}>
      <h1>{title}</h1>
      <p role="alert">{message}</p>
      <p class="muted">
        {t.errorStatus(props.status)}
        {props.requestId ? ` · ${t.errorReference(props.requestId)}` : ''}
      </p>
      <p>
        <a href={landingOf(brand)}>{t.backToProduct(brand.product)}</a>
      </p>
    </Layout>
  );
}

export function renderErrorPage(ui: PageUi, props: ErrorPageProps): string {
  return renderPage(ui, <ErrorPage {...props} />);
}
