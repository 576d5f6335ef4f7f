import { test } from 'node:test';
import assert from 'node:assert/strict';
import { safeReturnTo } from '../../../src/http/return-to.ts';

/** THREATS T5: open redirect through return_to. Only same-origin paths of the upstream survive. */
const FALLBACK = '/dashboard';

test('same-origin paths of the upstream are kept', () => {
  for (const path of ['/campaigns?x=1', '/api/contacts/export?rows=5', '/', '/campaigns/42/edit', '/search?q=a%20b&page=2']) {
    assert.equal(safeReturnTo(path, FALLBACK), path);
  }
});

test('kept paths come back canonical (dot segments resolved)', () => {
  assert.equal(safeReturnTo('/campaigns/./42/../43', FALLBACK), '/campaigns/43');
});

const HOSTILE: Array<[string, unknown]> = [
  ['protocol-relative URL', '//evil.com'],
  ['protocol-relative URL with a path', '//evil.com/dashboard'],
  ['slash-backslash (browsers read it as //)', '/\\evil.com'],
  ['backslash later in the path', '/a\\..\\..\\evil.com'],
  ['a real tab after the slash', '/\tevil'],
  ['the decoded form of /%09/evil (CVE-2020-11053)', '/\t/evil'],
  ['percent-encoded tab (CVE-2020-11053)', '/%09/evil'],
  ['encoded slashes without a leading slash (bitly/oauth2_proxy #478)', '%2F%2Fevil.com'],
  ['encoded slashes after a leading slash', '/%2F%2Fevil.com'],
  ['encoded slash, lower-case', '/%2f%2fevil.com'],
  ['encoded backslash', '/%5Cevil.com'],
  ['scheme without slashes', 'https:evil.com'],
  ['absolute URL', 'https://evil.com'],
  ['absolute URL to another host with a path', 'http://evil.com/dashboard'],
  ['javascript: URL', 'javascript:alert(1)'],
  ['data: URL', 'data:text/html,x'],
  ['our own login page', '/_guard/login'],
  ['our own pages, upper-case', '/_GUARD/login'],
  ['our own root', '/_guard'],
  ['our own pages, escaped underscore', '/%5Fguard/login'],
  ['our own pages, via dot segments', '/campaigns/../_guard/logout'],
  ['climbing above the root', '/..'],
  ['climbing above the root further down', '/a/../../etc/passwd'],
  ['empty string', ''],
  ['undefined', undefined],
  ['null', null],
  ['an array (return_to=a&return_to=b)', ['/campaigns', '/x']],
  ['a number', 42],
  ['an object', { toString: () => '/campaigns' }],
  ['a 3000-character path', `/${'a'.repeat(2999)}`],
  ['a newline', '/a\nb'],
  ['a carriage return', '/a\rb'],
  ['an encoded CRLF', '/a%0D%0ASet-Cookie:%20x=1'],
  ['a NUL', '/a\u0000b'],
  ['a space', '/a b'],
  ['a fragment', '/campaigns#x'],
  ['a relative path', 'campaigns'],
  ['a non-breaking space after the slash', '/\u00a0/evil.com'],
];

for (const [label, value] of HOSTILE) {
  test(`falls back for ${label}`, () => {
    assert.equal(safeReturnTo(value, FALLBACK), FALLBACK);
  });
}

test('length boundary: 2048 characters are kept, 2049 are not', () => {
  const ok = `/${'a'.repeat(2047)}`;
  assert.equal(safeReturnTo(ok, FALLBACK), ok);
  assert.equal(safeReturnTo(`${ok}a`, FALLBACK), FALLBACK);
});

test('the language switcher may come back to the sidecar pages, never to its API or elsewhere', () => {
  const guardPages = { guardPages: true };
  for (const path of ['/_guard/login?return_to=%2Fdashboard', '/_guard/help/otp', '/_guard/security/enable?step=code&channel=email', '/campaigns']) {
    assert.equal(safeReturnTo(path, FALLBACK, guardPages), path);
  }
  for (const path of ['/_guard/api/login', '/_guard/api', '/_GUARD/API/2fa', '//evil.com', 'https://evil.com', '/\\evil.com', '/%2F%2Fevil.com', 'javascript:alert(1)']) {
    assert.equal(safeReturnTo(path, FALLBACK, guardPages), FALLBACK, path);
  }
});
