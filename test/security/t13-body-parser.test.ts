import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, type Stack } from '../helpers/stack.ts';
import { rawRequest, type ApiReply } from '../helpers/two-factor.ts';

/**
 * THREATS T13 — body parser pitfalls (qs CVE-2022-24999 and CVE-2025-15284; prototype pollution
 * through `__proto__` and `constructor.prototype`). Bodies are size-limited (413), never deep-merged
 * into anything, and every field is type-checked: an object where a string belongs is refused
 * (400/401), never coerced, never a 500. The stack runs in this process, so pollution of
 * Object.prototype would be visible here.
 */

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack.close();
});

const LOGIN = '/_guard/api/login';

function postJson(path: string, body: string): Promise<ApiReply> {
  return rawRequest(`${stack.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body });
}

function postForm(path: string, body: string): Promise<ApiReply> {
  return rawRequest(`${stack.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body,
  });
}

function assertNotPolluted(): void {
  const probe: Record<string, unknown> = {};
  for (const name of ['polluted', 'isAdmin', 'authenticated']) {
    assert.equal(probe[name], undefined, `Object.prototype.${name} was set by a request body`);
  }
}

/** Refused as a bad or failed sign-in: never signed in, never a server error. */
function assertRefused(reply: ApiReply, what: string): void {
  assert.ok([400, 401, 415].includes(reply.status), `${what}: ${reply.status} ${reply.text.slice(0, 200)}`);
  assert.ok(!reply.setCookies.some((c) => /^spg_session=[^;]/.test(c)), `${what}: a session was issued`);
}

describe('T13: body parser pitfalls', () => {
  test('the installed qs is 6.16 or newer (CVE-2025-15284 is fixed there)', () => {
    const version = (JSON.parse(readFileSync(join(process.cwd(), 'node_modules', 'qs', 'package.json'), 'utf8')) as { version: string }).version;
    const [major = 0, minor = 0] = version.split('.').map(Number);
    assert.ok(major > 6 || (major === 6 && minor >= 16), `qs ${version}`);
  });

  test('JSON __proto__ and constructor.prototype do not pollute, and do not sign anyone in', async () => {
    const bodies = [
      '{"__proto__":{"polluted":"yes","isAdmin":true},"email":"merchant@example.com","password":"wrong"}',
      '{"constructor":{"prototype":{"polluted":"yes"}},"email":"merchant@example.com","password":"wrong"}',
      '{"email":{"__proto__":{"authenticated":true}},"password":"smartpush-demo"}',
    ];
    for (const body of bodies) assertRefused(await postJson(LOGIN, body), body);
    assertNotPolluted();
  });

  test('form bodies with qs brackets do not pollute, and nested values are not taken as strings', async () => {
    const bodies = [
      '__proto__[polluted]=yes&email=merchant%40example.com&password=wrong',
      'constructor[prototype][polluted]=yes&email=merchant%40example.com&password=wrong',
      'email[$ne]=x&password=smartpush-demo',
      'email=merchant%40example.com&password[]=smartpush-demo',
      'email=merchant%40example.com&email=owner%40example.com&password=smartpush-demo',
    ];
    for (const body of bodies) assertRefused(await postForm('/login', body), body);
    assertNotPolluted();
  });

  test('non-string JSON fields are refused with 400 before any password check', async () => {
    for (const body of ['{"email":["merchant@example.com"],"password":"smartpush-demo"}', '{"email":"merchant@example.com","password":{"a":1}}', '{"code":123456}']) {
      const reply = await postJson(LOGIN, body);
      assert.ok([400, 401].includes(reply.status), `${body}: ${reply.status} ${reply.text}`);
    }
  });

  test('an oversized body gets 413, a deeply nested one 400, many parameters no 500', async () => {
    const big = JSON.stringify({ email: 'merchant@example.com', password: 'x'.repeat(2 * 1024 * 1024) });
    const tooBig = await postJson(LOGIN, big);
    assert.equal(tooBig.status, 413, tooBig.text.slice(0, 200));
    assert.equal(tooBig.body['error'], 'payload_too_large');

    const deep = '['.repeat(50_000) + ']'.repeat(50_000);
    const nested = await postJson(LOGIN, deep);
    assert.ok([400, 413].includes(nested.status), `deep nesting: ${nested.status} ${nested.text.slice(0, 200)}`);

    const many = Array.from({ length: 5000 }, (_, i) => `p${i}=1`).join('&') + '&email=merchant%40example.com&password=wrong';
    const manyReply = await postForm('/login', many);
    assert.ok(manyReply.status < 500, `many parameters: ${manyReply.status} ${manyReply.text.slice(0, 200)}`);
    assertNotPolluted();
    // The process is still serving.
    assert.equal((await rawRequest(`${stack.url}/static/app.css`)).status, 200);
  });
});
