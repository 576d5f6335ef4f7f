import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryLogger } from '../../helpers/stack.ts';

/** THREATS T15: a careless log call with a secret-carrying field writes `[redacted]`, never the value. */

const SECRET = 'S3cr3t-value-that-must-not-appear';

const CASES: Array<[string, Record<string, unknown>]> = [
  ['a password', { password: SECRET }],
  ['a nested password', { body: { password: SECRET } }],
  ['a nested code', { body: { code: SECRET } }],
  ['a token', { token: SECRET }],
  ['a nested token', { admin: { token: SECRET } }],
  ['a secret', { secret: SECRET }],
  ['a Cookie header', { headers: { cookie: SECRET } }],
  ['a request Cookie header', { req: { headers: { cookie: SECRET } } }],
  ['an Authorization header', { headers: { authorization: `Bearer ${SECRET}` } }],
  ['a Set-Cookie header', { headers: { 'set-cookie': [SECRET] } }],
  ['a response Set-Cookie header', { res: { headers: { 'set-cookie': [SECRET] } } }],
  ['recovery codes', { recovery_codes: [SECRET] }],
  ['nested recovery codes', { result: { recovery_codes: [SECRET] } }],
  ['an otpauth URI', { otpauth_uri: `otpauth://totp/x?secret=${SECRET}` }],
  ['withheld upstream cookies', { pending: { upstreamSetCookies: [SECRET], upstreamCookies: { sp_session: SECRET } } }],
  ['a session cookie value', { cookieValue: SECRET }],
];

for (const [what, fields] of CASES) {
  test(`the log redacts ${what}`, () => {
    const { logger, logs } = memoryLogger();
    logger.info(fields, 'careless line');
    assert.equal(logs.length, 1);
    const line = JSON.stringify(logs[0]);
    assert.ok(!line.includes(SECRET), `${what} leaked: ${line}`);
    assert.ok(line.includes('[redacted]'), `${what}: the field is kept, censored: ${line}`);
  });
}

test('error codes at the top level stay readable (they are not secrets)', () => {
  const { logger, logs } = memoryLogger();
  logger.info({ code: 'HPE_HEADER_OVERFLOW' }, 'malformed request refused');
  assert.equal(logs[0]?.['code'], 'HPE_HEADER_OVERFLOW');
});

test('plain fields are written as given next to a redacted one (strings, numbers, booleans, nested objects)', () => {
  const { logger, logs } = memoryLogger();
  const odd = 'quote " backslash \\ newline \n line separator \u2028 emoji 😀';
  logger.info({ event: 'login_success', user: odd, score: 12.5, count: 3, ok: true, missing: null, nested: { keep: 'v', password: SECRET, n: 1 } }, odd);
  const line = logs[0];
  assert.ok(line);
  assert.equal(line['user'], odd);
  assert.equal(line['msg'], odd);
  assert.equal(line['score'], 12.5);
  assert.equal(line['count'], 3);
  assert.equal(line['ok'], true);
  assert.equal(line['missing'], null);
  assert.deepEqual(line['nested'], { keep: 'v', password: '[redacted]', n: 1 });
  assert.ok(!JSON.stringify(line).includes(SECRET));
});
