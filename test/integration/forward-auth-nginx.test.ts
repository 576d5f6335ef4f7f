import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nginxOrSkip, startNginx, type Nginx } from '../helpers/nginx.ts';
import { signIn, startStack, type Stack } from '../helpers/stack.ts';
import { rawRequest } from '../helpers/two-factor.ts';
import { exactRequest, MATRIX, outcome, SPOOFING } from '../helpers/forward-auth-parity.ts';

/**
 * Forward-auth parity: one decision matrix (the demo policy's rules × anonymous and signed-in ×
 * the path-confusion and header-spoofing cases of test/security/) sent through the full proxy and
 * through a real nginx (Debian's) configured by the shipped deploy/forward-auth/nginx.conf, which
 * asks the same sidecar with auth_request. Every request must be decided alike: passed to the app,
 * sent to sign in, sent to a step-up, or refused.
 */

const nginxAvailable = nginxOrSkip();
const skip = 'skip' in nginxAvailable ? nginxAvailable.skip : false;

let stack: Stack;
let nginx: Nginx;

/** The shipped snippet, pointed at this test's demo app and sidecar, listening on nginx's port. */
function shippedSnippet(appPort: string, guardPort: string): string {
  const text = readFileSync(join(process.cwd(), 'deploy', 'forward-auth', 'nginx.conf'), 'utf8');
  const replaced = text.replace('server app:8081;', `server 127.0.0.1:${appPort};`).replace('server smartpush-guard:8080;', `server 127.0.0.1:${guardPort};`).replace('listen 80;', 'listen 127.0.0.1:$PORT;');
  assert.notEqual(replaced, text);
  return replaced;
}

describe('forward-auth through a real nginx decides as the full proxy does', { skip }, () => {
  before(async () => {
    stack = await startStack({ config: { forward_auth: { enabled: true, trusted: ['127.0.0.1/32'] } } });
    nginx = await startNginx(shippedSnippet(new URL(stack.upstreamUrl).port, new URL(stack.url).port));
  });
  after(async () => {
    await nginx?.stop();
    await stack?.close();
  });

  for (const signedIn of [false, true]) {
    for (const spoof of [false, true]) {
      test(`${signedIn ? 'signed in' : 'anonymous'}${spoof ? ', with spoofed forwarding headers' : ''}: every request of the matrix`, async () => {
        const proxyCookie = signedIn ? await signIn(stack.url) : undefined;
        const nginxCookie = signedIn ? await signIn(nginx.url) : undefined;
        const differences: string[] = [];
        for (const [method, target] of MATRIX) {
          const base = { accept: 'text/html', ...(spoof ? SPOOFING : {}) };
          const viaProxy = await outcome(stack.url, method, target, { ...base, ...(proxyCookie ? { cookie: proxyCookie } : {}) });
          const viaNginx = await outcome(nginx.url, method, target, { ...base, ...(nginxCookie ? { cookie: nginxCookie } : {}) });
          if (viaProxy.outcome !== viaNginx.outcome) {
            differences.push(`${method} ${target}: full proxy ${viaProxy.outcome} (${viaProxy.status}), nginx ${viaNginx.outcome} (${viaNginx.status} ${viaNginx.body})`);
          }
        }
        assert.deepEqual(differences, [], `${nginx.errors().slice(-2000)}`);
      });
    }
  }

  test('the app learns who is signed in from X-Auth-User, set by nginx from the sidecar, never from the client', async () => {
    const cookie = await signIn(nginx.url);
    const seen = await rawRequest(`${nginx.url}/debug/request/fa`, { headers: { accept: 'application/json', cookie, 'x-auth-user': 'admin@example.com' } });
    assert.equal(seen.status, 200, seen.text);
    assert.equal((seen.body['headers'] as Record<string, string>)['x-auth-user'], 'merchant@example.com');
    const anonymous = await rawRequest(`${nginx.url}/static/app.css`, { headers: { 'x-auth-user': 'admin@example.com' } });
    assert.equal(anonymous.status, 200);
  });

  test('a browser is sent to the sidecar sign-in through nginx and comes back signed in', async () => {
    const first = await rawRequest(`${nginx.url}/dashboard`, { headers: { accept: 'text/html' } });
    assert.equal(first.status, 302);
    assert.equal(new URL(String(first.headers['location']), nginx.url).href, `${nginx.url}/_guard/login?return_to=%2Fdashboard`);
    const page = await rawRequest(`${nginx.url}/_guard/login?return_to=%2Fdashboard`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(page.text, /<form/);
    const cookie = await signIn(nginx.url);
    const dashboard = await rawRequest(`${nginx.url}/dashboard`, { headers: { accept: 'text/html', cookie } });
    assert.equal(dashboard.status, 200, dashboard.text.slice(0, 200));
  });

  test("a POST to the app's login URL never reaches the app: the browser is sent to the sidecar's sign-in", async () => {
    const r = await exactRequest(nginx.url, 'POST', '/login', { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' });
    assert.equal(r.status, 302);
    assert.equal(new URL(r.location ?? '', nginx.url).href, `${nginx.url}/_guard/login`);
  });

  test('the decision endpoints are not reachable by a browser through the ingress', async () => {
    for (const path of ['/_guard/forward-auth/nginx', '/_guard/forward-auth/traefik', '/_guard/forward-auth/envoy/dashboard']) {
      const r = await rawRequest(`${nginx.url}${path}`, { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/dashboard' } });
      assert.equal(r.status, 404, path);
    }
  });
});

describe('forward-auth endpoints answer only the trusted ingress', () => {
  let other: Stack;
  before(async () => {
    other = await startStack({ config: { forward_auth: { enabled: true, trusted: ['10.0.0.0/8'] } } });
  });
  after(async () => {
    await other?.close();
  });

  test('a request from an address outside forward_auth.trusted is refused before its headers are read', async () => {
    for (const [path, headers] of [
      ['/_guard/forward-auth/nginx', { 'x-original-url': 'http://x/static/app.css', 'x-original-method': 'GET' }],
      ['/_guard/forward-auth/traefik', { 'x-forwarded-uri': '/static/app.css', 'x-forwarded-method': 'GET' }],
      ['/_guard/forward-auth/envoy/static/app.css', {}],
    ] as const) {
      const r = await rawRequest(`${other.url}${path}`, { headers: { accept: 'application/json', ...headers } });
      assert.equal(r.status, 403, path);
      assert.equal(r.body['error'], 'untrusted_ingress');
    }
  });

  test('forward_auth.enabled without trusted addresses is refused at start, naming the key', async () => {
    await assert.rejects(startStack({ config: { forward_auth: { enabled: true } } }), /forward_auth\.trusted/);
  });

  test('without forward_auth.enabled the endpoints do not exist', async () => {
    const plain = await startStack({});
    try {
      const r = await rawRequest(`${plain.url}/_guard/forward-auth/traefik`, { headers: { accept: 'application/json', 'x-forwarded-uri': '/', 'x-forwarded-method': 'GET' } });
      assert.equal(r.status, 404);
    } finally {
      await plain.close();
    }
  });
});
