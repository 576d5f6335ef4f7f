import type { ComponentChildren } from 'preact';
import { renderToString } from 'preact-render-to-string';

/**
 * The frame of every sidecar page. Rendered by Preact, which escapes every interpolated value, so
 * no page builds HTML from strings by hand. No inline script or style: the CSP forbids both.
 */
export function Layout(props: { title: string; children: ComponentChildren }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title} · SmartPush</title>
        <link rel="stylesheet" href="/_guard/assets/guard.css" />
      </head>
      <body>
        <main class="card">{props.children}</main>
      </body>
    </html>
  );
}

export function renderPage(node: preact.VNode): string {
  return '<!doctype html>' + renderToString(node);
}
