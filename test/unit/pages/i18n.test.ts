import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { en } from '../../../src/i18n/en.ts';
import { zhCN } from '../../../src/i18n/zh-cn.ts';
import { matchLanguage, negotiateLanguage, requestLanguage } from '../../../src/i18n/language.ts';
import { pageUi, renderPage, type Brand, type PageUi } from '../../../src/pages/page-ui.tsx';
import { RememberedBrowsersSection } from '../../../src/pages/remembered-browsers-section.tsx';
import { h } from 'preact';
import { renderLoginPage } from '../../../src/pages/login-page.tsx';
import { errorWords } from '../../../src/pages/error-page.tsx';
import { flowMessage } from '../../../src/pages/flow-messages.ts';
import { FlowError } from '../../../src/flows/flow-error.ts';
import { CODES, KEY, pageGallery } from '../../helpers/page-gallery.ts';

/**
 * The page catalogues: every page, in every view, rendered in English and Simplified Chinese; the
 * Chinese pages must not carry English words outside a short list of names (products, standards,
 * the language switcher's own "English"), in text or in the attributes people hear or see (alt,
 * aria-label, title, the script's data- words).
 */

const BRAND: Brand = { product: 'SmartPush', support: 'support@example.com', logoUrl: null };
const ui = (lang: string, url = '/_guard/x'): PageUi => pageUi(BRAND, { 'accept-language': lang }, url);

/** What a person reads or hears: text outside script/style, and the spoken/visible attributes. */
function humanText(html: string): string {
  const attributes = [...html.matchAll(/\s(?:alt|aria-label|title|placeholder|data-countdown|data-copied)="([^"]*)"/g)].map((m) => m[1]);
  const text = html
    .replace(/<(script|style)[\s\S]*?<\/\1>/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");
  // {s} is the script's placeholder for the seconds, not a word.
  return [text, ...attributes].join(' ').replace(/\{s\}/g, ' ').replace(/\s+/g, ' ');
}

/** Names that stay as they are in a Chinese page (products, standards, the switcher's "English"). */
const ALLOWED = new Set(['SmartPush', 'English', 'Google', 'Microsoft', 'Authenticator', 'Authy', 'NIST', 'SP', 'SIM', 'SMS', 'IT']);

/** The pages' data (addresses, keys, codes, ids), which is the same in every language. */
const DATA = [KEY, ...CODES, 'support@example.com', 'm•••@example.com', 'm@example.com', 'abc-1'];

function englishLeftovers(text: string): string[] {
  const words = DATA.reduce((rest, data) => rest.split(data).join(' '), text);
  return [...words.matchAll(/(?<![0-9A-Za-z])[A-Za-z][A-Za-z0-9']*/g)].map((m) => m[0]).filter((word) => !ALLOWED.has(word));
}

describe('page catalogues', () => {
  test('the Chinese catalogue has exactly the keys of the English one, at every level', () => {
    const shape = (value: unknown): unknown =>
      value !== null && typeof value === 'object' && !Array.isArray(value)
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]).sort(([a], [b]) => String(a).localeCompare(String(b))))
        : typeof value;
    assert.deepEqual(shape(zhCN), shape(en));
  });

  test('every page in every view renders in both languages, with no English left in the Chinese ones', () => {
    const list = pageGallery((u) => ({ error: u.t.codeExpired, notice: u.t.newCodeSent }));
    assert.ok(list.length >= 45, `pages rendered: ${list.length}`);
    for (const [name, render] of list) {
      const english = render(ui('en'));
      const chinese = render(ui('zh-CN'));
      assert.match(english, /^<!doctype html><html lang="en">/, name);
      assert.match(chinese, /^<!doctype html><html lang="zh-CN">/, name);
      assert.notEqual(humanText(english), humanText(chinese), `${name}: the same text in both languages`);
      assert.deepEqual(englishLeftovers(humanText(chinese)), [], `${name}: English words on the Chinese page`);
      assert.ok(englishLeftovers(humanText(english)).length > 3, `${name}: the English page has English text`);
    }
  });

  test('the English-leftover check catches an untranslated sentence', () => {
    const leaked = renderLoginPage(ui('zh-CN'), { csrf: 'c', returnTo: '/', error: 'The email or password is not correct.' });
    assert.deepEqual(englishLeftovers(humanText(leaked)), ['The', 'email', 'or', 'password', 'is', 'not', 'correct']);
  });

  test('flow refusals are worded per language by code, with attempts left and waiting time', () => {
    const zh = ui('zh-CN').t;
    const english = ui('en').t;
    assert.equal(flowMessage(english, new FlowError(401, 'invalid_code', 'x', { attempts_left: 2 })), 'That code is not correct. 2 attempts left.');
    assert.equal(flowMessage(zh, new FlowError(401, 'invalid_code', 'x', { attempts_left: 1 })), '验证码不正确。 还可尝试 1 次。');
    assert.equal(flowMessage(english, new FlowError(429, 'too_many_codes', 'x', { retry_after: 45 })), 'A code was sent recently. Please wait before asking for another. (You can try again in about 45 seconds.)');
    assert.equal(flowMessage(zh, new FlowError(409, 'step_out_of_order', 'This step is not the next one.')), '这不是下一个步骤。请从头开始。');
    // A code the catalogue does not know never shows the flow's English message on a Chinese page.
    assert.equal(flowMessage(zh, new FlowError(400, 'brand_new_code', 'English words')), zh.flowUnknown);
  });
});

describe('language negotiation', () => {
  test('Accept-Language picks the highest q among the languages offered; default English', () => {
    const cases: Array<[string | undefined, string]> = [
      [undefined, 'en'],
      ['', 'en'],
      ['fr-FR, de;q=0.9', 'en'],
      ['zh-CN', 'zh-CN'],
      ['zh', 'zh-CN'],
      ['zh-Hans', 'zh-CN'],
      ['zh-Hans-CN,zh;q=0.9', 'zh-CN'],
      ['ZH-cn', 'zh-CN'],
      ['en-US,en;q=0.9,zh-CN;q=0.8', 'en'],
      ['fr;q=1, zh-CN;q=0.7, en;q=0.3', 'zh-CN'],
      ['en;q=0.2, zh;q=0.8', 'zh-CN'],
      ['zh-CN;q=0, en;q=0.1', 'en'],
      ['zh-TW', 'en'],
      ['zh-Hant', 'en'],
      ['*', 'en'],
      ['en;q=0.5, zh;q=0.5', 'en'],
      ['zh;q=0.5, en;q=0.5', 'zh-CN'],
      ['zh;q=abc', 'zh-CN'],
      [';;;,,,q=', 'en'],
    ];
    for (const [header, expected] of cases) assert.equal(negotiateLanguage(header), expected, JSON.stringify(header));
    assert.equal(matchLanguage('en-GB'), 'en');
    assert.equal(matchLanguage('zh-SG'), 'zh-CN');
    assert.equal(matchLanguage('zh-HK'), null);
  });

  test('the spg_lang cookie (the switcher) wins over Accept-Language; an unknown value is ignored', () => {
    assert.equal(requestLanguage({ cookie: 'spg_lang=zh-CN', 'accept-language': 'en' }), 'zh-CN');
    assert.equal(requestLanguage({ cookie: 'other=1; spg_lang=en', 'accept-language': 'zh-CN' }), 'en');
    assert.equal(requestLanguage({ cookie: 'spg_lang=klingon', 'accept-language': 'zh-CN' }), 'zh-CN');
    assert.equal(requestLanguage({ cookie: 'spg_lang=<script>' }), 'en');
    assert.equal(requestLanguage({}), 'en');
  });

  test('the switcher links name each language in itself and come back to the current page', () => {
    const html = renderLoginPage(ui('zh-CN', '/_guard/login?return_to=%2Fdashboard'), { csrf: 'c', returnTo: '/dashboard' });
    assert.match(html, /<nav class="languages" aria-label="语言">/);
    assert.match(html, /<a href="\/_guard\/lang\?set=en&amp;return_to=%2F_guard%2Flogin%3Freturn_to%3D%252Fdashboard" lang="en" hreflang="en">English<\/a>/);
    assert.match(html, /<span aria-current="true" lang="zh-CN">简体中文<\/span>/);
  });
});

describe('error words', () => {
  test('every error code the sidecar answers with has words in both languages (no generic fallback)', () => {
    const codes = new Set<string>();
    const scan = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) scan(path);
        else if (/\.tsx?$/.test(entry.name)) {
          const text = readFileSync(path, 'utf8');
          for (const m of text.matchAll(/(?:sendError\(ctx, \d+, |writeError\(req, res, \d+, |new FlowError\(\d+, |refuse\(\d+, )'([a-z_]+)'/g)) codes.add(m[1] as string);
        }
      }
    };
    scan(join(import.meta.dirname, '../../../src'));
    assert.ok(codes.size >= 30, `codes found: ${[...codes].join(' ')}`);
    for (const lang of ['en', 'zh-CN']) {
      const u = ui(lang);
      for (const code of codes) assert.notEqual(errorWords(u, 400, code).message, u.t.errorGeneric, `${lang}: no words for ${code}`);
    }
  });
});

describe('remembered browsers are named in the page language', () => {
  const browsers = [
    { id: 'a', label: 'Chrome on Windows', lastUsed: '2026-12-01', expires: '2026-12-31', current: true },
    { id: 'b', label: 'Unknown browser on Linux', lastUsed: '2026-12-01', expires: '2026-12-31', current: false },
    { id: 'c', label: 'Safari on unknown system', lastUsed: '2026-12-01', expires: '2026-12-31', current: false },
    { id: 'd', label: 'Unknown browser', lastUsed: '2026-12-01', expires: '2026-12-31', current: false },
  ];
  const render = (lang: string): string => renderPage(ui(lang), h(RememberedBrowsersSection, { csrf: 'c', browsers }));

  test('the stored English label is said in Chinese on the Chinese page, the button label too', () => {
    const zh = render('zh-CN');
    for (const english of ['Chrome on Windows', 'Unknown browser', 'unknown system', ' on ']) assert.ok(!zh.includes(english), `English "${english}" on the Chinese page`);
    assert.ok(zh.includes('Windows 上的 Chrome'), zh);
    assert.ok(zh.includes('Linux 上的浏览器'));
    assert.ok(zh.includes('<strong>Safari</strong>'));
    assert.ok(zh.includes('<strong>未知浏览器</strong>'));
    assert.ok(zh.includes(`aria-label="${ui('zh-CN').t.forgetBrowserLabel('Windows 上的 Chrome')}"`));
  });

  test('the English page says what it said', () => {
    const en = render('en');
    assert.ok(en.includes('<strong>Chrome on Windows</strong>'));
    assert.ok(en.includes('aria-label="Forget Chrome on Windows"'), en);
    assert.ok(en.includes('<strong>A browser on Linux</strong>'));
    assert.ok(en.includes('<strong>Unknown browser</strong>'));
  });
});
