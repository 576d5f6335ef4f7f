import { Layout, renderPage } from './layout.tsx';

export interface ErrorPageProps {
  readonly status: number;
  readonly title: string;
  readonly message: string;
  readonly requestId?: string;
}

/** Plain error page: what happened, what the person can do, and an id support can search for. */
export function renderErrorPage(props: ErrorPageProps): string {
  return renderPage(
    <Layout title={props.title}>
      <h1>{props.title}</h1>
      <p>{props.message}</p>
      <p class="muted">
        Error {props.status}
        {props.requestId ? ` · reference ${props.requestId}` : ''}
      </p>
      <p>
        <a href="/">Back to SmartPush</a>
      </p>
    </Layout>,
  );
}
