import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Script } from 'node:vm';
import { COLOUR_PAIRS, GUARD_CSS, PALETTE } from '../../../src/pages/assets.ts';
import { AA_TEXT_CONTRAST, contrastRatio } from '../../../src/config/contrast.ts';
import { GUARD_JS } from '../../../src/pages/guard-script.ts';
import { pageUi, type Brand } from '../../../src/pages/page-ui.tsx';
import { pageGallery } from '../../helpers/page-gallery.ts';

/**
 * WCAG 2.1 AA choices of the pages that can be checked from their markup and stylesheet: every
 * field labelled, code and password fields with the right autocomplete and keyboard, errors
 * announced and tied to their field and placed before the form, one h1 first, text colours with
 * 4.5:1 contrast. (Layout at 375 px and the axe rules run in a real browser: test/e2e.)
 */

const BRAND: Brand = { product: 'SmartPush', support: 'support@example.com', logoUrl: '/_guard/assets/logo' };

const attr = (tag: string, name: string): string | undefined => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];

for (const lang of ['en', 'zh-CN']) {
  test(`${lang}: every page labels its fields, announces its errors first and ties them to the fields`, () => {
    const ui = pageUi(BRAND, { 'accept-language': lang }, '/_guard/x');
    for (const [name, render] of pageGallery((u) => ({ error: u.t.codeExpired, notice: u.t.newCodeSent }))) {
      const html = render(ui);
      const ids = new Set([...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
      assert.match(html, new RegExp(`<html lang="${lang}">`), name);
      assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1"\/?>/, name);
      assert.equal(html.match(/<h1[ >]/g)?.length, 1, `${name}: one h1`);

      for (const [input] of html.matchAll(/<input\b[^>]*>/g)) {
        const type = attr(input, 'type') ?? 'text';
        if (type === 'hidden') continue;
        const id = attr(input, 'id');
        assert.ok(id && html.includes(`<label for="${id}"`) || (id && new RegExp(`<label [^>]*for="${id}"`).test(html)), `${name}: ${input} has no label`);
        const fieldName = attr(input, 'name');
        // The code field gets the digit keypad and the one-time-code autofill; the recovery code
        // field (letters and digits) a keyboard with letters, and no code autofill.
        if (fieldName === 'code' && id === 'recovery-code') {
          assert.equal(attr(input, 'inputmode'), 'text', `${name}: ${input}`);
          assert.notEqual(attr(input, 'autocomplete'), 'one-time-code', `${name}: ${input}`);
        } else if (fieldName === 'code') {
          assert.equal(attr(input, 'autocomplete'), 'one-time-code', `${name}: ${input}`);
          assert.equal(attr(input, 'inputmode'), 'numeric', `${name}: ${input}`);
        }
        if (type === 'password') assert.equal(attr(input, 'autocomplete'), 'current-password', `${name}: ${input}`);
        if (fieldName === 'email') assert.equal(attr(input, 'autocomplete'), 'username', `${name}: ${input}`);
        if (attr(input, 'aria-invalid') === 'true') {
          const described = (attr(input, 'aria-describedby') ?? '').split(' ');
          assert.ok(described.length > 0 && described.every((d) => ids.has(d)), `${name}: ${input} names missing elements`);
        }
        for (const d of (attr(input, 'aria-describedby') ?? '').split(' ').filter(Boolean)) assert.ok(ids.has(d), `${name}: ${input} → #${d}`);
      }

      const alert = html.search(/role="alert"/);
      const form = html.search(/<form\b/);
      if (alert >= 0 && form >= 0) assert.ok(alert < form, `${name}: the error comes before the form`);
      if (alert >= 0 && /name="code"|name="password"/.test(html) && /id="form-error"/.test(html)) {
        assert.match(html, /aria-invalid="true"/, `${name}: a page with an error marks its field invalid`);
      }
      const h1 = html.search(/<h1[ >]/);
      if (form >= 0) assert.ok(h1 < form, `${name}: the heading comes before the form`);

      for (const [img] of html.matchAll(/<img\b[^>]*>/g)) assert.ok((attr(img, 'alt') ?? '').length > 0, `${name}: ${img} without alt`);
      for (const [, text] of html.matchAll(/<button\b[^>]*>([\s\S]*?)<\/button>/g)) assert.ok((text ?? '').replace(/<[^>]+>/g, '').trim().length > 0, `${name}: an empty button`);
      assert.match(html, /<a class="skip" href="#main">/, name);
    }
  });
}

test('every text colour of the stylesheet has at least 4.5:1 contrast on the backgrounds it is used on', () => {
  for (const [fg, bg] of COLOUR_PAIRS) {
    const ratio = contrastRatio(PALETTE[fg], PALETTE[bg]);
    assert.ok(ratio >= AA_TEXT_CONTRAST, `${fg} ${PALETTE[fg]} on ${bg} ${PALETTE[bg]}: ${ratio.toFixed(2)}:1`);
  }
  // White button text on the danger colour and the default primary.
  assert.ok(contrastRatio('#ffffff', PALETTE.danger) >= AA_TEXT_CONTRAST);
  assert.ok(contrastRatio('#ffffff', PALETTE.primary) >= AA_TEXT_CONTRAST);
  // No text colour in the stylesheet outside the checked palette.
  const known = new Set<string>([...Object.values(PALETTE), '#fff'].map((c) => c.toLowerCase()));
  for (const [, colour] of GUARD_CSS.matchAll(/(?<![-\w])color:\s*(#[0-9a-fA-F]{3,6})/g)) assert.ok(known.has((colour ?? '').toLowerCase()), `unchecked text colour ${colour}`);
  // The check itself: a known failing pair fails.
  assert.ok(contrastRatio('#9ca3af', '#ffffff') < AA_TEXT_CONTRAST);
  assert.equal(contrastRatio('#000000', '#ffffff').toFixed(1), '21.0');
});

test('focus is visible, and codes and keys wrap on a narrow screen', () => {
  assert.match(GUARD_CSS, /:focus-visible[^{]*\{ outline: 3px solid var\(--focus\)/);
  assert.match(GUARD_CSS, /code\.key \{[^}]*word-break: break-all/);
  assert.match(GUARD_CSS, /@media \(max-width: 480px\) \{[\s\S]*\.codes \{ columns: 1; \}/);
});

test('guard.js is plain, small, parseable script with no HTML injection or eval', () => {
  new Script(GUARD_JS, { filename: 'guard.js' });
  assert.ok(Buffer.byteLength(GUARD_JS) < 4096, `${Buffer.byteLength(GUARD_JS)} bytes`);
  assert.doesNotMatch(GUARD_JS, /innerHTML|outerHTML|insertAdjacentHTML|eval\(|new Function|document\.write/);
  for (const hook of ['data-resend-after', 'data-autosubmit', 'data-copy']) assert.ok(GUARD_JS.includes(hook.replace('data-', '').replace(/-(\w)/g, (_m, c: string) => c.toUpperCase())) || GUARD_JS.includes(hook), hook);
});
