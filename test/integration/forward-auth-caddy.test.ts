import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caddyOrSkip, startCaddy, type Caddy } from '../helpers/caddy.ts';
import { exactRequest, MATRIX, outcome, SPOOFING } from '../helpers/forward-auth-parity.ts';
import { signIn, startStack, type Stack } from '../helpers/stack.ts';
import { rawRequest } from '../helpers/two-factor.ts';

/**
 * Forward-auth parity through a real Caddy (Debian's) running the shipped
 * deploy/forward-auth/Caddyfile, which asks the sidecar's Traefik-style endpoint
 * (X-Forwarded-Method/-Uri): the same decision matrix as the nginx suite, the same outcomes as
 * the full proxy.
 */

const available = caddyOrSkip();
const skip = 'skip' in available ? available.skip : false;

let stack: Stack;
let caddy: Caddy;

function shippedCaddyfile(appPort: string, guardPort: string): string {
  const text = readFileSync(join(process.cwd(), 'deploy', 'forward-auth', 'Caddyfile'), 'utf8');
  const replaced = text.replaceAll('smartpush-guard:8080', `127.0.0.1:${guardPort}`).replace('reverse_proxy app:8081', `reverse_proxy 127.0.0.1:${appPort}`).replace(':80 {', 'http://127.0.0.1:$PORT {');
  assert.notEqual(replaced, text);
  return replaced;
}

describe('forward-auth through a real Caddy decides as the full proxy does', { skip }, () => {
  before(async () => {
    stack = await startStack({ config: { forward_auth: { enabled: true, trusted: ['127.0.0.1/32'], upstream_cookie_header: 'Cookie' } } });
    caddy = await startCaddy(shippedCaddyfile(new URL(stack.upstreamUrl).port, new URL(stack.url).port));
  });
  after(async () => {
    await caddy?.stop();
    await stack?.close();
  });

  for (const signedIn of [false, true]) {
    for (const spoof of [false, true]) {
      test(`${signedIn ? 'signed in' : 'anonymous'}${spoof ? ', with spoofed forwarding headers' : ''}: every request of the matrix`, async () => {
        const proxyCookie = signedIn ? await signIn(stack.url) : undefined;
        const caddyCookie = signedIn ? await signIn(caddy.url) : undefined;
        const differences: string[] = [];
        for (const [method, target] of MATRIX) {
          const base = { accept: 'text/html', ...(spoof ? SPOOFING : {}) };
          const viaProxy = await outcome(stack.url, method, target, { ...base, ...(proxyCookie ? { cookie: proxyCookie } : {}) });
          const viaCaddy = await outcome(caddy.url, method, target, { ...base, ...(caddyCookie ? { cookie: caddyCookie } : {}) });
          if (viaProxy.outcome !== viaCaddy.outcome) {
            differences.push(`${method} ${target}: full proxy ${viaProxy.outcome} (${viaProxy.status}), caddy ${viaCaddy.outcome} (${viaCaddy.status} ${viaCaddy.body})`);
          }
        }
        assert.deepEqual(differences, [], caddy.output().slice(-2000));
      });
    }
  }

  test('signed in through Caddy, the app sees its own bound session and X-Auth-User, never the client\'s', async () => {
    const cookie = await signIn(caddy.url);
    const dashboard = await exactRequest(caddy.url, 'GET', '/dashboard', { accept: 'text/html', cookie });
    assert.equal(dashboard.status, 200, dashboard.text.slice(0, 200));
    const seen = await rawRequest(`${caddy.url}/debug/request/fa`, { headers: { accept: 'application/json', cookie: `${cookie}; sp_session=forged`, 'x-auth-user': 'admin@example.com' } });
    assert.equal(seen.status, 200, seen.text);
    const headers = seen.body['headers'] as Record<string, string>;
    assert.equal(headers['x-auth-user'], 'merchant@example.com');
    assert.doesNotMatch(headers['cookie'] ?? '', /forged|spg_/, `the app received ${headers['cookie']}`);
  });

  test('the decision endpoints are not reachable by a browser through Caddy', async () => {
    const r = await exactRequest(caddy.url, 'GET', '/_guard/forward-auth/traefik', { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/dashboard' });
    assert.equal(r.status, 404);
  });
});
