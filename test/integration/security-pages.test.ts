import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { totpCode, totpStep } from '../../src/factors/totp/algorithm.ts';
import { withStack, type Stack } from '../helpers/stack.ts';
import { CookieJar, csrfFrom, form, formSignIn, navigation, sameOriginForm, send, type Reply } from '../helpers/browser-like.ts';
import { outboxLines } from '../helpers/two-factor.ts';

/**
 * The Login & Security pages (DESIGN §3) driven like a browser without JavaScript: a cookie jar,
 * 303s followed by hand, the hidden `_csrf` field read from each page, codes read from the outbox
 * (sms/email) or computed from the displayed TOTP key.
 */

const MERCHANT = 'merchant@example.com';
const OWNER = 'owner@example.com';
const PASSWORD = 'smartpush-demo';
const MERCHANT_PHONE = '+15555550189';

// ---------------------------------------------------------------------------------------------
// A browser without JavaScript

class Browser {
  readonly jar = new CookieJar();
  constructor(readonly url: string) {}

  private absolute(location: string): string {
    return location.startsWith('http') ? location : `${this.url}${location}`;
  }

  async get(path: string): Promise<Reply> {
    return this.jar.take(await send(this.absolute(path), { headers: { ...navigation(), cookie: this.jar.header() } }));
  }

  /** A same-origin form POST; the reply is returned as is (303s are not followed). */
  async post(path: string, fields: Readonly<Record<string, string>>): Promise<Reply> {
    return this.jar.take(await send(this.absolute(path), { method: 'POST', headers: { ...sameOriginForm(this.url), cookie: this.jar.header() }, body: form(fields) }));
  }

  /**
   * A form that fails or is refused: the answer is a 303 back to a GET page (Post/Redirect/Get, so
   * Back and reload never resubmit it), which shows the error with the status the POST earned.
   * Returns that page, with the POST's Retry-After when it had one.
   */
  async postRefused(path: string, fields: Readonly<Record<string, string>>): Promise<Reply> {
    const reply = await this.post(path, fields);
    assert.equal(reply.status, 303, `POST ${path} answered ${reply.status}, not a redirect: ${textOf(reply.text).slice(0, 400)}`);
    assert.ok(reply.location?.startsWith('/_guard/'), `a refused form redirects to a sidecar page, not ${reply.location}`);
    const page = await this.get(reply.location as string);
    const retry = reply.headers['retry-after'];
    return retry === undefined ? page : { ...page, headers: { ...page.headers, 'retry-after': retry } };
  }

  /** POSTs, expects a 303 and follows it with a GET, like a browser. */
  async submitAndFollow(path: string, fields: Readonly<Record<string, string>>, expectedLocation?: RegExp): Promise<Reply> {
    const reply = await this.post(path, fields);
    assert.equal(reply.status, 303, `POST ${path} answered ${reply.status}: ${textOf(reply.text).slice(0, 400)}`);
    assert.ok(reply.location, 'a 303 without Location');
    if (expectedLocation) assert.match(reply.location, expectedLocation);
    const page = await this.get(reply.location);
    assert.equal(page.status, 200, `GET ${reply.location} answered ${page.status}`);
    return page;
  }

  async signIn(email = MERCHANT): Promise<void> {
    const reply = await formSignIn(this.url, this.jar, { email, password: PASSWORD });
    assert.equal(reply.status, 303);
    assert.equal(reply.location, '/dashboard');
  }
}

/** The visible text of a page, tags removed and entities decoded, whitespace collapsed. */
function textOf(html: string): string {
  return html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The opening tag of the element with this id. */
function tagWithId(html: string, id: string): string {
  const match = new RegExp(`<[a-z]+[^>]*\\bid="${id}"[^>]*>`).exec(html);
  assert.ok(match, `no element with id="${id}"`);
  return match[0];
}

function recoveryCodesOf(html: string): string[] {
  const list = /<ol class="codes"[^>]*>([\s\S]*?)<\/ol>/.exec(html);
  assert.ok(list?.[1], 'no list of recovery codes on the page');
  return [...list[1].matchAll(/<code>([^<]*)<\/code>/g)].map((m) => m[1] as string);
}

/** The error the page shows: a role="alert" element, named by the code field's aria-describedby. */
function assertFieldError(html: string, field: string, text: RegExp): void {
  const alert = /<p class="error" role="alert" id="([^"]+)">([^<]*)<\/p>/.exec(html);
  assert.ok(alert, 'no role="alert" error on the page');
  assert.match(alert[2] as string, text);
  const input = tagWithId(html, field);
  assert.match(input, new RegExp(`aria-describedby="[^"]*\\b${alert[1]}\\b`));
  assert.match(input, /aria-invalid="true"/);
}

// ---------------------------------------------------------------------------------------------
// Codes

interface OutboxEntry {
  channel: 'email' | 'sms';
  to: string;
  text: string;
  purpose: string;
}

function outbox(stack: Stack): OutboxEntry[] {
  return outboxLines<OutboxEntry>(stack.outboxFile);
}

function codesSentTo(stack: Stack, channel: 'email' | 'sms', to: string): string[] {
  return outbox(stack)
    .filter((m) => m.channel === channel && m.to === to && m.purpose === 'code')
    .map((m) => {
      const code = /\b(\d{6})\b/.exec(m.text)?.[1];
      assert.ok(code, `no code in ${m.text}`);
      return code;
    });
}

/** The newest code sent to `to`, which must be newer than the `before` codes already there. */
function newCode(stack: Stack, channel: 'email' | 'sms', to: string, before: number): string {
  const codes = codesSentTo(stack, channel, to);
  assert.equal(codes.length, before + 1, `expected a new ${channel} code to ${to}`);
  return codes[codes.length - 1] as string;
}

function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const out: number[] = [];
  let value = 0;
  let bits = 0;
  for (const char of text.replace(/\s+/g, '').replace(/=+$/, '').toUpperCase()) {
    const index = alphabet.indexOf(char);
    if (index === -1) throw new Error(`not base32: ${char}`);
    value = ((value << 5) | index) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** An authenticator app: a code of a time step near now that this test has not used yet (the server refuses replays). */
class Authenticator {
  private readonly used = new Set<number>();
  constructor(private readonly secret: Buffer) {}
  code(): string {
    const current = totpStep(Date.now());
    for (const step of [current, current + 1, current - 1]) {
      if (this.used.has(step)) continue;
      this.used.add(step);
      return totpCode(this.secret, step * 30_000);
    }
    throw new Error('no unused time step near now');
  }
}

const wrongCode = (right: string): string => String((Number(right) + 1) % 1_000_000).padStart(6, '0');

// ---------------------------------------------------------------------------------------------

describe('Login & Security pages', () => {
  test('the whole authenticator-app journey: enable, recovery codes, sign in again with a TOTP code, turn off', async () => {
    await withStack({}, async (stack) => {
      const browser = new Browser(stack.url);
      await browser.signIn();

      // Login & Security: 2FA off, the way to enable it, the support note.
      let page = await browser.get('/_guard/security');
      assert.equal(page.status, 200);
      let text = textOf(page.text);
      assert.match(text, /Login & Security/);
      assert.match(text, new RegExp(`Email ${MERCHANT}`));
      assert.match(text, /Two-Factor Authentication Disabled/);
      assert.match(page.text, /href="\/_guard\/security\/enable"[^>]*>\s*Enable two-factor authentication/);
      assert.doesNotMatch(text, /Turn off two-factor authentication/);
      assert.match(text, /To change the email or phone used for verification, or if you lost your device, contact support: your SmartPush administrator/);
      assert.match(String(page.headers['content-security-policy']), /img-src 'self' data:/);

      // 1. Password.
      page = await browser.get('/_guard/security/enable');
      assert.equal(page.status, 200);
      assert.match(tagWithId(page.text, 'password'), /autocomplete="current-password"/);
      assert.match(page.text, /<label for="password">/);
      page = await browser.submitAndFollow('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'password', password: PASSWORD }, /step=identity/);

      // 2. Where the identity code goes: email, or the phone on the merchant's profile.
      assert.match(page.text, /name="channel" value="email"/);
      assert.match(page.text, /name="channel" value="sms"/);
      assert.match(textOf(page.text), /m•••@example\.com/);
      const emailsBefore = codesSentTo(stack, 'email', MERCHANT).length;
      page = await browser.submitAndFollow('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'identity', channel: 'email', sms: '1' }, /step=code/);

      // 3. The identity code.
      const codeInput = tagWithId(page.text, 'code');
      assert.match(codeInput, /autocomplete="one-time-code"/);
      assert.match(codeInput, /inputmode="numeric"/);
      assert.match(page.text, /<label for="code">/);
      assert.match(textOf(page.text), /Send a new code/);
      // The wait until another code may be sent rides the redirect, for guard.js to count down.
      assert.match(page.text, /<button[^>]*value="resend"[^>]*data-resend-after="60"/);
      const identityCode = newCode(stack, 'email', MERCHANT, emailsBefore);
      page = await browser.submitAndFollow('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'code', channel: 'email', sms: '1', action: 'verify', code: identityCode }, /step=method/);

      // 4. The method cards; the phone on file means no phone field.
      text = textOf(page.text);
      assert.match(text, /Authenticator app Recommended/);
      assert.match(text, /works offline/);
      assert.match(text, /Text message \(SMS\)/);
      assert.match(text, /NIST .*restricted/);
      // Identity was proven by email: email is not offered as the second step (src/flows/same-channel.ts).
      assert.doesNotMatch(text, /anyone with access to your mailbox can sign in/);
      assert.doesNotMatch(page.text, /name="method" value="email"/);
      assert.doesNotMatch(page.text, /name="phone"/);
      const methodReply = await browser.post('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'method', method: 'totp', sms: '1' });

      // 5a. The QR code and key, in the POST's own answer (never behind a GET).
      assert.equal(methodReply.status, 200);
      assert.equal(methodReply.location, undefined);
      assert.equal(methodReply.headers['cache-control'], 'no-store');
      const qr = /<img src="data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)"[^>]*alt="[^"]+"/.exec(methodReply.text);
      assert.ok(qr?.[1], 'no QR code image');
      assert.match(Buffer.from(qr[1], 'base64').toString('utf8'), /<svg[\s\S]*<\/svg>/);
      assert.doesNotMatch(methodReply.text, /<svg/, 'the SVG must not be inlined as markup');
      const shownKey = /id="totp-key"[^>]*>([^<]*)</.exec(methodReply.text)?.[1]?.trim();
      assert.ok(shownKey, 'no key for manual entry');
      assert.match(shownKey, /^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$/, 'the key is shown in groups of four');
      const app = new Authenticator(base32Decode(shownKey));
      const later = await browser.get('/_guard/security/enable?step=confirm&method=totp');
      assert.equal(later.status, 200);
      assert.ok(!later.text.includes(shownKey), 'a GET shows the key again');

      // 6. Confirm: enabled, a new session, ten recovery codes shown once.
      const confirmed = await browser.post('/_guard/security/enable', { _csrf: csrfFrom(methodReply.text), step: 'confirm', method: 'totp', code: app.code() });
      assert.equal(confirmed.status, 200, textOf(confirmed.text));
      assert.ok(confirmed.setCookies.some((c) => c.startsWith('spg_session=')), 'the session was not rotated');
      text = textOf(confirmed.text);
      assert.match(text, /Two-Factor Authentication Enabled/);
      assert.match(text, /Save these codes now\. They are shown only once\./);
      const firstCodes = recoveryCodesOf(confirmed.text);
      assert.equal(firstCodes.length, 10);
      assert.equal(new Set(firstCodes).size, 10);
      for (const code of firstCodes) assert.match(code, /^[2-9a-z]{4}-[2-9a-z]{4}-[2-9a-z]{2}$/);
      assert.match(confirmed.text, /href="\/_guard\/security[^"]*"/);

      // Login & Security now: on, with the authenticator app, ten codes left.
      page = await browser.get('/_guard/security?done=enabled');
      assert.equal(page.status, 200);
      text = textOf(page.text);
      assert.match(text, /Two-factor authentication is on\./);
      assert.match(text, /Two-Factor Authentication Enabled/);
      assert.match(text, /Verification method Authenticator app/);
      assert.match(text, /Recovery codes left 10/);
      assert.match(text, /Turn off two-factor authentication/);
      assert.match(text, /Generate new recovery codes/);
      assert.doesNotMatch(text, /Enable two-factor authentication/);

      // New recovery codes: a TOTP code, then ten new codes shown once.
      page = await browser.submitAndFollow('/_guard/security/recovery-codes', { _csrf: csrfFrom(page.text), step: 'start' }, /step=code/);
      const regenerated = await browser.post('/_guard/security/recovery-codes', { _csrf: csrfFrom(page.text), step: 'code', action: 'confirm', code: app.code() });
      assert.equal(regenerated.status, 200, textOf(regenerated.text));
      const newCodes = recoveryCodesOf(regenerated.text);
      assert.equal(newCodes.length, 10);
      assert.equal(newCodes.filter((c) => firstCodes.includes(c)).length, 0);
      page = await browser.get('/_guard/security?done=codes');
      assert.match(textOf(page.text), /Recovery codes left 10/);

      // Sign out, then sign in again: password, then a TOTP code on /_guard/verify.
      const logoutPage = await browser.get('/_guard/logout');
      const loggedOut = await browser.post('/_guard/logout', { _csrf: csrfFrom(logoutPage.text) });
      assert.equal(loggedOut.status, 303);
      const anonymous = await browser.get('/_guard/security');
      assert.equal(anonymous.status, 303);
      const signIn = await formSignIn(stack.url, browser.jar, { email: MERCHANT, password: PASSWORD });
      assert.equal(signIn.status, 303);
      assert.match(signIn.location ?? '', /^\/_guard\/verify/);
      const verifyPage = await browser.get(signIn.location as string);
      assert.equal(verifyPage.status, 200);
      const verified = await browser.post('/_guard/verify', { _csrf: csrfFrom(verifyPage.text), return_to: '/dashboard', action: 'verify', code: app.code() });
      assert.equal(verified.status, 303, textOf(verified.text));
      assert.equal(verified.location, '/dashboard');
      page = await browser.get('/_guard/security');
      assert.equal(page.status, 200);
      assert.match(textOf(page.text), /Two-Factor Authentication Enabled/);

      // Turn off: password (with the warning), a code (an old recovery code fails, a new one works), confirm.
      page = await browser.get('/_guard/security/disable');
      assert.equal(page.status, 200);
      assert.match(textOf(page.text), /Without two-factor authentication, anyone who learns your password can sign in\./);
      page = await browser.submitAndFollow('/_guard/security/disable', { _csrf: csrfFrom(page.text), step: 'password', password: PASSWORD }, /step=code/);
      assert.match(textOf(page.text), /recovery code/);
      const stale = await browser.postRefused('/_guard/security/disable', { _csrf: csrfFrom(page.text), step: 'code', code: firstCodes[0] as string });
      assert.equal(stale.status, 401);
      assertFieldError(stale.text, 'code', /That code is not correct/);
      page = await browser.submitAndFollow('/_guard/security/disable', { _csrf: csrfFrom(stale.text), step: 'code', code: newCodes[0] as string }, /step=confirm/);
      assert.match(textOf(page.text), /Without two-factor authentication/);
      const off = await browser.post('/_guard/security/disable', { _csrf: csrfFrom(page.text), step: 'confirm' });
      assert.equal(off.status, 303);
      assert.equal(off.location, '/_guard/security?done=disabled');
      assert.ok(off.setCookies.some((c) => c.startsWith('spg_session=')), 'the session was not rotated');
      page = await browser.get(off.location);
      text = textOf(page.text);
      assert.match(text, /Two-factor authentication is off\./);
      assert.match(text, /Two-Factor Authentication Disabled/);
      assert.match(text, /Enable two-factor authentication/);
    });
  });

  test('the SMS variant: the code goes to the phone on the profile, which the page shows masked; turning off asks for a new SMS code', async () => {
    await withStack({}, async (stack) => {
      const browser = new Browser(stack.url);
      await browser.signIn();
      let page = await browser.get('/_guard/security/enable');
      // Signed in a moment ago: the password may be left empty (the flow decides).
      page = await browser.submitAndFollow('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'password', password: '' }, /step=identity&sms=1/);
      page = await browser.submitAndFollow('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'identity', channel: 'email', sms: '1' });
      const identityCode = newCode(stack, 'email', MERCHANT, 0);
      page = await browser.submitAndFollow('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'code', channel: 'email', sms: '1', action: 'verify', code: identityCode });
      assert.match(page.text, /name="method" value="sms"/);
      page = await browser.submitAndFollow('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'method', method: 'sms', sms: '1' }, /step=confirm&method=sms/);
      assert.match(textOf(page.text), /text message/);
      assert.match(textOf(page.text), /Send a new code/);
      const smsCode = newCode(stack, 'sms', MERCHANT_PHONE, 0);

      // Asking again at once: the resend cooldown, shown on this step's page.
      const resend = await browser.postRefused('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'confirm', method: 'sms', sms: '1', action: 'resend' });
      assert.equal(resend.status, 429);
      assert.ok(resend.headers['retry-after']);
      assertFieldError(resend.text, 'code', /A code was sent recently/);

      const done = await browser.post('/_guard/security/enable', { _csrf: csrfFrom(resend.text), step: 'confirm', method: 'sms', sms: '1', action: 'confirm', code: smsCode });
      assert.equal(done.status, 200, textOf(done.text));
      assert.match(textOf(done.text), /Two-Factor Authentication Enabled/);
      assert.equal(recoveryCodesOf(done.text).length, 10);
      page = await browser.get('/_guard/security');
      assert.match(textOf(page.text), /Verification method Text message \(SMS\) Codes go to \+1 •••• ••89/);

      page = await browser.get('/_guard/security/disable');
      page = await browser.submitAndFollow('/_guard/security/disable', { _csrf: csrfFrom(page.text), step: 'password', password: PASSWORD }, /step=code/);
      assert.match(textOf(page.text), /We sent a 6-digit code by text message to \+1 •••• ••89\./);
      const disableCode = newCode(stack, 'sms', MERCHANT_PHONE, 1);
      page = await browser.submitAndFollow('/_guard/security/disable', { _csrf: csrfFrom(page.text), step: 'code', code: disableCode }, /step=confirm/);
      const off = await browser.post('/_guard/security/disable', { _csrf: csrfFrom(page.text), step: 'confirm' });
      assert.equal(off.status, 303);
      page = await browser.get(off.location as string);
      assert.match(textOf(page.text), /Two-Factor Authentication Disabled/);
    });
  });

  test('an account without a phone gets only email for the identity code, and the phone field with the SMS card', async () => {
    await withStack({}, async (stack) => {
      const browser = new Browser(stack.url);
      await browser.signIn(OWNER);
      let page = await browser.get('/_guard/security/enable');
      page = await browser.submitAndFollow('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'password', password: PASSWORD }, /step=identity$/);
      assert.match(page.text, /name="channel" value="email"/);
      assert.doesNotMatch(page.text, /name="channel" value="sms"/);
      page = await browser.submitAndFollow('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'identity', channel: 'email' });
      const code = newCode(stack, 'email', OWNER, 0);
      page = await browser.submitAndFollow('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'code', channel: 'email', action: 'verify', code });
      assert.match(page.text, /name="method" value="sms"/);
      assert.match(tagWithId(page.text, 'phone'), /type="tel"/);
      assert.match(page.text, /<label for="phone">/);
      // SMS without a number: the flow's error, on this step's page, with the phone field.
      const missing = await browser.postRefused('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'method', method: 'sms', phone: '' });
      assert.equal(missing.status, 400);
      assertFieldError(missing.text, 'phone', /Enter the phone number/);
    });
  });

  test('a wrong code shows the error on the step where it happened, with status 401', async () => {
    await withStack({}, async (stack) => {
      const browser = new Browser(stack.url);
      await browser.signIn();
      let page = await browser.get('/_guard/security/enable');
      page = await browser.submitAndFollow('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'password', password: PASSWORD });
      page = await browser.submitAndFollow('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'identity', channel: 'email', sms: '1' });
      const right = newCode(stack, 'email', MERCHANT, 0);
      const wrong = await browser.postRefused('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'code', channel: 'email', sms: '1', action: 'verify', code: wrongCode(right) });
      assert.equal(wrong.status, 401);
      assertFieldError(wrong.text, 'code', /That code is not correct\. \d+ attempts? left\./);
      assert.match(textOf(wrong.text), /Enter the code we sent/);
      // The right code still works afterwards.
      await browser.submitAndFollow('/_guard/security/enable', { _csrf: csrfFrom(wrong.text), step: 'code', channel: 'email', sms: '1', action: 'verify', code: right }, /step=method/);

      // A wrong password on the first step: 401 on the password page.
      const fresh = new Browser(stack.url);
      await fresh.signIn();
      const start = await fresh.get('/_guard/security/enable');
      const badPassword = await fresh.postRefused('/_guard/security/enable', { _csrf: csrfFrom(start.text), step: 'password', password: 'not-the-password' });
      assert.equal(badPassword.status, 401);
      assertFieldError(badPassword.text, 'password', /The password is not correct/);
    });
  });

  test('skipping to ?step=confirm without the earlier steps shows the step-out-of-order message (409) and a way to start again', async () => {
    await withStack({}, async (stack) => {
      const browser = new Browser(stack.url);
      await browser.signIn();
      const page = await browser.get('/_guard/security/enable?step=confirm&method=totp');
      assert.equal(page.status, 200);
      const reply = await browser.postRefused('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'confirm', method: 'totp', code: '123456' });
      assert.equal(reply.status, 409);
      assert.match(reply.text, /role="alert"[^>]*>This step is not the next one\. Please start again from the beginning\./);
      assert.match(reply.text, /<a class="button" href="\/_guard\/security\/enable">\s*Start again/);
      // Same for the identity code and the method without a started flow, and for turning off.
      const method = await browser.postRefused('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'method', method: 'totp' });
      assert.equal(method.status, 409);
      assert.doesNotMatch(method.text, /totp-key/);
      const state = await send(`${stack.url}/_guard/api/2fa`, { headers: { accept: 'application/json', cookie: browser.jar.header() } });
      assert.deepEqual(state.json()['enabled'], false);
    });
  });

  test('a form POST without or with a wrong CSRF token answers 403 and changes nothing', async () => {
    await withStack({}, async (stack) => {
      const browser = new Browser(stack.url);
      await browser.signIn();
      const other = new Browser(stack.url);
      await other.signIn();
      const othersToken = csrfFrom((await other.get('/_guard/security/enable')).text);
      const page = await browser.get('/_guard/security/enable');
      const token = csrfFrom(page.text);
      assert.notEqual(othersToken, token);

      for (const fields of [{}, { _csrf: '' }, { _csrf: 'forged' }, { _csrf: othersToken }]) {
        const reply = await browser.postRefused('/_guard/security/enable', { ...fields, step: 'password', password: PASSWORD });
        assert.equal(reply.status, 403, JSON.stringify(fields));
        assert.match(textOf(reply.text), /This form has expired or did not come from this page, so nothing was changed/);
      }
      // No flow was started: the next step is out of order, and nothing was sent.
      const next = await browser.postRefused('/_guard/security/enable', { _csrf: token, step: 'identity', channel: 'email' });
      assert.equal(next.status, 409);
      assert.equal(codesSentTo(stack, 'email', MERCHANT).length, 0);

      // The same for the other forms.
      for (const path of ['/_guard/security/disable', '/_guard/security/recovery-codes']) {
        const reply = await browser.postRefused(path, { _csrf: othersToken, step: path.endsWith('disable') ? 'password' : 'start', password: PASSWORD });
        assert.equal(reply.status, 403, path);
      }
    });
  });

  test('anonymous visitors are sent to the login page; the help page is public and lists causes', async () => {
    await withStack({}, async (stack) => {
      for (const path of ['/_guard/security', '/_guard/security/enable', '/_guard/security/disable', '/_guard/security/recovery-codes']) {
        const reply = await send(`${stack.url}${path}`, { headers: navigation() });
        assert.equal(reply.status, 303, path);
        assert.equal(reply.location, `/_guard/login?return_to=${encodeURIComponent(path)}`);
      }
      const post = await send(`${stack.url}/_guard/security/enable`, { method: 'POST', headers: sameOriginForm(stack.url), body: form({ step: 'password', password: PASSWORD }) });
      assert.equal(post.status, 303);
      assert.match(post.location ?? '', /^\/_guard\/login/);

      const help = await send(`${stack.url}/_guard/help/otp`, { headers: navigation() });
      assert.equal(help.status, 200);
      const text = textOf(help.text);
      assert.match(text, /receive a code\?/);
      for (const cause of [/carrier/i, /phone number changed/i, /roaming|abroad/i, /short codes/i, /spam or junk/i, /corporate mail filters/i, /resend timer/i, /automatic date and time/i, /wrong account/i, /recovery codes?/i]) {
        assert.match(text, cause);
      }
      assert.match(text, /contact support: your SmartPush administrator/);
      assert.match(help.text, /href="\/_guard\/verify"/);
      assert.match(String(help.headers['content-security-policy']), /default-src 'none'/);
    });
  });
});
