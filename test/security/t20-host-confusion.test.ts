/**
 * THREATS T20 — Host confusion.
 *
 * Advisories: Authelia 4.39.20 (domain canonicalisation); host-header poisoning of reset links.
 * Reproduced here with the README's own example: a sensitive rule scoped to
 * `hosts: ["app.example.com", "*.shops.example.com"]` was skipped by `Host: app.example.com.`
 * (trailing dot), by `x.shops.example.com.` and by any unknown host, which all fell to the default
 * rule and got the export without a step-up.
 *
 * The host is canonicalised once (case, trailing dot, port, IDNA), invalid Host values are refused
 * with 400, a policy may list its `settings.known_hosts` (any other host gets 421, never the default
 * rule), absolute-form targets must name the same host, the upstream receives the canonical Host,
 * and `policy explain` decides through the same function.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { OPEN_POLICY, startStack, type Stack } from '../helpers/stack.ts';
import { rawExchange, startRecordingUpstream, type RawExchange, type RecordingUpstream } from '../helpers/raw-http.ts';
import { explainRequest, formatExplanation } from '../../src/policy/explain.ts';
import { compilePolicySource } from '../../src/policy/load.ts';
import { canonicalHost } from '../../src/proxy/host.ts';

const RULES = `default:
  access: authenticated
rules:
  - name: contact-export
    paths: ["/api/contacts/export"]
    methods: [GET, POST]
    hosts: ["app.example.com", "*.shops.example.com"]
    access: authenticated
    sensitive:
      category: contact-export
      fresh_for: 10m
`;
const compileDocuments = (text: string) => compilePolicySource(text, 'policy.yaml');

const KNOWN = `version: 1
settings:
  known_hosts: ["app.example.com", "*.shops.example.com"]
${RULES}`;

let upstream: RecordingUpstream;
let known: Stack; // the README example with known_hosts, in front of the demo app
let open: Stack; // everything public, in front of a recording upstream

before(async () => {
  upstream = await startRecordingUpstream();
  known = await startStack({ policy: KNOWN });
  open = await startStack({ policy: OPEN_POLICY, upstreamUrl: upstream.url });
});
after(async () => {
  await Promise.all([known.close(), open.close()]);
  await upstream.close();
});

/** Signs in through the JSON API, addressed to `host`; returns the Cookie header to send. */
async function signInAt(url: string, host: string): Promise<string> {
  const { port } = new URL(url);
  const body = JSON.stringify({ email: 'merchant@example.com', password: 'smartpush-demo' });
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/_guard/api/login', headers: { host, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, resolve);
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('sign-in timed out')));
    req.end(body);
  });
  res.resume();
  assert.equal(res.statusCode, 200, 'sign-in');
  return (res.headers['set-cookie'] ?? []).map((c) => c.split(';', 1)[0] as string).filter((c) => !c.endsWith('=')).join('; ');
}

function exchange(s: Stack, host: string | Buffer, target = '/api/contacts/export', extra: readonly string[] = []): Promise<RawExchange> {
  const head = Buffer.concat([
    Buffer.from(`GET ${target} HTTP/1.1\r\nHost: `),
    typeof host === 'string' ? Buffer.from(host, 'latin1') : host,
    Buffer.from(['\r\nAccept: application/json', ...extra, 'Connection: close', '', ''].join('\r\n')),
  ]);
  return rawExchange(s.url, head);
}

test('every spelling of a host of the rule meets the sensitive rule: a signed-in export needs a step-up', async () => {
  const cookie = await signInAt(known.url, 'app.example.com');
  const spellings: Array<string | Buffer> = [
    'app.example.com',
    'app.example.com.',
    'APP.Example.COM',
    'App.Example.Com.',
    'app.example.com:8080',
    'app.example.com.:8080',
    Buffer.from('ａｐｐ.example.com', 'utf8'), // full-width letters: IDNA maps them to "app"
    'x.shops.example.com',
    'x.shops.example.com.',
    'X.SHOPS.example.com.:443',
    'a.b.shops.example.com',
  ];
  const problems: string[] = [];
  for (const host of spellings) {
    const r = await exchange(known, host, '/api/contacts/export', [`Cookie: ${cookie}`]);
    const label = typeof host === 'string' ? host : host.toString('utf8');
    const body = r.first.body.toString();
    if (r.first.status !== 401 || !body.includes('step_up_required')) problems.push(`${label}: ${r.first.status} ${body.slice(0, 80)}`);
  }
  assert.deepEqual(problems, []);
});

test('with known_hosts, an unknown host is refused with 421 and never decided by the default rule', async () => {
  const cookie = await signInAt(known.url, 'app.example.com');
  for (const host of ['evil.example', 'shops.example.com', 'app.example.com.evil.example', 'example.com', '127.0.0.1', 'localhost', 'app.example.co']) {
    for (const target of ['/api/contacts/export', '/dashboard', '/_guard/login']) {
      const r = await exchange(known, host, target, [`Cookie: ${cookie}`]);
      assert.equal(r.first.status, 421, `${host} ${target}: ${r.first.startLine}`);
      assert.equal((r.first.json() as { error?: string }).error, 'unknown_host', host);
    }
  }
});

test('invalid Host values are refused with 400 and nothing reaches the upstream', async () => {
  upstream.reset();
  const invalid = [
    'app.example.com x',
    'app.example.com\tx',
    'user@app.example.com',
    'app.example.com/x',
    'app.example.com\\x',
    'app.example.com?x',
    'app.example.com#x',
    'app.example.com,evil.example',
    'app%2eexample.com',
    'app..example.com',
    '.app.example.com',
    'app.example.com..',
    'app.example.com:99999',
    'app.example.com:8o',
    'app.example.com:80:80',
    '[::1',
    '[::g]',
    '[::1]x',
    '::1',
    '[fe80::1%25eth0]',
    ':8080',
    '.',
    '-app.example.com',
  ];
  const problems: string[] = [];
  for (const host of invalid) {
    const r = await exchange(open, host, '/anything');
    const res = r.responses[0];
    if (!res || res.status !== 400) problems.push(`${JSON.stringify(host)}: ${res ? res.startLine : 'no answer'}`);
  }
  // An empty Host (HTTP/1.1 requires one; an empty one names no host).
  const empty = await rawExchange(open.url, 'GET /anything HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n');
  if (empty.first.status !== 400) problems.push(`empty: ${empty.first.startLine}`);
  await upstream.settle();
  assert.deepEqual(problems, []);
  assert.deepEqual(upstream.targets(), [], 'nothing was forwarded');
});

test('the upstream receives the canonical Host (and the same X-Forwarded-Host)', async () => {
  const cases: Array<[string | Buffer, string]> = [
    ['APP.Example.COM.', 'app.example.com'],
    ['App.Example.Com.:08080', 'app.example.com:8080'],
    [Buffer.from('Bücher.example', 'utf8'), 'xn--bcher-kva.example'],
    ['[0:0::1]:8080', '[::1]:8080'],
    ['127.0.0.1', '127.0.0.1'],
  ];
  for (const [host, expected] of cases) {
    upstream.reset();
    const r = await exchange(open, host, '/anything');
    assert.equal(r.first.status, 200, `${String(host)}: ${r.first.startLine}`);
    await upstream.settle();
    const got = upstream.requests[0];
    assert.ok(got, `${String(host)} was forwarded`);
    assert.deepEqual(got.headerAll('host'), [expected], String(host));
    assert.equal(got.header('x-forwarded-host'), expected, String(host));
  }
});

test('an absolute-form target must name the host of the Host header (in canonical form)', async () => {
  const cookie = await signInAt(known.url, 'app.example.com');
  // The same host, spelt differently: accepted, and decided by the host's rule.
  const same = await exchange(known, 'app.example.com', 'http://APP.example.com./api/contacts/export', [`Cookie: ${cookie}`]);
  assert.equal(same.first.status, 401);
  assert.match(same.first.body.toString(), /step_up_required/);
  // Another host: refused, whatever Host says.
  upstream.reset();
  for (const target of ['http://evil.example/anything', 'http://app.example.com@evil.example/anything', 'http://[::1/anything']) {
    const r = await exchange(open, 'app.example.com', target);
    assert.equal(r.first.status, 400, `${target}: ${r.first.startLine}`);
  }
  await upstream.settle();
  assert.deepEqual(upstream.targets(), []);
});

test('policy explain decides through the same host function as the sidecar', () => {
  const policy = compileDocuments(KNOWN);
  const user = { authenticated: true, twoFactorEnabled: false, risk: 'low' as const, fresh: false };
  for (const host of ['app.example.com.', 'APP.example.com:8443', 'x.shops.example.com.', 'ａｐｐ.example.com']) {
    const result = explainRequest(policy, { method: 'GET', rawPath: '/api/contacts/export', host, user });
    assert.equal(result.rejected, null, host);
    if (result.rejected === null) {
      assert.equal(result.rule.name, 'contact-export', host);
      assert.equal(result.decision.kind, 'step_up_required', host);
    }
  }
  const unknown = explainRequest(policy, { method: 'GET', rawPath: '/api/contacts/export', host: 'evil.example', user });
  assert.ok(unknown.rejected !== null && 'status' in unknown && unknown.status === 421, JSON.stringify(unknown));
  assert.match(formatExplanation(unknown), /rejected with 421 before any rule is consulted: this host is not served here/);
  const invalid = explainRequest(policy, { method: 'GET', rawPath: '/api/contacts/export', host: 'a@b', user });
  assert.ok(invalid.rejected !== null && 'status' in invalid && invalid.status === 400, JSON.stringify(invalid));
});

test('a rule host outside known_hosts is a policy error (a typo must not leave the real host unprotected)', () => {
  assert.throws(
    () => compileDocuments(`version: 1
settings:
  known_hosts: ["app.example.com"]
rules:
  - { name: typo, paths: ["/x"], hosts: ["app.exmaple.com"], access: deny }
`),
    /hosts\[0\] "app\.exmaple\.com" is not covered by settings\.known_hosts/,
  );
  // Hosts under a known wildcard are covered.
  compileDocuments(`version: 1
settings:
  known_hosts: ["*.example.com"]
rules:
  - { name: ok, paths: ["/x"], hosts: ["app.example.com", "*.shops.example.com"], access: deny }
`);
});

test('canonicalHost: the one function', () => {
  const ok = (raw: string): string => {
    const r = canonicalHost(raw);
    assert.ok(r.ok, raw);
    return r.host.header;
  };
  assert.equal(ok('App.Example.COM.'), 'app.example.com');
  assert.equal(ok('app.example.com:0080'), 'app.example.com:80');
  assert.equal(ok('app.example.com:'), 'app.example.com');
  assert.equal(ok('[::FFFF:127.0.0.1]'), '[::ffff:7f00:1]');
  assert.equal(ok('xn--bcher-kva.example'), 'xn--bcher-kva.example');
  for (const bad of ['', ' ', 'a b', 'a@b', 'a..b', 'a.b..', '[::1', 'a:1:2', 'a:65536', 'a\u0000b']) assert.equal(canonicalHost(bad).ok, false, JSON.stringify(bad));
});
