/**
 * THREATS T2 — Path-normalisation policy bypass.
 *
 * Advisories: Envoy CVE-2019-9901, CVE-2021-29492 (escaped slashes); Pomerium CVE-2021-39206,
 * CVE-2023-33189; Authelia CVE-2021-32637; oauth2-proxy GHSA-7rh7-c77v-6434 (matched path+query);
 * heimdall CVE-2026-42274 (`/user/%2e%2e/admin`); Spring CVE-2022-22978. Measured elsewhere:
 * Koa's ctx.path keeps `//` while http-proxy forwards `/x`, and `\` becomes `/` upstream.
 *
 * A matrix of spellings of every protected path of the demo policy, of a deny rule, and of public
 * paths. Every variant must either be refused (400) or get the SAME decision as its canonical
 * path; whenever a variant passes, the upstream must receive exactly the path the policy decided
 * on (checked with a recording upstream and with the demo app's /debug/request). Requests are
 * written raw, so no client library normalises them first.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, type Stack } from '../helpers/stack.ts';
import { hostOf, rawExchange, startRecordingUpstream, type ParsedResponse, type RecordingUpstream } from '../helpers/raw-http.ts';

/** The demo's own rules plus a deny rule, /debug/** public, and the default "authenticated". */
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
  - name: login-page
    paths: ["/login"]
    methods: [GET]
    access: public
  - name: campaign-export
    paths: ["/api/campaigns/:id/export"]
    methods: [GET, POST]
    access: authenticated
  - name: contact-export
    paths: ["/api/contacts/export"]
    methods: [GET, POST]
    access: authenticated
`;

interface Variant {
  readonly name: string;
  /** The raw request-target for base path `p`, or null when the variant does not apply to it. */
  readonly target: (p: string, host: string) => string | null;
  /**
   * The request-target a correct canonicaliser forwards, when the variant is an unambiguous
   * spelling of a path; null when the only right answer is a refusal (if the sidecar accepts it
   * anyway, it must still decide as for `p` and forward what it decided on).
   */
  readonly canonical: (p: string) => string | null;
}

const first = (p: string): string => p.split('/')[1] ?? '';
const rest = (p: string): string => p.split('/').slice(2).join('/');
/** `p` with its first '/' between segments replaced by `sep`; null for single-segment paths. */
const joinFirst = (p: string, sep: string): string | null => (rest(p) ? `/${first(p)}${sep}${rest(p)}` : null);
const hex = (c: string): string => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
const mixedCase = (p: string): string => [...p].map((c, i) => (i % 2 ? c.toUpperCase() : c.toLowerCase())).join('');
const same = (p: string): string => p;
const refuse = (): null => null;

const VARIANTS: readonly Variant[] = [
  { name: 'canonical', target: same, canonical: same },
  { name: 'leading //', target: (p) => `/${p}`, canonical: refuse },
  { name: 'inner //', target: (p) => joinFirst(p, '//'), canonical: refuse },
  { name: 'trailing //', target: (p) => `${p}//`, canonical: refuse },
  { name: 'leading /./', target: (p) => `/.${p}`, canonical: same },
  { name: 'inner /./', target: (p) => joinFirst(p, '/./'), canonical: same },
  { name: 'leading /a/../', target: (p) => `/a/..${p}`, canonical: same },
  { name: 'inner /a/../', target: (p) => joinFirst(p, '/a/../'), canonical: same },
  { name: 'climbing above the root', target: (p) => `/..${p}`, canonical: refuse },
  { name: '%2e%2e', target: (p) => `/a/%2e%2e${p}`, canonical: same },
  { name: '%2E%2e', target: (p) => `/a/%2E%2e${p}`, canonical: same },
  { name: '.%2e', target: (p) => `/a/.%2e${p}`, canonical: same },
  { name: '%2e', target: (p) => `/%2e${p}`, canonical: same },
  { name: '%2f between segments', target: (p) => joinFirst(p, '%2f'), canonical: refuse },
  { name: '%2F between segments', target: (p) => joinFirst(p, '%2F'), canonical: refuse },
  { name: '..%2f', target: (p) => `/a/..%2f${p.slice(1)}`, canonical: refuse },
  { name: '%5c between segments', target: (p) => joinFirst(p, '%5c'), canonical: refuse },
  { name: '%5c..%5c', target: (p) => `/a%5c..%5c${p.slice(1)}`, canonical: refuse },
  { name: 'raw backslash', target: (p) => joinFirst(p, '\\'), canonical: refuse },
  { name: 'raw \\..\\', target: (p) => `/a\\..\\${p.slice(1)}`, canonical: refuse },
  { name: ';x at the end', target: (p) => `${p};x`, canonical: refuse },
  { name: ';x in the first segment', target: (p) => (rest(p) ? `/${first(p)};x/${rest(p)}` : `/${first(p)};x`), canonical: refuse },
  { name: '..;/ (Tomcat)', target: (p) => `/a/..;${p}`, canonical: refuse },
  { name: 'upper case', target: (p) => p.toUpperCase(), canonical: (p) => p.toUpperCase() },
  { name: 'mixed case', target: mixedCase, canonical: mixedCase },
  { name: 'trailing /', target: (p) => `${p}/`, canonical: (p) => `${p}/` },
  { name: 'trailing .', target: (p) => `${p}.`, canonical: refuse },
  { name: 'trailing /.', target: (p) => `${p}/.`, canonical: (p) => `${p}/` },
  { name: 'trailing %20', target: (p) => `${p}%20`, canonical: refuse },
  { name: 'trailing %09', target: (p) => `${p}%09`, canonical: refuse },
  { name: '%00 at the end', target: (p) => `${p}%00`, canonical: refuse },
  { name: '%00 in a segment', target: (p) => (rest(p) ? `/${first(p)}%00/${rest(p)}` : `/${first(p)}%00`), canonical: refuse },
  { name: 'overlong UTF-8 dots %c0%ae', target: (p) => `/a/%c0%ae%c0%ae${p}`, canonical: refuse },
  { name: 'overlong UTF-8 dots %e0%80%ae', target: (p) => `/a/%e0%80%ae%e0%80%ae${p}`, canonical: refuse },
  { name: 'overlong UTF-8 slash %c0%af', target: (p) => joinFirst(p, '%c0%af'), canonical: refuse },
  { name: 'escaped unreserved letter', target: (p) => `/${hex(first(p)[0] ?? 'a')}${p.slice(2)}`, canonical: same },
  { name: 'query with /../', target: (p) => `${p}?/../admin`, canonical: (p) => `${p}?/../admin` },
  { name: 'query naming a public path', target: (p) => `${p}?/static/`, canonical: (p) => `${p}?/static/` },
  { name: 'query with escaped dots', target: (p) => `${p}?x=%2e%2e%2f`, canonical: (p) => `${p}?x=%2e%2e%2f` },
  { name: 'fragment', target: (p) => `${p}#x`, canonical: refuse },
  { name: 'fragment with /../', target: (p) => `${p}#/../../static/app.css`, canonical: refuse },
  { name: 'absolute-form, other host', target: (p) => `http://evil.example${p}`, canonical: refuse },
  { name: 'absolute-form, other host with our host as userinfo', target: (p, h) => `http://${h}@evil.example${p}`, canonical: refuse },
  { name: 'absolute-form, our host', target: (p, h) => `http://${h}${p}`, canonical: same },
  { name: 'absolute-form, our host, upper-case scheme', target: (p, h) => `HTTP://${h}${p}`, canonical: same },
  { name: 'absolute-form, userinfo', target: (p, h) => `http://user@${h}${p}`, canonical: refuse },
  { name: '/static/../ prefix', target: (p) => `/static/..${p}`, canonical: same },
  { name: '/static/..%2f prefix', target: (p) => `/static/..%2f${p.slice(1)}`, canonical: refuse },
  { name: '/static/%2e%2e/ prefix', target: (p) => `/static/%2e%2e${p}`, canonical: same },
  { name: '/static/%2e%2e%2f prefix', target: (p) => `/static/%2e%2e%2f${p.slice(1)}`, canonical: refuse },
  { name: '/static/..;/ prefix', target: (p) => `/static/..;${p}`, canonical: refuse },
  { name: '/static/..\\ prefix', target: (p) => `/static/..\\${p.slice(1)}`, canonical: refuse },
  { name: '/static/%c0%ae%c0%ae/ prefix', target: (p) => `/static/%c0%ae%c0%ae${p}`, canonical: refuse },
  { name: '/login/../ prefix', target: (p) => `/login/..${p}`, canonical: same },
  { name: '/debug/../ prefix', target: (p) => `/debug/..${p}`, canonical: same },
];

interface Outcome {
  readonly target: string;
  readonly response: ParsedResponse;
  /** The sidecar's access-log entry for this request; undefined when the HTTP parser refused it. */
  readonly log: Record<string, unknown> | undefined;
}

/** Sends one raw GET and collects the answer and the sidecar's own account of its decision. */
async function probe(stack: Stack, target: string, accept = 'application/json'): Promise<Outcome> {
  const from = stack.logs.length;
  const host = hostOf(stack.url);
  const r = await rawExchange(stack.url, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nAccept: ${accept}\r\nConnection: close\r\n\r\n`);
  const response = r.first;
  // The access log line is written when the sidecar is done with the request; wait for it.
  let entry: Record<string, unknown> | undefined;
  for (let i = 0; i < 100; i++) {
    const fresh = stack.logs.slice(from);
    entry = fresh.find((l) => l['msg'] === 'request');
    if (entry || fresh.some((l) => l['msg'] === 'malformed request refused')) break;
    await new Promise((res) => setTimeout(res, 10));
  }
  if (!entry && response.status !== 400) assert.fail(`${target}: no access log entry for a ${response.status}`);
  return { target, response, log: entry };
}

interface Reference {
  readonly status: number;
  readonly error: string | undefined;
  readonly decision: unknown;
  readonly rule: unknown;
}

function errorOf(response: ParsedResponse): string | undefined {
  if (!(response.header('content-type') ?? '').includes('application/json')) return undefined;
  const body = response.json() as { error?: unknown };
  return typeof body.error === 'string' ? body.error : undefined;
}

/** The path the sidecar decided on (its access log keeps the path, not the query). */
function decidedPath(log: Record<string, unknown>): string | undefined {
  return typeof log['path'] === 'string' ? log['path'] : undefined;
}

function isRefusal(o: Outcome): boolean {
  return o.response.status === 400 && (o.log === undefined || o.log['decision'] === 'reject');
}

/**
 * Runs the matrix for one base path: each variant is refused, or decided exactly like the base,
 * and `forwarded(o)` (when given) must show the upstream received the decided target.
 */
async function checkBase(
  stack: Stack,
  base: string,
  expectDecision: 'login_required' | 'deny' | 'pass',
  forwarded?: (o: Outcome) => Promise<string | undefined> | string | undefined,
): Promise<string[]> {
  const problems: string[] = [];
  const host = hostOf(stack.url);
  const ref = await probe(stack, base);
  assert.ok(ref.log, `${base}: reference request must be logged`);
  assert.equal(ref.log['decision'], expectDecision, `${base}: reference decision`);
  const reference: Reference = { status: ref.response.status, error: errorOf(ref.response), decision: ref.log['decision'], rule: ref.log['rule'] };
  for (const v of VARIANTS) {
    const target = v.target(base, host);
    if (target === null) continue;
    const o = await probe(stack, target);
    const label = `${base} [${v.name}] ${JSON.stringify(target)} → ${o.response.status} ${JSON.stringify(o.log?.['decision'])} rule=${JSON.stringify(o.log?.['rule'])} path=${JSON.stringify(o.log?.['path'])}`;
    if (isRefusal(o)) continue;
    if (!o.log) {
      problems.push(`${label}: answered without a decision`);
      continue;
    }
    if (o.log['decision'] !== reference.decision || o.log['rule'] !== reference.rule) {
      problems.push(`${label}: decided differently from ${base} (${String(reference.decision)} by rule ${String(reference.rule)})`);
      continue;
    }
    if (reference.decision !== 'pass') {
      if (o.response.status !== reference.status || errorOf(o.response) !== reference.error) {
        problems.push(`${label}: answered ${o.response.status} ${String(errorOf(o.response))}, expected ${reference.status} ${String(reference.error)}`);
      }
    }
    const expected = v.canonical(base);
    const decided = decidedPath(o.log);
    if (expected !== null && decided !== expected.split('?')[0]) {
      problems.push(`${label}: decided on ${JSON.stringify(decided)}, expected the canonical ${JSON.stringify(expected.split('?')[0])}`);
    }
    if (reference.decision === 'login_required') {
      // The login URL carries the target the decision was made on (path + query).
      const loginUrl = (o.response.json() as { login_url?: string }).login_url ?? '';
      const returnTo = new URL(loginUrl, 'http://x').searchParams.get('return_to') ?? '';
      if (returnTo.split('?')[0] !== decided) problems.push(`${label}: login_url return_to ${JSON.stringify(returnTo)} is not the decided path`);
      if (expected !== null && returnTo !== expected) problems.push(`${label}: return_to ${JSON.stringify(returnTo)}, expected ${JSON.stringify(expected)}`);
    }
    if (reference.decision === 'pass' && forwarded) {
      const got = await forwarded(o);
      if (got === undefined) {
        problems.push(`${label}: passed, but the upstream did not record it`);
      } else {
        if (got.split('?')[0] !== decided) problems.push(`${label}: upstream received ${JSON.stringify(got)} but the policy decided on ${JSON.stringify(decided)}`);
        if (expected !== null && got !== expected) problems.push(`${label}: upstream received ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The demo policy itself, in front of the demo app.

let demo: Stack;
// The test policy in front of a recording upstream (sees every forwarded target) and in front of
// the demo app (whose /debug/request says what it received).
let recorder: RecordingUpstream;
let recorded: Stack;
let debug: Stack;

before(async () => {
  demo = await startStack();
  recorder = await startRecordingUpstream();
  recorded = await startStack({ policy: TEST_POLICY, upstreamUrl: recorder.url });
  debug = await startStack({ policy: TEST_POLICY });
});
after(async () => {
  await Promise.all([demo.close(), recorded.close(), debug.close()]);
  await recorder.close();
});

for (const base of ['/api/contacts/export', '/api/campaigns/7/export', '/dashboard', '/api/me']) {
  test(`demo policy: every spelling of ${base} is refused or needs a login`, async () => {
    const problems = await checkBase(demo, base, 'login_required');
    assert.deepEqual(problems, []);
  });
}

test('demo policy: HTML clients get a 303 to the login page for every accepted spelling, with the decided path as return_to', async () => {
  const problems: string[] = [];
  const host = hostOf(demo.url);
  for (const base of ['/api/contacts/export', '/dashboard']) {
    for (const v of VARIANTS) {
      const target = v.target(base, host);
      if (target === null) continue;
      const o = await probe(demo, target, 'text/html,application/xhtml+xml');
      if (isRefusal(o)) continue;
      const label = `${base} [${v.name}] ${JSON.stringify(target)} → ${o.response.status}`;
      if (o.response.status !== 303) {
        problems.push(`${label}: expected 303`);
        continue;
      }
      const location = o.response.header('location') ?? '';
      const url = new URL(location, 'http://x');
      if (url.pathname !== '/_guard/login') problems.push(`${label}: Location ${location}`);
      const returnTo = url.searchParams.get('return_to') ?? '';
      const expected = v.canonical(base);
      if (returnTo.split('?')[0] !== o.log?.['path']) problems.push(`${label}: return_to ${JSON.stringify(returnTo)} is not the decided path ${JSON.stringify(o.log?.['path'])}`);
      if (expected !== null && returnTo !== expected) problems.push(`${label}: return_to ${JSON.stringify(returnTo)}, expected ${JSON.stringify(expected)}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('demo policy: every spelling of the public /static/app.css is refused or passes as itself', async () => {
  const problems = await checkBase(demo, '/static/app.css', 'pass');
  assert.deepEqual(problems, []);
});

// ---------------------------------------------------------------------------------------------
// The test policy: deny, public, default; forwarded targets checked on a recording upstream.

/** The target the recording upstream received for this outcome (matched by request id). */
function recordedTarget(o: Outcome): string | undefined {
  const id = o.log?.['requestId'];
  return recorder.requests.find((r) => r.header('x-request-id') === id)?.target;
}

test('test policy: every spelling of a denied path (/admin/**) is refused or denied', async () => {
  const before = recorder.requests.length;
  const problems = await checkBase(recorded, '/admin/users/1', 'deny');
  assert.deepEqual(problems, []);
  assert.deepEqual(recorder.targets().slice(before), [], 'nothing under /admin may reach the upstream');
});

test('test policy: every spelling of a default-authenticated path is refused or needs a login', async () => {
  const before = recorder.requests.length;
  const problems = await checkBase(recorded, '/reports/monthly', 'login_required');
  assert.deepEqual(problems, []);
  assert.deepEqual(recorder.targets().slice(before), []);
});

for (const base of ['/api/contacts/export', '/api/campaigns/7/export']) {
  test(`test policy: every spelling of ${base} is refused or needs a login, and none reaches the upstream`, async () => {
    const before = recorder.requests.length;
    const problems = await checkBase(recorded, base, 'login_required');
    assert.deepEqual(problems, []);
    assert.deepEqual(recorder.targets().slice(before), []);
  });
}

for (const base of ['/static/app.css', '/debug/request/x']) {
  test(`test policy: every accepted spelling of the public ${base} reaches the upstream as the decided path`, async () => {
    const problems = await checkBase(recorded, base, 'pass', recordedTarget);
    assert.deepEqual(problems, []);
  });
}

test('test policy: public-looking prefixes that climb into /admin are refused or denied, never forwarded', async () => {
  const before = recorder.requests.length;
  const host = hostOf(recorded.url);
  const problems: string[] = [];
  for (const target of [
    '/static/x?/../admin',
    '/static/../admin/users',
    '/static/..%2fadmin/users',
    '/static/%2e%2e/admin/users',
    '/static/%2E%2E/admin/users',
    '/static/.%2e/admin/users',
    '/static/..;/admin/users',
    '/static/..\\admin/users',
    '/static%2f..%2fadmin/users',
    '/static/%c0%ae%c0%ae/admin/users',
    '/debug/../admin/users',
    '/debug/request/..%2f..%2fadmin/users',
    '/admin?/static/',
    '/admin#/static/',
    '/admin;/static/',
    `http://${host}/static/../admin/users`,
    `http://evil.example/admin/users`,
  ]) {
    const o = await probe(recorded, target);
    if (isRefusal(o)) continue;
    const path = String(o.log?.['path']);
    // The only acceptable non-refusals: decided as /admin… (denied) or as a /static path (passes as that path).
    if (path.toLowerCase().startsWith('/admin')) {
      if (o.response.status !== 403) problems.push(`${target}: ${path} answered ${o.response.status}`);
    } else if (o.log?.['decision'] === 'pass') {
      const got = recordedTarget(o);
      if (got === undefined || got.split('?')[0] !== path) problems.push(`${target}: passed as ${path} but the upstream got ${String(got)}`);
      if (got !== undefined && (got.split('?')[0] ?? '').toLowerCase().includes('admin')) problems.push(`${target}: upstream path ${got}`);
    } else {
      problems.push(`${target}: unexpected ${o.response.status} ${String(o.log?.['decision'])} for ${path}`);
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(
    recorder.requests.slice(before).every((r) => !r.target.split('?')[0]!.toLowerCase().includes('admin')),
    `the upstream saw: ${JSON.stringify(recorder.targets().slice(before))}`,
  );
});

// ---------------------------------------------------------------------------------------------
// The same on the real demo app: its /debug/request says what it received.

test('test policy: every accepted spelling of /debug/request/x reaches the demo app as exactly the decided path', async () => {
  const problems = await checkBase(debug, '/debug/request/x', 'pass', (o) => {
    if (o.response.status !== 200) return undefined;
    const seen = o.response.json() as { url?: string; headers?: Record<string, string> };
    if (seen.headers?.['x-request-id'] !== o.log?.['requestId']) return undefined;
    return seen.url;
  });
  assert.deepEqual(problems, []);
});
