import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { crossSite, csrfToken, csrfTokenValid } from '../../../src/session/csrf.ts';
import { parseSessionKeys } from '../../../src/session/keys.ts';

/** THREATS T7. */
const KEY = parseSessionKeys('a-session-password-of-32+-characters-0123').csrfKey;
const OTHER_KEY = parseSessionKeys('another-deployment-password-0123456789').csrfKey;
const OWN = 'https://app.example.com';

test('a token is valid for its own binding', () => {
  const token = csrfToken(KEY, 'session-abc');
  assert.equal(csrfTokenValid(KEY, 'session-abc', token), true);
  assert.equal(csrfToken(KEY, 'session-abc'), token, 'deterministic for a binding');
  assert.match(token, /^[A-Za-z0-9_-]{43}$/, 'a base64url HMAC-SHA256');
});

test('a token is not valid for another binding or under another key', () => {
  const token = csrfToken(KEY, 'session-abc');
  assert.equal(csrfTokenValid(KEY, 'session-abd', token), false);
  assert.equal(csrfTokenValid(KEY, 'nonce-of-someone-else', token), false);
  assert.equal(csrfTokenValid(KEY, '', token), false);
  assert.equal(csrfTokenValid(OTHER_KEY, 'session-abc', token), false);
  assert.notEqual(csrfToken(KEY, 'pre-login-nonce'), csrfToken(KEY, 'session-id'));
});

test('wrong, empty, non-string and overlong tokens are refused without throwing', () => {
  const token = csrfToken(KEY, 'b');
  const wrong = (token[0] === 'A' ? 'B' : 'A') + token.slice(1);
  const candidates: unknown[] = [
    wrong,
    token.slice(0, -1),
    `${token}A`,
    '',
    ' ',
    token.toUpperCase() === token ? token.toLowerCase() : token.toUpperCase(),
    `${token}${'A'.repeat(200)}`,
    'A'.repeat(129),
    'é'.repeat(43), // same length in characters, different in bytes
    `é${token.slice(2)}`, // same length in bytes as the real token
    undefined,
    null,
    42,
    [token],
    { toString: () => token },
    Buffer.from(token),
  ];
  for (const candidate of candidates) {
    assert.equal(csrfTokenValid(KEY, 'b', candidate), false, `accepted ${String(candidate).slice(0, 20)}`);
  }
});

test('crossSite: same-origin requests and requests without browser headers pass', () => {
  const cases: IncomingHttpHeaders[] = [
    {},
    { 'sec-fetch-site': 'same-origin' },
    { 'sec-fetch-site': 'none' },
    { origin: OWN },
    { origin: 'HTTPS://APP.EXAMPLE.COM' },
    { 'sec-fetch-site': 'same-origin', origin: OWN },
  ];
  for (const headers of cases) assert.equal(crossSite(headers, OWN), null, JSON.stringify(headers));
});

test('crossSite: Sec-Fetch-Site cross-site or same-site is a reason', () => {
  assert.equal(crossSite({ 'sec-fetch-site': 'cross-site' }, OWN), 'Sec-Fetch-Site: cross-site');
  assert.equal(crossSite({ 'sec-fetch-site': 'same-site' }, OWN), 'Sec-Fetch-Site: same-site');
  assert.match(crossSite({ 'sec-fetch-site': 'cross-site', origin: OWN }, OWN) ?? '', /cross-site/, 'even with our Origin');
});

test('crossSite: a foreign Origin or Origin: null is a reason', () => {
  for (const origin of ['https://evil.example', 'http://app.example.com', 'https://app.example.com:8443', 'https://app.example.com.evil.example', 'https://sub.app.example.com']) {
    assert.equal(crossSite({ origin }, OWN), `Origin: ${origin}`);
    assert.equal(crossSite({ origin, 'sec-fetch-site': 'same-origin' }, OWN), `Origin: ${origin}`, 'Origin is checked too');
  }
  assert.equal(crossSite({ origin: 'null' }, OWN), 'Origin: null');
});

test('crossSite: Origin: null from our own page under Referrer-Policy: no-referrer passes only when Sec-Fetch-Site says same-origin', () => {
  // What Chromium sends for a form on a no-referrer page of the same origin.
  assert.equal(crossSite({ origin: 'null', 'sec-fetch-site': 'same-origin' }, OWN), null);
  assert.equal(crossSite({ origin: 'null', 'sec-fetch-site': 'cross-site' }, OWN), 'Sec-Fetch-Site: cross-site');
  assert.equal(crossSite({ origin: 'null', 'sec-fetch-site': 'same-site' }, OWN), 'Sec-Fetch-Site: same-site');
  assert.equal(crossSite({ origin: 'null', 'sec-fetch-site': 'none' }, OWN), 'Origin: null');
  assert.equal(crossSite({ origin: 'null' }, OWN), 'Origin: null');
});
