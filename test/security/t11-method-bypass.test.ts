/**
 * THREATS T11 — HEAD / OPTIONS / method bypass.
 *
 * Advisories: CVE-2010-0738 (JBoss JMX console: a security constraint listed GET and POST, so HEAD
 * went through unchecked); HEAD on GET routes that mint state (e.g. TOTP secrets). Related: method
 * override headers (X-HTTP-Method-Override) that make an upstream run another method than the one
 * the proxy decided on.
 *
 * HEAD and OPTIONS are decided exactly as GET (rules never list them). Methods the policy does not
 * know are denied (403) before any rule matches, or already refused by Node's parser (400). Method
 * override headers never reach the upstream. The sidecar's own /_guard/ paths are answered by the
 * sidecar and never forwarded, whatever the method.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { signIn, startStack, type Stack } from '../helpers/stack.ts';
import { hostOf, rawExchange, startRecordingUpstream, type RawExchange, type RecordingUpstream } from '../helpers/raw-http.ts';

const TEST_POLICY = `version: 1
settings:
  case_sensitive: false
  path_parameters: reject
default:
  access: authenticated
rules:
  - name: static-assets
    paths: ["/static/**"]
    methods: [GET]
    access: public
  - name: debug
    paths: ["/debug/**"]
    access: public
  - name: admin
    paths: ["/admin/**"]
    access: deny
  - name: reports-read-denied
    description: GET is denied here, other methods fall through to the default
    paths: ["/reports/**"]
    methods: [GET]
    access: deny
  - name: contact-export
    paths: ["/api/contacts/export"]
    methods: [GET, POST]
    access: authenticated
  - name: report-delete
    description: an earlier rule may still decide a method the sensitive rule below does not list
    paths: ["/exports/report"]
    methods: [DELETE]
    access: public
  - name: report-export
    paths: ["/exports/report"]
    methods: [GET]
    access: authenticated
    sensitive:
      category: report
      fresh_for: 10m
`;

let upstream: RecordingUpstream;
let stack: Stack; // TEST_POLICY → recording upstream
let demo: Stack; // the demo policy → the demo app

before(async () => {
  upstream = await startRecordingUpstream();
  stack = await startStack({ policy: TEST_POLICY, upstreamUrl: upstream.url });
  demo = await startStack();
});
after(async () => {
  await Promise.all([stack.close(), demo.close()]);
  await upstream.close();
});

async function send(s: Stack, method: string, target: string, extra: readonly string[] = []): Promise<RawExchange> {
  const lines = [`${method} ${target} HTTP/1.1`, `Host: ${hostOf(s.url)}`, 'Accept: application/json', ...extra, 'Connection: close', '', ''];
  return rawExchange(s.url, lines.join('\r\n'), { head: [method === 'HEAD'] });
}

/** The sidecar's decision for the last request, from its access log. */
async function lastDecision(s: Stack, from: number): Promise<{ decision: unknown; rule: unknown }> {
  for (let i = 0; i < 100; i++) {
    const entry = s.logs.slice(from).find((l) => l['msg'] === 'request');
    if (entry) return { decision: entry['decision'], rule: entry['rule'] };
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail('no access log entry');
}

test('HEAD and OPTIONS get the same decision and status as GET on protected, denied and public paths', async () => {
  const cases: Array<[Stack, string, string]> = [
    [stack, '/dashboard', 'login_required'],
    [stack, '/api/contacts/export', 'login_required'],
    [stack, '/admin/users', 'deny'],
    [stack, '/reports/2024', 'deny'],
    [stack, '/static/app.css', 'pass'],
    [stack, '/debug/request/x', 'pass'],
    [demo, '/dashboard', 'login_required'],
    [demo, '/api/me', 'login_required'],
    [demo, '/api/contacts/export', 'login_required'],
    [demo, '/api/campaigns/7/export', 'login_required'],
    [demo, '/static/app.css', 'pass'],
  ];
  const problems: string[] = [];
  for (const [s, path, expected] of cases) {
    const seen: Record<string, { status: number; decision: unknown; rule: unknown }> = {};
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      const from = s.logs.length;
      const r = await send(s, method, path);
      const { decision, rule } = await lastDecision(s, from);
      seen[method] = { status: r.first.status, decision, rule };
      if (method === 'HEAD') {
        if (r.first.body.length !== 0 || r.rest.length !== 0) problems.push(`HEAD ${path}: a HEAD answer carries a body (${r.rest.length} bytes after the head)`);
      }
    }
    const get = seen['GET']!;
    if (get.decision !== expected) problems.push(`GET ${path}: decided ${String(get.decision)}, expected ${expected}`);
    for (const method of ['HEAD', 'OPTIONS']) {
      const other = seen[method]!;
      if (other.decision !== get.decision || other.rule !== get.rule) {
        problems.push(`${method} ${path}: decided ${String(other.decision)} by ${String(other.rule)}, GET was ${String(get.decision)} by ${String(get.rule)}`);
      }
      // Public paths: the upstream answers, and the demo app may answer OPTIONS differently from GET.
      if (expected !== 'pass' && other.status !== get.status) problems.push(`${method} ${path}: ${other.status}, GET ${get.status}`);
      if (expected === 'pass' && s === stack && other.status !== get.status) problems.push(`${method} ${path}: ${other.status}, GET ${get.status}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('a GET-only deny rule also denies HEAD and OPTIONS, while POST falls through to the default', async () => {
  const before = upstream.requests.length;
  for (const method of ['GET', 'HEAD', 'OPTIONS']) {
    const r = await send(stack, method, '/reports/2024/summary');
    assert.equal(r.first.status, 403, `${method}: ${r.first.startLine}`);
  }
  const post = await send(stack, 'POST', '/reports/2024/summary', ['Content-Length: 0']);
  assert.equal(post.first.status, 401, 'POST is not covered by the GET-only rule: the default (authenticated) applies');
  await upstream.settle();
  assert.deepEqual(upstream.targets().slice(before), []);
});

test('unknown and unlisted methods are denied on every path (or refused by the parser), never forwarded', async () => {
  const before = upstream.requests.length;
  const problems: string[] = [];
  const paths = ['/static/app.css', '/debug/request/x', '/dashboard', '/admin/users', '/api/contacts/export', '/_guard/x', '/_guard/assets/guard.css'];
  for (const method of ['PROPFIND', 'TRACE', 'MKCOL', 'PURGE', 'SEARCH', 'LINK', 'M-SEARCH', 'FOO', 'get', 'Get', 'G\tET']) {
    for (const path of paths) {
      const r = await send(stack, method, path);
      const res = r.responses[0];
      if (!res) {
        problems.push(`${method} ${path}: no answer`);
        continue;
      }
      // Node's parser knows a fixed list of methods: anything else is a parse error (400, closed).
      const parserRefusal = res.status === 400 && r.closed && (res.json() as { error?: string }).error === 'bad_request';
      if (res.status !== 403 && !parserRefusal) problems.push(`${method} ${path}: ${res.status} ${res.body.toString().slice(0, 80)}`);
    }
  }
  await upstream.settle();
  const forwarded = upstream.requests.slice(before).map((r) => `${r.method} ${r.target}`);
  assert.deepEqual(forwarded, [], 'no unknown method reaches the upstream');
  assert.deepEqual(problems, []);
});

test('CONNECT is never tunnelled', async () => {
  const before = upstream.requests.length;
  const host = hostOf(stack.url);
  const { port } = new URL(upstream.url);
  for (const target of [`127.0.0.1:${port}`, `${host}`, '/static/app.css']) {
    const r = await rawExchange(stack.url, `CONNECT ${target} HTTP/1.1\r\nHost: ${host}\r\n\r\nGET /admin/through-connect HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal(r.closed, true, target);
    assert.ok(r.responses.every((res) => res.status >= 400), `${target}: ${r.data.toString('latin1').slice(0, 60)}`);
  }
  await upstream.settle();
  assert.deepEqual(upstream.targets().slice(before), []);
  assert.ok(upstream.connections.every((c) => !c.bytes.includes('through-connect')));
});

test('method override headers are stripped before the upstream, and the decision uses the real method', async () => {
  upstream.reset();
  const overrides = [
    'X-HTTP-Method-Override: DELETE',
    'X-HTTP-Method: PUT',
    'X-Method-Override: PATCH',
    'X_HTTP_Method_Override: DELETE',
    'X.Http.Method.Override: DELETE',
    'x_http_method: PUT',
    'X.Method.Override: PATCH',
    'X_Method_Override: PATCH',
    'X-Original-Method: DELETE',
  ];
  const r = await send(stack, 'POST', '/debug/request/override', [...overrides, 'Content-Length: 0']);
  assert.equal(r.first.status, 200);
  // GET on a GET-only denied path stays denied whatever the override says.
  const denied = await send(stack, 'GET', '/reports/2024', ['X-HTTP-Method-Override: POST']);
  assert.equal(denied.first.status, 403);
  await upstream.settle();
  assert.equal(upstream.requests.length, 1);
  const got = upstream.requests[0]!;
  assert.equal(got.method, 'POST');
  const leaked = got.headers.filter(([n]) => /method/i.test(n));
  assert.deepEqual(leaked, [], `the upstream received ${JSON.stringify(leaked)}`);
});

test('GET, HEAD, OPTIONS and POST to unknown /_guard/ paths: the sidecar answers 404 JSON and forwards nothing', async () => {
  upstream.reset();
  const problems: string[] = [];
  for (const path of ['/_guard/x', '/_guard/', '/_guard', '/_GUARD/x', '/_Guard/api/x', '/%5fguard/x', '/%5Fguard/x', '/static/../_guard/x', '/_guard/x?/../../static/app.css', '/_guard/./x']) {
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'POST']) {
      const r = await send(stack, method, path, method === 'POST' ? ['Content-Length: 0'] : []);
      const res = r.first;
      if (res.status !== 404) {
        problems.push(`${method} ${path}: ${res.status}`);
        continue;
      }
      if (method === 'HEAD') {
        if (res.body.length !== 0 || r.rest.length !== 0) problems.push(`HEAD ${path}: body after a HEAD answer`);
      } else {
        if (!(res.header('content-type') ?? '').includes('application/json')) problems.push(`${method} ${path}: ${String(res.header('content-type'))}`);
        else if ((res.json() as { error?: string }).error !== 'not_found') problems.push(`${method} ${path}: ${res.body.toString()}`);
      }
    }
  }
  await upstream.settle();
  assert.deepEqual(upstream.targets(), [], 'no /_guard/ path reaches the upstream');
  assert.ok(upstream.connections.every((c) => !c.bytes.toString('latin1').toLowerCase().includes('guard')), 'no byte naming _guard reached the upstream');
  assert.deepEqual(problems, []);
});

test('safe methods on the sidecar asset route do not change anything the next request sees', async () => {
  // There is no sidecar state yet; this pins down that GET/HEAD/OPTIONS of a sidecar route are
  // idempotent and answered by the sidecar itself (no Set-Cookie, nothing forwarded).
  upstream.reset();
  const answers: string[] = [];
  for (const method of ['GET', 'HEAD', 'OPTIONS', 'GET']) {
    const r = await send(stack, method, '/_guard/assets/guard.css');
    assert.ok(r.first.status === 200 || r.first.status === 204, `${method}: ${r.first.startLine}`);
    assert.equal(r.first.header('set-cookie'), undefined, `${method} sets no cookie`);
    if (method === 'GET') answers.push(r.first.body.toString());
  }
  assert.equal(answers[0], answers[1]);
  await upstream.settle();
  assert.deepEqual(upstream.targets(), []);
});

test('methods a sensitive rule does not list are denied on its paths, never decided by a weaker rule or the default', async () => {
  upstream.reset();
  const problems: string[] = [];
  for (const method of ['POST', 'PUT', 'PATCH']) {
    const from = stack.logs.length;
    const r = await send(stack, method, '/exports/report', ['Content-Length: 0']);
    const { decision, rule } = await lastDecision(stack, from);
    if (r.first.status !== 403 || decision !== 'deny' || rule !== 'report-export:other-methods') {
      problems.push(`${method}: ${r.first.status} ${String(decision)} by ${String(rule)}`);
    }
  }
  // GET (and HEAD/OPTIONS, decided as GET) keep the sensitive rule; an earlier rule still decides DELETE.
  const get = await send(stack, 'GET', '/exports/report');
  if (get.first.status !== 401) problems.push(`GET: ${get.first.status}`);
  const del = await send(stack, 'DELETE', '/exports/report', ['Content-Length: 0']);
  if (del.first.status !== 200) problems.push(`DELETE (earlier public rule): ${del.first.status}`);
  await upstream.settle();
  assert.deepEqual(problems, []);
  assert.deepEqual(upstream.requests.map((r) => `${r.method} ${r.target}`), ['DELETE /exports/report']);
});

test('signed in on the demo: PUT, PATCH and DELETE of a sensitive export never reach the app without a step-up', async () => {
  const cookie = await signIn(demo.url);
  for (const path of ['/api/contacts/export', '/api/campaigns/7/export']) {
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      const from = demo.logs.length;
      const r = await send(demo, method, path, [`Cookie: ${cookie}`, 'Content-Length: 0']);
      const { decision, rule } = await lastDecision(demo, from);
      assert.equal(r.first.status, 403, `${method} ${path}: ${r.first.startLine}`);
      assert.equal(decision, 'deny', `${method} ${path}`);
      assert.match(String(rule), /-export:other-methods$/, `${method} ${path}`);
    }
  }
});
