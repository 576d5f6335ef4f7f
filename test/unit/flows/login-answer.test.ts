import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeLoginAnswer, readSetCookie, type LoginAnswer, type SuccessSignal } from '../../../src/flows/login-answer.ts';

/**
 * Upstream-error classification: only the success signal signs in, only the failure signal is a
 * wrong password (the one outcome counted towards lock-outs); everything else is an upstream error.
 */

const NOW = Date.UTC(2026, 5, 1);
const DJANGO: SuccessSignal = { status: [302], location: /^\/admin\//, cookies: ['sessionid'] };
const answer = (status: number, more: Partial<LoginAnswer> = {}): LoginAnswer => ({ status, location: '', setCookies: [], body: '', ...more });
const session = 'sessionid=abc; HttpOnly; Path=/; SameSite=Lax';

describe('with only a success signal (the default failure signal)', () => {
  test('status, Location and the session cookie: success', () => {
    const verdict = judgeLoginAnswer(answer(302, { location: '/admin/', setCookies: ['csrftoken=x; Path=/', session] }), DJANGO, undefined, NOW);
    assert.equal(verdict.kind, 'success');
    assert.ok(verdict.checks.every((c) => c.holds));
  });

  test('a normal answer (200 or a redirect) without the session cookie: a wrong password', () => {
    assert.equal(judgeLoginAnswer(answer(200, { body: '<form>' }), DJANGO, undefined, NOW).kind, 'failure');
    assert.equal(judgeLoginAnswer(answer(302, { location: '/admin/login/' }), DJANGO, undefined, NOW).kind, 'failure');
  });

  test('4xx and 5xx are upstream errors, never a wrong password', () => {
    for (const status of [400, 403, 404, 405, 419, 429, 500, 502, 503]) {
      assert.equal(judgeLoginAnswer(answer(status), DJANGO, undefined, NOW).kind, 'upstream_error', String(status));
    }
  });

  test('the session cookie with an unexpected redirect is an upstream error', () => {
    const verdict = judgeLoginAnswer(answer(302, { location: '/accounts/2fa/', setCookies: [session] }), DJANGO, undefined, NOW);
    assert.equal(verdict.kind, 'upstream_error');
    assert.deepEqual(
      verdict.checks.filter((c) => !c.holds).map((c) => c.predicate),
      ['success.location matches /^\\/admin\\//', 'failure (default): no success cookie (sessionid) set'],
    );
  });

  test('a cookie that is deleted is not set', () => {
    const deleted = 'sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/';
    assert.equal(judgeLoginAnswer(answer(302, { location: '/admin/', setCookies: [deleted] }), DJANGO, undefined, NOW).kind, 'failure');
  });

  test('several session cookies: every one must be set', () => {
    const php: SuccessSignal = { status: [302, 303], cookies: ['DokuWiki', 'DW7fa'] };
    assert.equal(judgeLoginAnswer(answer(302, { setCookies: ['DokuWiki=1; Path=/'] }), php, undefined, NOW).kind, 'upstream_error');
    assert.equal(judgeLoginAnswer(answer(302, { setCookies: ['DokuWiki=1; Path=/', 'DW7fa=2; Path=/'] }), php, undefined, NOW).kind, 'success');
  });

  test('a body pattern can be part of success', () => {
    const json: SuccessSignal = { status: [200], cookies: ['sid'], body: /"ok":\s*true/ };
    assert.equal(judgeLoginAnswer(answer(200, { setCookies: ['sid=1'], body: '{"ok": true}' }), json, undefined, NOW).kind, 'success');
    assert.equal(judgeLoginAnswer(answer(200, { setCookies: ['sid=1'], body: '{"ok": false}' }), json, undefined, NOW).kind, 'upstream_error');
  });
});

describe('with a configured failure signal', () => {
  const failure = { status: [200], body: /class="errornote"/ };

  test('only an answer that matches it is a wrong password', () => {
    assert.equal(judgeLoginAnswer(answer(200, { body: '<p class="errornote">Please enter the correct username</p>' }), DJANGO, failure, NOW).kind, 'failure');
  });

  test('a 200 without the failure pattern (a maintenance page, a changed template) is an upstream error', () => {
    const verdict = judgeLoginAnswer(answer(200, { body: '<h1>Down for maintenance</h1>' }), DJANGO, failure, NOW);
    assert.equal(verdict.kind, 'upstream_error');
    assert.equal(verdict.checks.find((c) => c.predicate.startsWith('failure.body'))?.holds, false);
  });

  test('a failure Location', () => {
    const byLocation = { location: /[?&]error=1/ };
    assert.equal(judgeLoginAnswer(answer(302, { location: '/login?error=1' }), DJANGO, byLocation, NOW).kind, 'failure');
    assert.equal(judgeLoginAnswer(answer(302, { location: '/maintenance' }), DJANGO, byLocation, NOW).kind, 'upstream_error');
  });
});

describe('readSetCookie', () => {
  test('values, and deletions by empty value, Max-Age or a past Expires', () => {
    assert.deepEqual(readSetCookie('a=1; Path=/', NOW), { name: 'a', value: '1', deleted: false });
    assert.equal(readSetCookie('a=; Path=/', NOW)?.deleted, true);
    assert.equal(readSetCookie('a=1; Max-Age=0', NOW)?.deleted, true);
    assert.equal(readSetCookie('a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT', NOW)?.deleted, true);
    assert.equal(readSetCookie('a=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT', NOW)?.deleted, false);
  });
});
