import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pageUi, type Brand, type PageUi } from '../../../src/pages/page-ui.tsx';
import { renderVerifyPage } from '../../../src/pages/verify-page.tsx';
import { renderStepUpPage } from '../../../src/pages/step-up-page.tsx';
import { renderSecurityPage } from '../../../src/pages/security-page.tsx';
import { renderLoginPage } from '../../../src/pages/login-page.tsx';
import { renderDisablePage } from '../../../src/pages/security-disable-page.tsx';
import { renderRecoveryCodesPage } from '../../../src/pages/recovery-codes-page.tsx';
import { renderEnablePage } from '../../../src/pages/security-enable-page.tsx';
import { createFlash } from '../../../src/http/flash.ts';
import { isForgotPasswordUrl } from '../../../src/config/schema/primitives.ts';

/**
 * Issue 13 (part B) on the pages themselves: help and support on every code page, the recovery
 * code in a letter field and only for accounts with 2FA, where the code went, warnings in warning
 * style, the Login & Security status heading, the sign-in page's reset link; the signed flash that
 * carries a refused form's words across the redirect; and which reset URLs config accepts.
 */

const BRAND: Brand = { product: 'SmartPush', support: 'help@smartpush.example', logoUrl: null };
const ui = (lang = 'en', brand: Brand = BRAND): PageUi => pageUi(brand, { 'accept-language': lang }, '/_guard/x');
const text = (html: string): string => html.replace(/<[^>]*>/g, ' ').replace(/&amp;/g, '&').replace(/\s+/g, ' ');

describe('code pages', () => {
  test('every code page links its help and names the support contact, the authenticator app included', () => {
    const pages: Array<[string, string, RegExp]> = [
      ['verify totp', renderVerifyPage(ui(), { csrf: 'c', method: 'totp', returnTo: '/' }), /<a href="\/_guard\/help\/otp#app">Can’t use your app\?<\/a>/],
      ['verify sms', renderVerifyPage(ui(), { csrf: 'c', method: 'sms', destination: '+1 •••• ••89', returnTo: '/' }), /<a href="\/_guard\/help\/otp#sms">Didn’t receive a code\?<\/a>/],
      ['step-up totp', renderStepUpPage(ui(), { csrf: 'c', method: 'totp', destination: null, send: null, recovery: false, returnTo: '/' }), /Can’t use your app\?/],
      ['step-up email', renderStepUpPage(ui(), { csrf: 'c', method: 'email', destination: 'm•••@example.com', send: { method: 'email', destination: 'm•••@example.com', live: true, refused: null, resendAfter: 0, recovery: false }, recovery: false, returnTo: '/' }), /Didn’t receive a code\?/],
      ['disable totp', renderDisablePage(ui(), { csrf: 'c', view: { step: 'code', method: 'totp', destination: null } }), /Can’t use your app\?/],
      ['recovery totp', renderRecoveryCodesPage(ui(), { csrf: 'c', view: { step: 'code', method: 'totp', destination: null } }), /Can’t use your app\?/],
      ['enable identity code', renderEnablePage(ui(), { csrf: 'c', view: { step: 'code', channel: 'email', maskedEmail: 'm•••@example.com', phoneOnFile: false } }), /Didn’t receive a code\?/],
      ['enable confirm totp', renderEnablePage(ui(), { csrf: 'c', view: { step: 'confirm', method: 'totp', maskedEmail: 'm•••@example.com', phoneOnFile: false } }), /Can’t use your app\?/],
    ];
    for (const [name, html, link] of pages) {
      assert.match(html, link, name);
      assert.ok(text(html).includes('Contact support: help@smartpush.example'), `${name}: no support contact`);
    }
    const zh = renderVerifyPage(ui('zh-CN'), { csrf: 'c', method: 'totp', returnTo: '/' });
    assert.ok(text(zh).includes('无法使用验证器应用？') && text(zh).includes('help@smartpush.example'));
  });

  test('sign-in code pages say where the code went; the risk notice is a warning, not a success', () => {
    const html = renderVerifyPage(ui(), { csrf: 'c', method: 'email', destination: 'm•••@example.com', twoFactor: false, warning: ui().t.riskNotice, returnTo: '/' });
    assert.ok(text(html).includes('We sent a 6-digit code by email to m•••@example.com.'), text(html));
    assert.match(html, /<p class="warning" role="status">This sign-in looks different/);
    assert.doesNotMatch(html, /class="notice"/);
  });

  test('the recovery code has its own letter field, offered only to accounts with 2FA', () => {
    const withTwoFactor = renderVerifyPage(ui(), { csrf: 'c', method: 'sms', destination: '+1 •••• ••89', twoFactor: true, returnTo: '/' });
    assert.match(withTwoFactor, /<details class="recovery"><summary>Lost your device\? Use a recovery code<\/summary>/);
    assert.match(withTwoFactor, /<input id="recovery-code" name="code" type="text" inputmode="text" autocomplete="off"/);
    assert.match(withTwoFactor, /<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"/);
    const withoutTwoFactor = renderVerifyPage(ui(), { csrf: 'c', method: 'email', destination: 'm•••@example.com', twoFactor: false, returnTo: '/' });
    assert.doesNotMatch(text(withoutTwoFactor), /recovery code/i, 'no recovery codes for an account without 2FA');
    assert.doesNotMatch(withoutTwoFactor, /recovery-code/);
    // Step-up: a plain email code (no 2FA) offers no recovery code; the enrolled method's check does.
    assert.doesNotMatch(renderStepUpPage(ui(), { csrf: 'c', method: 'email', destination: 'm•••@example.com', send: { method: 'email', destination: 'm•••@example.com', live: true, refused: null, resendAfter: 0, recovery: false }, recovery: false, returnTo: '/' }), /recovery-code/);
    assert.match(renderStepUpPage(ui(), { csrf: 'c', method: 'email', destination: 'm•••@example.com', send: null, recovery: true, returnTo: '/' }), /id="recovery-code"/);
  });
});

describe('Login & Security and sign-in', () => {
  test('the status is a heading; turning off is a secondary action after new recovery codes; "2FA is off" is a warning', () => {
    const on = renderSecurityPage(ui(), { csrf: 'c', email: 'm@example.com', enabled: true, method: 'sms', destination: '+1 •••• ••89', recoveryCodesLeft: 7 });
    assert.match(on, /<h2 class="status" id="two-factor-status">Two-Factor Authentication Enabled<\/h2>/);
    assert.ok(text(on).includes('Verification method Text message (SMS) Codes go to +1 •••• ••89 Recovery codes left 7'), text(on));
    assert.match(on, /<a class="button secondary" href="\/_guard\/security\/disable">/);
    assert.doesNotMatch(on, /danger/);
    assert.ok(on.indexOf('Generate new recovery codes') < on.indexOf('Turn off two-factor authentication'));
    const off = renderSecurityPage(ui(), { csrf: 'c', email: 'm@example.com', enabled: false, method: null, destination: null, recoveryCodesLeft: null, warning: ui().t.noticeDisabled });
    assert.match(off, /<h2 class="status" id="two-factor-status">Two-Factor Authentication Disabled<\/h2>/);
    assert.match(off, /<p class="warning" role="status">Two-factor authentication is off\./);
  });

  test('the sign-in page links the configured reset page and names the support contact', () => {
    const html = renderLoginPage(ui('en', { ...BRAND, forgotPasswordUrl: '/password/reset' }), { csrf: 'c', returnTo: '/' });
    assert.match(html, /<a href="\/password\/reset">Forgot password\?<\/a>/);
    assert.ok(text(html).includes('Trouble signing in? Contact support: help@smartpush.example.'));
    assert.doesNotMatch(renderLoginPage(ui(), { csrf: 'c', returnTo: '/' }), /Forgot password/, 'no link without the setting');
  });

  test('login.forgot_password_url: a path on this site or an https URL, nothing else', () => {
    for (const good of ['/password/reset', '/', '/reset?from=guard', 'https://id.example.com/reset']) assert.ok(isForgotPasswordUrl(good), good);
    for (const bad of ['//evil.example/reset', '/\\evil.example', 'http://app.example/reset', 'javascript:alert(1)', 'https://user:pw@app.example/', 'reset', '/a b', 'https://', '/x\n']) {
      assert.equal(isForgotPasswordUrl(bad), false, bad);
    }
  });
});

describe('the flash of a refused form', () => {
  const flashes = createFlash(Buffer.alloc(32, 7));
  const sealed = flashes.seal('pre:nonce', '/_guard/verify', { status: 401, error: 'That code is not correct. 4 attempts left.' });

  test('opens for the same browser and page, with what was sealed', () => {
    assert.deepEqual(flashes.open('pre:nonce', '/_guard/verify', sealed), { status: 401, error: 'That code is not correct. 4 attempts left.', notice: undefined, email: undefined });
  });

  test('never for another browser, another page, another key, or altered words', () => {
    assert.equal(flashes.open('pre:other', '/_guard/verify', sealed), null, 'another browser');
    assert.equal(flashes.open('pre:nonce', '/_guard/login', sealed), null, 'another page');
    assert.equal(createFlash(Buffer.alloc(32, 8)).open('pre:nonce', '/_guard/verify', sealed), null, 'another key');
    const [, tag] = sealed.split('.');
    const forged = Buffer.from(JSON.stringify({ s: 200, e: 'Call 555-0100 to unlock your account.' })).toString('base64url');
    assert.equal(flashes.open('pre:nonce', '/_guard/verify', `${forged}.${tag}`), null, 'altered words');
    for (const junk of ['', 'abc', 'a.b.c', `${sealed}x`]) assert.equal(flashes.open('pre:nonce', '/_guard/verify', junk), null, junk);
  });
});
