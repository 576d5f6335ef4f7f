import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { assertNoHorizontalScroll, checkPage, describeInBrowser, PHONE_VIEWPORT } from '../helpers/browser.ts';

/**
 * The checks every journey relies on must be able to fail: a page with an unlabelled field and an
 * image without alt text fails axe (ids and targets in the message), an inline script under a CSP
 * that forbids it counts as a CSP violation, an uncaught error as a page error, and a page wider
 * than the phone as sideways scrolling.
 */
const BROKEN = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Broken</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Broken</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" id="no-alt">
<input id="unlabelled" type="text"><div style="width:600px">wide</div></main>
<script>document.title = 'ran'</script></body></html>`;

const THROWS = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Throws</title></head>
<body><main><h1>Throws</h1></main><script src="/throws.js"></script></body></html>`;

async function serve(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url === '/throws.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end('throw new Error("boom from the page")');
    } else if (req.url === '/throws') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(THROWS);
    } else {
      res.writeHead(200, { 'content-type': 'text/html', 'content-security-policy': "script-src 'self'; img-src data:" }).end(BROKEN);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describeInBrowser('the page checks themselves', (browser) => {
  browser.test('axe violations, CSP violations, page errors and sideways scrolling are all caught', async () => {
    const site = await serve();
    try {
      const broken = await browser.open({ viewport: PHONE_VIEWPORT });
      await broken.page.goto(site.url);
      assert.notEqual(await broken.page.title(), 'ran', 'the CSP blocked the inline script');
      const axe = await checkPage(broken, 'selftest-broken').then(
        () => assert.fail('checkPage passed a page with WCAG violations'),
        (error: Error) => error.message,
      );
      assert.match(axe, /image-alt/);
      assert.match(axe, /#no-alt/);
      assert.match(axe, /label/);
      assert.match(axe, /#unlabelled/);
      assert.ok(broken.problems.some((p) => p.includes('Content Security Policy')), `no CSP violation recorded: ${broken.problems.join('\n')}`);
      await assert.rejects(assertNoHorizontalScroll(broken, 'broken'), /scrolls sideways at 375 px/);

      const throws = await browser.open();
      await throws.page.goto(`${site.url}/throws`);
      await assert.rejects(checkPage(throws, 'selftest-throws'), /page error at .*boom from the page/);
    } finally {
      await site.close();
    }
  });
});
