import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CookieJar, csrfFrom, form, navigation, sameOriginForm, send, type Reply } from '../helpers/browser-like.ts';
import { DEMO_RISK } from '../helpers/step-up.ts';
import { lastCode, MERCHANT, PASSWORD } from '../helpers/two-factor.ts';
import { withStack, type Stack } from '../helpers/stack.ts';

/**
 * Post/Redirect/Get for the pages' forms, failures included (issue 13): a refused form answers 303
 * to a GET page, which shows the error once, with the status the form earned; the words come from
 * the signed flash of this browser, never from the URL or from another browser's cookie. And the
 * words fit the account: a sign-in code asked for only because the sign-in looked risky (no 2FA,
 * so no recovery codes) never mentions recovery codes.
 */

const textOf = (html: string): string => html.replace(/<[^>]*>/g, ' ').replace(/&amp;/g, '&').replace(/\s+/g, ' ');

class Browser {
  readonly jar = new CookieJar();
  constructor(readonly url: string) {}
  async get(path: string): Promise<Reply> {
    return this.jar.take(await send(`${this.url}${path}`, { headers: { ...navigation(), cookie: this.jar.header() } }));
  }
  async post(path: string, fields: Record<string, string>): Promise<Reply> {
    return this.jar.take(await send(`${this.url}${path}`, { method: 'POST', headers: { ...sameOriginForm(this.url), cookie: this.jar.header() }, body: form(fields) }));
  }
}

/** Signs in with the password; with the demo's risk levels a new browser is then asked for an email code. */
async function toCodePage(stack: Stack, browser: Browser): Promise<Reply> {
  const login = await browser.get('/_guard/login');
  const posted = await browser.post('/_guard/login', { _csrf: csrfFrom(login.text), return_to: '/dashboard', email: MERCHANT, password: PASSWORD });
  assert.equal(posted.status, 303);
  assert.match(posted.location ?? '', /^\/_guard\/verify\?/);
  return browser.get(posted.location as string);
}

describe('refused forms redirect to the page that shows why', () => {
  test('a risk-only email code: where it went, a warning, no recovery codes; a malformed code is shown once, after a 303', () =>
    withStack({ config: { risk: DEMO_RISK } }, async (stack) => {
      const browser = new Browser(stack.url);
      const page = await toCodePage(stack, browser);
      assert.equal(page.status, 200);
      const words = textOf(page.text);
      assert.ok(words.includes('We sent a 6-digit code by email to m•••@example.com.'), words);
      assert.match(page.text, /<p class="warning" role="status">This sign-in looks different/);
      assert.doesNotMatch(words, /recovery/i, 'an account without 2FA has no recovery codes');
      assert.match(page.text, /Didn’t receive a code\?/);

      const refused = await browser.post('/_guard/verify', { _csrf: csrfFrom(page.text), return_to: '/dashboard', action: 'verify', code: 'abc' });
      assert.equal(refused.status, 303);
      assert.match(refused.location ?? '', /^\/_guard\/verify\?return_to=%2Fdashboard$/);
      assert.doesNotMatch(refused.location ?? '', /digits|error/i, 'the words are not in the URL');
      const shown = await browser.get(refused.location as string);
      assert.equal(shown.status, 400);
      assert.match(shown.text, /role="alert" id="form-error">Enter the code as digits only\./);
      assert.doesNotMatch(textOf(shown.text), /recovery/i);
      // Reload: the same GET, the message gone (shown once), the code still usable.
      const reloaded = await browser.get(refused.location as string);
      assert.equal(reloaded.status, 200);
      assert.doesNotMatch(reloaded.text, /role="alert"/);
      const done = await browser.post('/_guard/verify', { _csrf: csrfFrom(reloaded.text), return_to: '/dashboard', action: 'verify', code: lastCode(stack.outboxFile, MERCHANT) });
      assert.equal(done.location, '/dashboard');
    }));

  test('no words from the URL, and none from another browser’s flash', () =>
    withStack({}, async (stack) => {
      const owner = new Browser(stack.url);
      const login = await owner.get('/_guard/login?error=Call%20us%20at%20555&notice=Hacked');
      assert.doesNotMatch(textOf(login.text), /Call us|Hacked/);
      const refused = await owner.post('/_guard/login', { _csrf: csrfFrom(login.text), return_to: '/', email: MERCHANT, password: 'wrong' });
      assert.equal(refused.status, 303);
      const flash = owner.jar.get('spg_flash');
      assert.ok(flash, 'the words travel in the spg_flash cookie');

      // The same cookie in another browser (another pre-login nonce) says nothing there.
      const other = new Browser(stack.url);
      await other.get('/_guard/login');
      const page = await send(`${stack.url}${refused.location as string}`, { headers: { ...navigation(), cookie: `${other.jar.header() as string}; spg_flash=${flash}` } });
      assert.equal(page.status, 200);
      assert.doesNotMatch(page.text, /not correct/);

      // In its own browser it shows, once.
      const shown = await owner.get(refused.location as string);
      assert.equal(shown.status, 401);
      assert.match(shown.text, /The email or password is not correct\./);
    }));

  test('the enable wizard: a wrong code goes back to its step with the error; reload shows the step without it', () =>
    withStack({}, async (stack) => {
      const browser = new Browser(stack.url);
      const login = await browser.get('/_guard/login');
      await browser.post('/_guard/login', { _csrf: csrfFrom(login.text), return_to: '/', email: MERCHANT, password: PASSWORD });
      let page = await browser.get('/_guard/security/enable');
      const next = async (fields: Record<string, string>): Promise<Reply> => {
        const reply = await browser.post('/_guard/security/enable', { _csrf: csrfFrom(page.text), ...fields });
        assert.equal(reply.status, 303, textOf(reply.text));
        return browser.get(reply.location as string);
      };
      page = await next({ step: 'password', password: PASSWORD });
      page = await next({ step: 'identity', channel: 'email', sms: '1' });
      const right = lastCode(stack.outboxFile, MERCHANT);
      const wrong = await browser.post('/_guard/security/enable', { _csrf: csrfFrom(page.text), step: 'code', channel: 'email', sms: '1', action: 'verify', code: right === '000000' ? '111111' : '000000' });
      assert.equal(wrong.status, 303);
      assert.equal(wrong.location, '/_guard/security/enable?step=code&channel=email&sms=1');
      page = await browser.get(wrong.location as string);
      assert.equal(page.status, 401);
      assert.match(textOf(page.text), /That code is not correct\./);
      assert.match(textOf(page.text), /Didn’t receive a code\? · Still stuck\? Contact support:/);
      page = await browser.get(wrong.location as string);
      assert.equal(page.status, 200);
      assert.doesNotMatch(page.text, /role="alert"/);
      page = await next({ step: 'code', channel: 'email', sms: '1', action: 'verify', code: right });
      assert.match(textOf(page.text), /Choose/);
    }));
});
