import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError, ERRORS, refusal, type ErrorCode } from '../../../src/core/errors.ts';
import { verifyRefusal } from '../../../src/flows/code-refusals.ts';
import { FlowError } from '../../../src/flows/flow-error.ts';
import { flowMessage } from '../../../src/pages/flow-messages.ts';
import { en } from '../../../src/i18n/en.ts';
import { zhCN } from '../../../src/i18n/zh-cn.ts';

/** The one table of refusals: every code has a status, English JSON words and page words in both languages. */

const codes = Object.keys(ERRORS) as ErrorCode[];

test('every refusal in the table answers a 4xx/5xx status with English words', () => {
  for (const code of codes) {
    const row = ERRORS[code];
    assert.ok(row.status >= 400 && row.status < 600, `${code}: ${row.status}`);
    assert.ok(row.message.length > 0, code);
    const error = refusal(code);
    assert.deepEqual({ code: error.code, status: error.status, message: error.message }, { code, status: row.status, message: row.message });
  }
});

test('every refusal in the table has page words in English and Chinese, never the neutral fallback', () => {
  for (const catalogue of [en, zhCN]) {
    for (const code of codes) {
      const words = flowMessage(catalogue, refusal(code));
      assert.notEqual(words, catalogue.flowUnknown, `${code} has no page words`);
    }
  }
});

test('a malformed code where a recovery code is also taken says so, in the JSON and on the page', () => {
  const strict = verifyRefusal({ ok: false, reason: 'malformed' }, { recovery: false });
  const lenient = verifyRefusal({ ok: false, reason: 'malformed' }, { recovery: true });
  assert.equal(strict.code, 'invalid_code_format');
  assert.equal(lenient.code, 'invalid_code_format');
  assert.equal(lenient.status, 400);
  assert.match(lenient.message, /recovery code/);
  assert.doesNotMatch(strict.message, /recovery/);
  assert.match(flowMessage(en, lenient), /recovery codes/);
  assert.equal(flowMessage(en, strict), en.flow.invalid_code_format);
});

test('the older FlowError still constructs, and every DomainError is a FlowError for the route modules', () => {
  const legacy = new FlowError(400, 'invalid_code_format', 'Send {"code": "123456"} with the code as a string.');
  assert.ok(legacy instanceof DomainError);
  assert.equal(legacy.status, 400);
  assert.ok(refusal('not_enabled') instanceof FlowError);
  assert.ok(!(new Error('x') instanceof FlowError));
});
