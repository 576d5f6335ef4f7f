import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codeMessage, notificationMessage, type CodePurpose, type SecurityEvent } from '../../../src/channels/templates.tsx';

const PURPOSES: CodePurpose[] = ['login', 'enable', 'disable', 'step_up', 'identity', 'risk', 'recovery'];
const EVENTS: SecurityEvent[] = ['2fa_enabled', '2fa_disabled', '2fa_reset', 'destination_changed', 'recovery_codes_regenerated'];

test('the verification code text is the short SMS of the brief', () => {
  const message = codeMessage({ code: '123456', purpose: 'identity', minutes: 5, product: 'SmartPush' });
  assert.equal(message.text, 'SmartPush: 123456 is your verification code. It expires in 5 minutes. Never share it with anyone.');
  assert.equal(message.subject, 'Your SmartPush verification code');
  assert.equal(codeMessage({ code: '1', purpose: 'login', minutes: 1, product: 'P' }).text.includes('1 minute.'), true);
});

test('every code message fits one GSM-7 SMS and names product, code, validity and the warning', () => {
  for (const purpose of PURPOSES) {
    const { text, subject, html } = codeMessage({ code: '204816', purpose, minutes: 10, product: 'SmartPush' });
    assert.ok(text.length <= 160, `${purpose}: ${text.length} characters`);
    assert.match(text, /^[\x20-\x7e]+$/, `${purpose}: ASCII only`);
    assert.ok(text.startsWith('SmartPush: 204816 '), purpose);
    assert.ok(text.includes('expires in 10 minutes'), purpose);
    assert.ok(text.includes('Never share it'), purpose);
    assert.ok(subject.includes('SmartPush') && !subject.includes('204816'), `${purpose}: the subject (previews, lock screens) holds no code`);
    assert.ok(html.startsWith('<!doctype html>'));
    assert.ok(html.includes('204816') && html.includes('10 minutes') && /never share/i.test(html), purpose);
  }
});

test('HTML escapes every value and loads nothing external', () => {
  const evil = '<img src=https://evil.example/x onerror=alert(1)>';
  const code = codeMessage({ code: '<b>1</b>', purpose: 'login', minutes: 5, product: evil });
  assert.ok(!code.html.includes('<img'), code.html);
  assert.ok(code.html.includes('&lt;img'));
  assert.ok(!code.html.includes('<b>1</b>'));
  const note = notificationMessage({ event: '2fa_enabled', time: new Date(0), product: 'SmartPush', support: evil });
  assert.ok(!note.html.includes('<img'));
  assert.ok(note.html.includes('&lt;img'));
  const plain = [
    codeMessage({ code: '123456', purpose: 'login', minutes: 5, product: 'SmartPush' }).html,
    notificationMessage({ event: '2fa_reset', time: new Date(0), product: 'SmartPush', support: 'support@smartpush.example' }).html,
  ];
  for (const html of plain) {
    assert.doesNotMatch(html, /<(img|link|script|iframe)\b/i);
    assert.doesNotMatch(html, /(src|href)=/i);
    assert.doesNotMatch(html, /url\(/i);
  }
});

test('notifications say what happened, when, and whom to contact if it was not you', () => {
  const time = new Date(Date.UTC(2025, 2, 4, 5, 6, 7));
  for (const event of EVENTS) {
    const m = notificationMessage({ event, method: 'sms', time, product: 'SmartPush', support: 'support@smartpush.example' });
    assert.ok(m.subject.startsWith('SmartPush: '), event);
    for (const part of [m.text, m.html]) {
      assert.ok(part.includes('2025-03-04 05:06 UTC'), `${event}: time`);
      assert.ok(part.includes('support@smartpush.example'), `${event}: support`);
      assert.ok(/if it was not you/i.test(part), `${event}: warning`);
    }
  }
  const subjects = new Set(EVENTS.map((event) => notificationMessage({ event, time, product: 'P', support: 's' }).subject));
  assert.equal(subjects.size, EVENTS.length, 'each event has its own subject');
  assert.match(notificationMessage({ event: '2fa_enabled', method: 'totp', time, product: 'P', support: 's' }).text, /authenticator app/);
  assert.match(notificationMessage({ event: '2fa_disabled', time, product: 'P', support: 's' }).text, /turned off/);
  assert.match(notificationMessage({ event: 'recovery_codes_regenerated', time, product: 'P', support: 's' }).text, /old recovery codes no longer work/);
});
