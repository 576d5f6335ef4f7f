/**
 * THREATS T3 — Forwarded / identity header spoofing.
 *
 * Advisories: authentik CVE-2024-47070 (X-Forwarded-For trusted from anyone); oauth2-proxy
 * GHSA-7x63-xv5r-3p2x; Traefik CVE-2026-35051, CVE-2026-39858 (`X.Authenticated.User` alias of an
 * identity header); Symfony CVE-2018-14773 (`X-Original-URL` / `X-Rewrite-URL` override the path).
 * Measured elsewhere: Koa with proxy=true trusts any client's X-Forwarded-For/Host; http-proxy
 * forwards client X-Original-URL and identity headers.
 *
 * The upstream must never see a client's forwarding, rewrite or identity headers (in any spelling):
 * it sees the sidecar's own X-Forwarded-* naming the real peer. Only a configured trusted proxy's
 * chain is believed; the client address the sidecar keys on (its access log `client`) follows the
 * same rule.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OPEN_POLICY, startStack, type Stack } from '../helpers/stack.ts';
import { hostOf, rawExchange } from '../helpers/raw-http.ts';

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
  rawHeaders: string[];
}

/** Header lines every spoofing request carries; each value is marked so it can be traced. */
const SPOOFED: ReadonlyArray<readonly [string, string]> = [
  ['X-Forwarded-For', '203.0.113.66'],
  ['X-Forwarded-Host', 'spoof-forwarded-host.example'],
  ['X-Forwarded-Proto', 'https'],
  ['X-Forwarded-Port', '65599'], // above 65535: it cannot be part of the real port in Host
  ['X-Forwarded-Prefix', '/spoof-prefix'],
  ['X-Forwarded-Server', 'spoof-server'],
  ['X-Forwarded-Ssl', 'on'],
  ['X_Forwarded_For', '203.0.113.67'],
  ['Forwarded', 'for=203.0.113.68;host=spoof-forwarded.example;proto=https'],
  ['X-Real-IP', '203.0.113.69'],
  ['X-Client-IP', '203.0.113.70'],
  ['True-Client-IP', '203.0.113.71'],
  ['CF-Connecting-IP', '203.0.113.72'],
  ['X-Cluster-Client-IP', '203.0.113.73'],
  ['X-Original-URL', '/spoof-original-url'],
  ['X-Original-URI', '/spoof-original-uri'],
  ['X-Rewrite-URL', '/spoof-rewrite-url'],
  ['X-Auth-User', 'spoof-auth-user'],
  ['X_Auth_User', 'spoof-auth-user-underscore'],
  ['X.Auth.User', 'spoof-auth-user-dots'],
  ['x-AUTHENTICATED-user', 'spoof-authenticated-user'],
  ['X.Authenticated.User', 'spoof-authenticated-user-dots'],
  ['X-Auth-Request-Email', 'spoof@example.com'],
  ['X-Guard-User', 'spoof-guard-user'],
  ['X_Guard_Session', 'spoof-guard-session'],
  ['X-Remote-User', 'spoof-remote-user'],
  ['Remote-User', 'spoof-remote-user-2'],
  ['X-User', 'spoof-user'],
  ['X-User-Id', 'spoof-user-id'],
  ['X-Email', 'spoof@example.org'],
  ['X-HTTP-Method-Override', 'DELETE'],
  ['X-Http-Method', 'PUT'],
  ['X-Method-Override', 'PATCH'],
  ['X-Original-Method', 'DELETE'],
];

const SPOOF_VALUES = SPOOFED.map(([, v]) => v);

function folded(name: string): string {
  return name.toLowerCase().replace(/[_.]/g, '-');
}

/** The request as the demo app's /debug/request saw it. */
async function viaDebug(stack: Stack, extraLines: readonly string[], target = '/debug/request/forwarded'): Promise<{ seen: Seen; log: Record<string, unknown> }> {
  const from = stack.logs.length;
  const r = await rawExchange(stack.url, [`GET ${target} HTTP/1.1`, `Host: ${hostOf(stack.url)}`, ...extraLines, 'Connection: close', '', ''].join('\r\n'));
  assert.equal(r.first.status, 200, r.first.body.toString());
  const seen = r.first.json() as Seen;
  let log: Record<string, unknown> | undefined;
  for (let i = 0; i < 100 && !log; i++) {
    log = stack.logs.slice(from).find((l) => l['msg'] === 'request');
    if (!log) await new Promise((res) => setTimeout(res, 10));
  }
  assert.ok(log, 'the request is in the access log');
  return { seen, log };
}

/** Raw header names the upstream received, grouped by folded name. */
function rawNames(seen: Seen): string[] {
  return seen.rawHeaders.filter((_, i) => i % 2 === 0);
}

function rawValues(seen: Seen): string[] {
  return seen.rawHeaders.filter((_, i) => i % 2 === 1);
}

function assertNoSpoofedValues(seen: Seen): void {
  for (const value of rawValues(seen)) {
    for (const spoof of SPOOF_VALUES) {
      assert.ok(!value.includes(spoof), `the upstream received the client's value ${JSON.stringify(spoof)} in ${JSON.stringify(seen.rawHeaders)}`);
    }
  }
}

function assertIdentityHeadersGone(seen: Seen): void {
  const identity = /^(forwarded|x-real-ip|x-client-ip|true-client-ip|cf-connecting-ip|x-cluster-client-ip|x-original-.*|x-rewrite-url|x-auth-.*|x-authenticated-.*|x-guard-.*|x-remote-.*|remote-user|x-user|x-user-.*|x-email|x-http-method-override|x-http-method|x-method-override)$/;
  for (const name of rawNames(seen)) {
    assert.ok(!identity.test(folded(name)), `the upstream received the client header ${name}`);
  }
  // Our own forwarding headers appear once each, under their canonical names only.
  const forwarded = rawNames(seen).filter((n) => folded(n).startsWith('x-forwarded-'));
  assert.deepEqual(forwarded.map((n) => n.toLowerCase()).sort(), ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);
}

let direct: Stack;
let behindProxy: Stack;
let otherTrusted: Stack;

before(async () => {
  direct = await startStack({ policy: OPEN_POLICY });
  behindProxy = await startStack({ policy: OPEN_POLICY, config: { trusted_proxies: ['127.0.0.1'] } });
  otherTrusted = await startStack({ policy: OPEN_POLICY, config: { trusted_proxies: ['10.0.0.0/8', '192.0.2.1'] } });
});
after(async () => {
  await Promise.all([direct.close(), behindProxy.close(), otherTrusted.close()]);
});

test('an untrusted client: no forwarding, rewrite or identity header of its own reaches the upstream', async () => {
  const { seen, log } = await viaDebug(direct, SPOOFED.map(([n, v]) => `${n}: ${v}`));
  assertNoSpoofedValues(seen);
  assertIdentityHeadersGone(seen);
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1', 'the real TCP peer');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.equal(seen.headers['x-forwarded-host'], hostOf(direct.url));
  assert.equal(seen.headers['host'], hostOf(direct.url));
  assert.equal(seen.url, '/debug/request/forwarded', 'X-Original-URL / X-Rewrite-URL change nothing');
  assert.equal(seen.method, 'GET', 'method overrides change nothing');
  assert.equal(log['client'], '127.0.0.1', 'the sidecar keys on the TCP peer, not on X-Forwarded-For');
});

test('an untrusted client: repeated X-Forwarded-For lines and odd spellings change nothing', async () => {
  const { seen, log } = await viaDebug(direct, [
    'X-Forwarded-For: 203.0.113.66',
    'X-Forwarded-For: 203.0.113.66, 127.0.0.1',
    'x-forwarded-for: 10.0.0.1',
    'X-FORWARDED-HOST: spoof-forwarded-host.example',
    'X_Forwarded_Host: spoof-forwarded-host.example',
    'X.Forwarded.Proto: https',
  ]);
  assertNoSpoofedValues(seen);
  assert.deepEqual(
    seen.rawHeaders.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase() === 'x-forwarded-for' ? [seen.rawHeaders[i + 1]] : [])),
    ['127.0.0.1'],
    'exactly one X-Forwarded-For, written by the sidecar',
  );
  assert.ok(!rawValues(seen).includes('10.0.0.1'));
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.equal(log['client'], '127.0.0.1');
});

test('an untrusted client: its X-Request-Id is replaced by a fresh one', async () => {
  const { seen, log } = await viaDebug(direct, ['X-Request-Id: spoofed-request-id-123']);
  const id = seen.headers['x-request-id'];
  assert.ok(id && id !== 'spoofed-request-id-123', `upstream X-Request-Id ${String(id)}`);
  assert.equal(rawNames(seen).filter((n) => n.toLowerCase() === 'x-request-id').length, 1);
  assert.equal(id, log['requestId'], 'the upstream gets the id the sidecar logs');
  assert.ok(!rawValues(seen).includes('spoofed-request-id-123'));
});

test('a trusted-proxy list that does not include the peer believes nothing from it', async () => {
  const { seen, log } = await viaDebug(otherTrusted, [
    'X-Forwarded-For: 10.1.2.3, 192.0.2.1',
    'X-Forwarded-Proto: https',
    'X-Forwarded-Host: spoof-forwarded-host.example',
    'X-Request-Id: spoofed-request-id-456',
  ]);
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.equal(seen.headers['x-forwarded-host'], hostOf(otherTrusted.url));
  assert.notEqual(seen.headers['x-request-id'], 'spoofed-request-id-456');
  assert.equal(log['client'], '127.0.0.1');
});

test('behind a trusted proxy: the chain is honoured, the client is the rightmost untrusted address', async () => {
  const { seen, log } = await viaDebug(behindProxy, [
    'X-Forwarded-For: 203.0.113.7, 198.51.100.2',
    'X-Forwarded-Proto: https',
    'X-Forwarded-Host: app.example.com',
  ]);
  assert.equal(seen.headers['x-forwarded-for'], '203.0.113.7, 198.51.100.2, 127.0.0.1', 'the chain plus the proxy itself');
  assert.equal(seen.headers['x-forwarded-proto'], 'https', 'proto from the trusted proxy');
  assert.equal(seen.headers['x-forwarded-host'], 'app.example.com', 'host from the trusted proxy');
  assert.equal(log['client'], '198.51.100.2', 'the rightmost address that is not a trusted proxy');
});

test('behind a trusted proxy: trusted hops in the chain are skipped, garbage entries ignored', async () => {
  const { seen, log } = await viaDebug(behindProxy, ['X-Forwarded-For: not-an-ip, 203.0.113.9, 127.0.0.1']);
  assert.equal(log['client'], '203.0.113.9');
  assert.ok(!(seen.headers['x-forwarded-for'] ?? '').includes('not-an-ip'), `XFF ${String(seen.headers['x-forwarded-for'])}`);
  assert.equal(seen.headers['x-forwarded-proto'], 'http', 'no X-Forwarded-Proto from the proxy: the connection decides');
  assert.equal(seen.headers['x-forwarded-host'], hostOf(behindProxy.url));
});

test('behind a trusted proxy: a malformed X-Forwarded-Host or Proto is not believed', async () => {
  const { seen } = await viaDebug(behindProxy, [
    'X-Forwarded-For: 203.0.113.9',
    'X-Forwarded-Host: evil.example/path?x',
    'X-Forwarded-Proto: javascript',
  ]);
  assert.equal(seen.headers['x-forwarded-host'], hostOf(behindProxy.url));
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
});

test('behind a trusted proxy: identity, rewrite and method-override headers are still stripped', async () => {
  const lines = SPOOFED.filter(([n]) => !/^x[-_]forwarded[-_]/i.test(n)).map(([n, v]) => `${n}: ${v}`);
  const { seen } = await viaDebug(behindProxy, ['X-Forwarded-For: 203.0.113.7', ...lines]);
  assertNoSpoofedValues(seen);
  assertIdentityHeadersGone(seen);
  assert.equal(seen.url, '/debug/request/forwarded');
});

test('a spoofed X-Forwarded-Host does not change which host rules the policy applies', async () => {
  const policy = `version: 1
default:
  access: deny
rules:
  - name: internal-host
    hosts: ["internal.example"]
    paths: ["/**"]
    access: public
`;
  const s = await startStack({ policy });
  try {
    const host = hostOf(s.url);
    for (const lines of [
      ['X-Forwarded-Host: internal.example'],
      ['Forwarded: host=internal.example'],
      ['X-Original-Host: internal.example'],
      ['X-Host: internal.example'],
    ]) {
      const r = await rawExchange(s.url, [`GET /debug/request HTTP/1.1`, `Host: ${host}`, ...lines, 'Accept: application/json', 'Connection: close', '', ''].join('\r\n'));
      assert.equal(r.first.status, 403, `${lines.join(' ')}: ${r.first.startLine}`);
    }
    // The rule itself works when the client really asks for that host.
    const ok = await rawExchange(s.url, 'GET /debug/request HTTP/1.1\r\nHost: internal.example\r\nConnection: close\r\n\r\n');
    assert.equal(ok.first.status, 200);
  } finally {
    await s.close();
  }
});

test('an untrusted client: common aliases of client-address, host-override and auth-proxy headers do not reach the upstream', async () => {
  // Each of these is read as "the client's address", "the host" or "the signed-in user" by widely
  // used software (PHP get-client-IP idioms: HTTP_CLIENT_IP, HTTP_X_FORWARDED, HTTP_FORWARDED_FOR;
  // X-Original-Host / X-Host / X-HTTP-Host-Override for host-header poisoning; Grafana's auth proxy
  // default X-WEBAUTH-USER; Google's X-ProxyUser-Ip; X-Originating-IP).
  const aliases: ReadonlyArray<readonly [string, string]> = [
    ['Client-IP', '203.0.113.80'],
    ['X-Originating-IP', '203.0.113.81'],
    ['X-ProxyUser-Ip', '203.0.113.82'],
    ['X-Forwarded', 'for=203.0.113.83'],
    ['Forwarded-For', '203.0.113.84'],
    ['X-Original-Host', 'spoof-original-host.example'],
    ['X-Host', 'spoof-x-host.example'],
    ['X-HTTP-Host-Override', 'spoof-host-override.example'],
    ['X-WEBAUTH-USER', 'spoof-webauth-user'],
  ];
  const { seen } = await viaDebug(direct, aliases.map(([n, v]) => `${n}: ${v}`));
  const leaked = aliases.filter(([, v]) => rawValues(seen).some((got) => got.includes(v))).map(([n]) => n);
  assert.deepEqual(leaked, [], `these client headers reached the upstream: ${leaked.join(', ')}`);
});

test('an untrusted client: forwarding, scheme and client-certificate headers of other proxies and load balancers do not reach the upstream', async () => {
  // Each one is believed by some stack: X-Original-Forwarded-For (ingress-nginx), Proxy-Client-IP /
  // WL-Proxy-Client-IP (WebLogic plug-ins, Java get-client-IP idioms), Z-Forwarded-For, X-Envoy-*
  // (Envoy's external address and its internal-request marks), X-Scheme / X-Url-Scheme /
  // Front-End-Https / X-ARR-SSL (https detection in Rails, Django, IIS ARR), and the client
  // certificate headers that TLS terminators write (ARR, nginx, HAProxy, AWS ALB mTLS).
  const headers: ReadonlyArray<readonly [string, string]> = [
    ['X-Original-Forwarded-For', '203.0.113.90'],
    ['X_Original_Forwarded_For', '203.0.113.91'],
    ['Proxy-Client-IP', '203.0.113.92'],
    ['WL-Proxy-Client-IP', '203.0.113.93'],
    ['wl.proxy.client.ip', '203.0.113.94'],
    ['Z-Forwarded-For', '203.0.113.95'],
    ['X-Envoy-External-Address', '203.0.113.96'],
    ['X-Envoy-Internal', 'spoof-envoy-internal'],
    ['X_Envoy_Original_Path', '/spoof-envoy-path'],
    ['X-Scheme', 'spoof-scheme'],
    ['X-Url-Scheme', 'spoof-url-scheme'],
    ['x_url_scheme', 'spoof-url-scheme-2'],
    ['Front-End-Https', 'spoof-front-end-https'],
    ['X-ARR-SSL', 'spoof-arr-ssl'],
    ['X-ARR-ClientCert', 'spoof-arr-clientcert'],
    ['X-SSL-Client-Cert', 'spoof-ssl-client-cert'],
    ['X-SSL-Client-Verify', 'spoof-ssl-client-verify'],
    ['X.SSL.Client.DN', 'spoof-ssl-client-dn'],
    ['X-Client-Cert', 'spoof-client-cert'],
    ['X-Client-Certificate', 'spoof-client-certificate'],
    ['SSL-Client-Cert', 'spoof-ssl-client-cert-2'],
    ['SSL_Client_Cert', 'spoof-ssl-client-cert-3'],
    ['X-Amzn-Mtls-Clientcert', 'spoof-amzn-mtls'],
    ['X-Amzn-Mtls-Clientcert-Leaf', 'spoof-amzn-mtls-leaf'],
  ];
  for (const s of [direct, behindProxy]) {
    const { seen } = await viaDebug(s, headers.map(([n, v]) => `${n}: ${v}`));
    const leaked = headers.filter(([, v]) => rawValues(seen).some((got) => got.includes(v))).map(([n]) => n);
    assert.deepEqual(leaked, [], `these client headers reached the upstream: ${leaked.join(', ')}`);
  }
});

test("an untrusted client: '_' and '.' spellings of the request id header do not arrive beside the sidecar's own", async () => {
  const { seen, log } = await viaDebug(direct, ['X_Request_Id: spoofed-request-id-u', 'X.Request.Id: spoofed-request-id-d', 'x-REQUEST_id: spoofed-request-id-m']);
  assert.ok(!rawValues(seen).some((v) => v.startsWith('spoofed-request-id')), JSON.stringify(seen.rawHeaders));
  const ids = rawNames(seen).filter((n) => folded(n) === 'x-request-id');
  assert.deepEqual(ids.map((n) => n.toLowerCase()), ['x-request-id'], 'exactly one request id header, the sidecar\'s');
  assert.equal(seen.headers['x-request-id'], log['requestId']);
});

test("a client's Authorization header never reaches the upstream by default (Basic credentials would sign in unseen)", async () => {
  const basic = `Basic ${Buffer.from('admin:guessed-password').toString('base64')}`;
  for (const line of [`Authorization: ${basic}`, `authorization: Bearer spoof-bearer-token`, `AUTHORIZATION: ${basic}`]) {
    const { seen } = await viaDebug(direct, [line]);
    assert.ok(!rawNames(seen).some((n) => n.toLowerCase() === 'authorization'), `the upstream received ${line}: ${JSON.stringify(seen.rawHeaders)}`);
  }
  const optedIn = await startStack({ policy: OPEN_POLICY, config: { headers: { forward_authorization: true } } });
  try {
    const { seen } = await viaDebug(optedIn, [`Authorization: ${basic}`]);
    assert.equal(seen.headers['authorization'], basic, 'headers.forward_authorization: true passes it on');
  } finally {
    await optedIn.close();
  }
});
