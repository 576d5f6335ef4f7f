/**
 * THREATS T23 — Double encoding.
 *
 * IIS and Java servlet containers (and any upstream or file system that decodes a path twice) have
 * served `..` written as `%252e%252e`: the proxy decodes once, sees `%2e%2e` (an ordinary
 * segment), and lets it through under a public rule; the second decoding then climbs out of it.
 * Here `/static/%252e%252e/api/contacts/export` used to reach the upstream under the public
 * `static-assets` rule.
 *
 * `%25` followed by the escape of `.`, `/`, `\`, a control character or another `%` is refused with
 * 400 before any rule is consulted, in every case and spelling, and nothing reaches the upstream.
 * A `%25` followed by anything else (a literal percent in a file name) still passes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, type Stack } from '../helpers/stack.ts';
import { hostOf, rawExchange, startRecordingUpstream, type RecordingUpstream } from '../helpers/raw-http.ts';
import { canonicaliseTarget } from '../../src/proxy/canonical-target.ts';

const POLICY = `version: 1
default:
  access: authenticated
rules:
  - name: static-assets
    paths: ["/static/**"]
    methods: [GET]
    access: public
  - name: contact-export
    paths: ["/api/contacts/export"]
    methods: [GET, POST]
    access: authenticated
`;

let upstream: RecordingUpstream;
let stack: Stack;

before(async () => {
  upstream = await startRecordingUpstream();
  stack = await startStack({ policy: POLICY, upstreamUrl: upstream.url });
});
after(async () => {
  await stack.close();
  await upstream.close();
});

async function get(target: string): Promise<{ status: number; body: string }> {
  const r = await rawExchange(stack.url, [`GET ${target} HTTP/1.1`, `Host: ${hostOf(stack.url)}`, 'Accept: application/json', 'Connection: close', '', ''].join('\r\n'));
  return { status: r.first.status, body: r.first.body.toString() };
}

const AMBIGUOUS = [
  '/static/%252e%252e/api/contacts/export',
  '/static/%252E%252E/api/contacts/export',
  '/static/%252e%252E/api/contacts/export',
  '/static/%25%32%65%25%32%65/api/contacts/export',
  '/static/%25%32%45%25%32%45/api/contacts/export',
  '/static/..%252fapi%252fcontacts%252fexport',
  '/static/x%252Fy',
  '/static/..%255c..%255capi/contacts/export',
  '/static/%255C',
  '/static/a%2500.css',
  '/static/a%250a.css',
  '/static/a%250D.css',
  '/static/a%251f.css',
  '/static/a%257f.css',
  '/static/a%257F.css',
  '/static/%25252e%25252e/api/contacts/export',
  '/static/%252e./api/contacts/export',
];

test('a double-encoded dot, slash, backslash, percent or control character is refused with 400 and never forwarded', async () => {
  upstream.reset();
  const problems: string[] = [];
  for (const target of AMBIGUOUS) {
    const r = await get(target);
    if (r.status !== 400) problems.push(`${target}: ${r.status} ${r.body.slice(0, 80)}`);
    else if (!/refused/.test(r.body)) problems.push(`${target}: the 400 does not say why: ${r.body}`);
  }
  await upstream.settle();
  assert.deepEqual(problems, []);
  assert.deepEqual(upstream.targets(), [], 'nothing reached the upstream');
});

test('the canonicaliser itself (shared with policy explain and test) refuses the same spellings', () => {
  for (const target of AMBIGUOUS) {
    const result = canonicaliseTarget(target, { pathParameters: 'reject' });
    assert.equal(result.ok, false, target);
    if (!result.ok && target.includes('%252e%252e')) assert.match(result.reason, /double-encoded/);
  }
});

test('a literal percent followed by anything else still passes, exactly as written', async () => {
  upstream.reset();
  for (const target of ['/static/100%25.css', '/static/a%2541.css', '/static/50%25-off/banner.png']) {
    const r = await get(target);
    assert.equal(r.status, 200, `${target}: ${r.body}`);
  }
  await upstream.settle();
  assert.deepEqual(upstream.targets(), ['/static/100%25.css', '/static/a%2541.css', '/static/50%25-off/banner.png']);
});
