/**
 * Framing protection for proxied pages (issue 14, suspected item: clickjacking). Legacy pages
 * without X-Frame-Options or a CSP frame-ancestors could be framed by any site; the sidecar adds
 * both to HTML responses that lack them (config headers.framing, default same_origin), and never
 * overrides what the upstream chose itself.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OPEN_POLICY, startStack, type Stack } from '../helpers/stack.ts';
import { hostOf, rawExchange, startRecordingUpstream, type ParsedResponse, type RecordedRequest, type RecordingUpstream } from '../helpers/raw-http.ts';

function reply(req: RecordedRequest): string {
  const headers: Record<string, string[]> = {
    '/html': ['Content-Type: text/html; charset=utf-8'],
    '/xhtml': ['Content-Type: application/xhtml+xml'],
    '/untyped': [],
    '/json': ['Content-Type: application/json'],
    '/own-xfo': ['Content-Type: text/html', 'X-Frame-Options: DENY'],
    '/own-csp': ['Content-Type: text/html', "Content-Security-Policy: default-src 'self'; frame-ancestors https://partner.example"],
    '/other-csp': ['Content-Type: text/html', "Content-Security-Policy: default-src 'self'"],
  };
  const body = req.target === '/json' ? '{}' : '<!doctype html><title>x</title>';
  return ['HTTP/1.1 200 OK', ...(headers[req.target] ?? ['Content-Type: text/html']), `Content-Length: ${body.length}`, '', body].join('\r\n');
}

let upstream: RecordingUpstream;
let guarded: Stack;
let off: Stack;
let deny: Stack;

before(async () => {
  upstream = await startRecordingUpstream(reply);
  guarded = await startStack({ policy: OPEN_POLICY, upstreamUrl: upstream.url });
  off = await startStack({ policy: OPEN_POLICY, upstreamUrl: upstream.url, config: { headers: { framing: 'off' } } });
  deny = await startStack({ policy: OPEN_POLICY, upstreamUrl: upstream.url, config: { headers: { framing: 'deny' } } });
});
after(async () => {
  await Promise.all([guarded.close(), off.close(), deny.close()]);
  await upstream.close();
});

async function get(s: Stack, path: string): Promise<ParsedResponse> {
  const r = await rawExchange(s.url, `GET ${path} HTTP/1.1\r\nHost: ${hostOf(s.url)}\r\nConnection: close\r\n\r\n`);
  assert.equal(r.first.status, 200, `${path}: ${r.first.startLine}`);
  return r.first;
}

const all = (res: ParsedResponse, name: string): string[] => res.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);

test('HTML without framing protection gets frame-ancestors and X-Frame-Options (on by default)', async () => {
  for (const path of ['/html', '/xhtml', '/untyped']) {
    const res = await get(guarded, path);
    assert.deepEqual(all(res, 'x-frame-options'), ['SAMEORIGIN'], path);
    assert.deepEqual(all(res, 'content-security-policy'), ["frame-ancestors 'self'"], path);
  }
  // An upstream CSP without frame-ancestors stays, and the directive is added beside it.
  const other = await get(guarded, '/other-csp');
  assert.deepEqual(all(other, 'content-security-policy'), ["default-src 'self'", "frame-ancestors 'self'"]);
  assert.deepEqual(all(other, 'x-frame-options'), ['SAMEORIGIN']);
});

test("the upstream's own choice is kept, and non-HTML answers are left alone", async () => {
  const xfo = await get(guarded, '/own-xfo');
  assert.deepEqual(all(xfo, 'x-frame-options'), ['DENY']);
  assert.deepEqual(all(xfo, 'content-security-policy'), []);
  const csp = await get(guarded, '/own-csp');
  assert.deepEqual(all(csp, 'content-security-policy'), ["default-src 'self'; frame-ancestors https://partner.example"]);
  assert.deepEqual(all(csp, 'x-frame-options'), []);
  const json = await get(guarded, '/json');
  assert.deepEqual([...all(json, 'x-frame-options'), ...all(json, 'content-security-policy')], []);
});

test('headers.framing: deny forbids every frame; off adds nothing', async () => {
  const denied = await get(deny, '/html');
  assert.deepEqual(all(denied, 'x-frame-options'), ['DENY']);
  assert.deepEqual(all(denied, 'content-security-policy'), ["frame-ancestors 'none'"]);
  const plain = await get(off, '/html');
  assert.deepEqual([...all(plain, 'x-frame-options'), ...all(plain, 'content-security-policy')], []);
});
