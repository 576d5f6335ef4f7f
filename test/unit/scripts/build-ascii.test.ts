import assert from 'node:assert/strict';
import { test } from 'node:test';
// @ts-expect-error: a plain .mjs script without type declarations
import { asciiOnly as asciiOnlyUntyped } from '../../../scripts/build.mjs';

const asciiOnly = asciiOnlyUntyped as (code: string) => string;

test('asciiOnly leaves only ASCII and keeps what strings, templates, regular expressions and identifiers mean', () => {
  const source = [
    '// 活动会话 … a comment',
    "const a = 'x…y';",
    'const b = `登录 ${a} 😀`;',
    'const c = /^[…😀]$/u.test("😀") && /…/.test("…");',
    'const café = 1;',
    'return [a, b, c, café];',
  ].join('\n');
  const escaped = asciiOnly(source);
  assert.match(escaped, /^[\x00-\x7e]*$/);
  assert.deepEqual(new Function(escaped)(), new Function(source)());
  assert.equal(asciiOnly('plain ascii'), 'plain ascii');
});
