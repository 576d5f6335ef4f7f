import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startStack } from '../helpers/stack.ts';
import { explainRequest } from '../../src/policy/explain.ts';
import { loadPolicy } from '../../src/policy/load.ts';
import type { UserState } from '../../src/policy/types.ts';
import {
  MASKED_MERCHANT_EMAIL,
  MASKED_MERCHANT_PHONE,
  MERCHANT,
  PASSWORD,
  MERCHANT_PHONE,
  codeMessages,
  enableSms,
  enableTotp,
  expectStatus,
  lastCode,
  totpAt,
  type ClockedStack,
  type Enrolled,
  type GuardClient,
} from '../helpers/two-factor.ts';
import {
  CAMPAIGN_EXPORT,
  CONTACT_EXPORT,
  DEMO_RISK,
  LEVELS,
  MINUTE,
  RISK_AT,
  TOTP_STEP,
  apiCall,
  assertExported,
  assertStepUpRedirect,
  assertStepUpRequired,
  browserCall,
  pageWithCsrf,
  postForm, submitForm,
  riskLogs,
  signedInClient,
  stepUpByEmail,
  stepUpStart,
  stepUpUrlFor,
  stepUpVerify,
  withRiskStack,
  type Level,
} from '../helpers/step-up.ts';

/**
 * Step-up for sensitive operations (DESIGN §3, §5) against a real sidecar in front of the demo
 * app and the demo policy (contact and campaign exports: without 2FA an email code at every risk
 * level; with 2FA low and medium pass, high asks for a fresh code of the user's own method; fresh
 * for 10 minutes; the invitation to enable 2FA afterwards). Time moves on a ManualClock.
 */

const CONTACT_PATH = '/api/contacts/export?rows=2';
const DONE_URL = (_target: string): string => '/_guard/step-up/done';

/** The step-up result page: it says it worked, continues to the operation by itself, and links back. */
function assertDonePage(html: string, target: string): void {
  assert.match(html, /Verified/, 'the page says it worked');
  const escaped = target.replace(/&/g, '&amp;');
  assert.ok(html.includes(`<meta http-equiv="refresh" content="0;url=${escaped}"`), `the page continues to ${target} by itself: ${html.slice(0, 600)}`);
  assert.ok(html.includes(`href="${escaped}"`), 'and links to it');
  assert.match(html, /id="back"/, 'and back to where the merchant was');
}
/** Past the resend cooldown (60 s) of the step-up codes of one session. */
const PAST_COOLDOWN = MINUTE + 1000;

/** Every gate assessment of `category` was at `level` (the gate logs only medium and high ones). */
function assertGateLevel(s: ClockedStack, category: string, level: Level, what: string): void {
  const lines = riskLogs(s, category);
  if (level === 'low') {
    assert.deepEqual(lines, [], `${what}: the gate assessed the export above low: ${JSON.stringify(lines)}`);
    return;
  }
  assert.ok(lines.length > 0, `${what}: the gate logged no ${level} assessment`);
  assert.deepEqual([...new Set(lines.map((l) => l['level']))], [level], `${what}: levels ${JSON.stringify(lines.map((l) => l['level']))}`);
}

async function signedInWithTotp(s: ClockedStack): Promise<{ client: GuardClient; enrolled: Enrolled }> {
  const client = await signedInClient(s);
  const enrolled = await enableTotp(client, s.enroll);
  const status = expectStatus(await client.status(), 200, '2fa status');
  assert.equal(status.body['enabled'], true);
  return { client, enrolled };
}

/** The next TOTP step's code (the enrollment used the current one). */
function nextTotp(s: ClockedStack, enrolled: Enrolled): string {
  s.clock.advance(TOTP_STEP);
  return totpAt(enrolled.secret, s.clock.now());
}

// ---------------------------------------------------------------------------------------------

describe('the sensitive-operation matrix: 2FA off', () => {
  for (const level of LEVELS) {
    test(`risk ${level}: an email code is asked (API 401 step_up_required, method email; HTML 303 to the step-up page); the code lets the export through`, () =>
      withRiskStack(RISK_AT[level], async (s) => {
        const client = await signedInClient(s);
        assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'email', 'API client');
        assertStepUpRedirect(await browserCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'browser');
        assertStepUpRequired(await apiCall(client, CAMPAIGN_EXPORT), CAMPAIGN_EXPORT, 'email', 'campaign export (API)');
        assertStepUpRedirect(await browserCall(client, CAMPAIGN_EXPORT), CAMPAIGN_EXPORT, 'campaign export (browser)');
        assertGateLevel(s, 'contact-export', level, 'contact export');
        assertGateLevel(s, 'campaign-export', level, 'campaign export');

        assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'email', 'the latest requirement is the contact export');
        const verified = await stepUpByEmail(s, client);
        assert.equal(verified.body['category'], 'contact-export');
        assertExported(await apiCall(client, CONTACT_EXPORT), 'API retry after the code');
        assertExported(await browserCall(client, CONTACT_EXPORT), 'browser retry after the code');
      }));
  }
});

describe('API or browser', () => {
  test('X-Requested-With makes a browser-like request an API client (401 JSON); HEAD is decided as GET', () =>
    withRiskStack(RISK_AT.low, async (s) => {
      const client = await signedInClient(s);
      const xhr = await client.request(CONTACT_EXPORT, { headers: { accept: 'text/html,*/*', 'x-requested-with': 'XMLHttpRequest' } });
      assertStepUpRequired(xhr, CONTACT_EXPORT, 'email', 'XHR');
      const head = await client.request(CONTACT_EXPORT, { method: 'HEAD', headers: { accept: 'text/html' } });
      assert.equal(head.status, 303, 'HEAD of a sensitive export');
      assert.equal(head.headers.location, stepUpUrlFor(CONTACT_EXPORT));
      const anonymous = await apiCall(s.client(), CONTACT_EXPORT);
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.body['error'], 'login_required', 'no session: sign in first, not a step-up');
    }));
});

describe('the sensitive-operation matrix: 2FA on (TOTP)', () => {
  for (const level of LEVELS) {
    const expected = level === 'high' ? 'a fresh TOTP code (method totp)' : 'pass';
    test(`risk ${level}: ${expected}`, () =>
      withRiskStack(RISK_AT[level], async (s) => {
        const { client, enrolled } = await signedInWithTotp(s);
        if (level !== 'high') {
          assertExported(await apiCall(client, CONTACT_EXPORT), 'API client');
          assertExported(await browserCall(client, CONTACT_EXPORT), 'browser');
          assertExported(await apiCall(client, CAMPAIGN_EXPORT), 'campaign export');
          assertGateLevel(s, 'contact-export', level, 'contact export');
          return;
        }
        assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'totp', 'API client');
        assertStepUpRedirect(await browserCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'browser');
        assertGateLevel(s, 'contact-export', 'high', 'contact export');

        const start = expectStatus(await stepUpStart(client), 200, 'step-up/start');
        assert.deepEqual(start.body, { status: 'code_required', method: 'totp', destination: null }, 'nothing is sent for an authenticator app');
        const emails = codeMessages(s.stack.outboxFile).length;
        const verified = expectStatus(await stepUpVerify(client, nextTotp(s, enrolled)), 200, 'step-up/verify');
        assert.equal(verified.body['status'], 'verified');
        assert.equal(verified.body['nudge_enable_2fa'], false, 'a user with 2FA is never invited to enable it');
        assert.equal(codeMessages(s.stack.outboxFile).length, emails, 'no code was sent');
        assertExported(await apiCall(client, CONTACT_EXPORT), 'retry after the TOTP code');
      }));
  }

  test('risk high, SMS user: method sms; start sends a text message to the phone on file; its code lets the export through', () =>
    withRiskStack(RISK_AT.high, async (s) => {
      const client = await signedInClient(s);
      await enableSms(client, s.enroll);
      assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'sms', 'API client');
      assertStepUpRedirect(await browserCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'browser');

      const smsBefore = codeMessages(s.stack.outboxFile, MERCHANT_PHONE).length;
      const start = expectStatus(await stepUpStart(client), 200, 'step-up/start');
      assert.equal(start.body['status'], 'code_sent');
      assert.equal(start.body['method'], 'sms');
      assert.equal(start.body['destination'], MASKED_MERCHANT_PHONE);
      const texts = codeMessages(s.stack.outboxFile, MERCHANT_PHONE);
      assert.equal(texts.length, smsBefore + 1, 'one text message');
      assert.equal(texts[texts.length - 1]?.channel, 'sms');

      const verified = expectStatus(await stepUpVerify(client, lastCode(s.stack.outboxFile, MERCHANT_PHONE)), 200, 'step-up/verify');
      assert.equal(verified.body['status'], 'verified');
      assert.equal(verified.body['nudge_enable_2fa'], false);
      assertExported(await apiCall(client, CONTACT_EXPORT), 'retry after the SMS code');
    }));

  test('TOTP step-up accepts a recovery code (once)', () =>
    withRiskStack(RISK_AT.high, async (s) => {
      const { client, enrolled } = await signedInWithTotp(s);
      assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'totp', 'before');
      const recovery = enrolled.recoveryCodes[0] as string;
      const verified = expectStatus(await stepUpVerify(client, recovery), 200, 'step-up with a recovery code');
      assert.equal(verified.body['status'], 'verified');
      assertExported(await apiCall(client, CONTACT_EXPORT), 'after the recovery code');
      assert.equal((await client.status()).body['recovery_codes_left'], 9, 'the recovery code is used up');

      assertStepUpRequired(await apiCall(client, CAMPAIGN_EXPORT), CAMPAIGN_EXPORT, 'totp', 'campaign export');
      const again = await stepUpVerify(client, recovery);
      assert.equal(again.status, 401, `a used recovery code does not verify again: ${again.text}`);
      assert.equal(again.body['error'], 'invalid_code');
    }));
});

describe('freshness, category and session binding', () => {
  test('after start + verify the export passes; within 10 minutes it still does; 11 minutes after the verification it needs a step-up again', () =>
    withRiskStack(RISK_AT.low, async (s) => {
      const client = await signedInClient(s);
      assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'email', 'before');
      const start = expectStatus(await stepUpStart(client), 200, 'step-up/start');
      assert.equal(start.body['status'], 'code_sent');
      assert.equal(start.body['method'], 'email');
      assert.equal(start.body['destination'], MASKED_MERCHANT_EMAIL);
      assert.equal(typeof start.body['resend_after'], 'number');
      const mails = codeMessages(s.stack.outboxFile, MERCHANT);
      assert.equal(mails[mails.length - 1]?.channel, 'email');

      const verifiedAt = s.clock.now();
      const verified = expectStatus(await stepUpVerify(client, lastCode(s.stack.outboxFile, MERCHANT)), 200, 'step-up/verify');
      assert.equal(verified.body['status'], 'verified');
      assert.equal(verified.body['valid_until'], new Date(verifiedAt + 10 * MINUTE).toISOString(), 'fresh for the rule’s 10 minutes');
      assert.equal(verified.body['category'], 'contact-export');
      assert.equal(verified.body['nudge_enable_2fa'], true, 'a user without 2FA is invited to enable it');

      assertExported(await apiCall(client, CONTACT_EXPORT), 'right after');
      s.clock.advance(5 * MINUTE);
      assertExported(await apiCall(client, CONTACT_EXPORT), '5 minutes later');
      s.clock.advance(4 * MINUTE);
      assertExported(await browserCall(client, CONTACT_EXPORT), '9 minutes later (browser)');
      s.clock.advance(2 * MINUTE);
      assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'email', '11 minutes later');
      assertStepUpRedirect(await browserCall(client, CONTACT_EXPORT), CONTACT_EXPORT, '11 minutes later (browser)');
    }));

  test('a verification for contact-export does not cover campaign-export (category binding)', () =>
    withRiskStack(RISK_AT.low, async (s) => {
      const client = await signedInClient(s);
      assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'email', 'contact export');
      await stepUpByEmail(s, client);
      assertExported(await apiCall(client, CONTACT_EXPORT), 'contact export after its step-up');

      assertStepUpRequired(await apiCall(client, CAMPAIGN_EXPORT), CAMPAIGN_EXPORT, 'email', 'campaign export');
      assertStepUpRedirect(await browserCall(client, CAMPAIGN_EXPORT), CAMPAIGN_EXPORT, 'campaign export (browser)');
      s.clock.advance(PAST_COOLDOWN);
      const verified = await stepUpByEmail(s, client);
      assert.equal(verified.body['category'], 'campaign-export');
      assertExported(await apiCall(client, CAMPAIGN_EXPORT), 'campaign export after its own step-up');
      assertExported(await apiCall(client, '/api/campaigns/8/export?rows=2'), 'another campaign: same category');
      assertExported(await apiCall(client, CONTACT_EXPORT), 'contact export still fresh');
    }));

  test('another session of the same user does not get the freshness (session binding); a second tab of the same session does', () =>
    withRiskStack(RISK_AT.low, async (s) => {
      const first = await signedInClient(s);
      assertStepUpRequired(await apiCall(first, CONTACT_EXPORT), CONTACT_EXPORT, 'email', 'first session');
      await stepUpByEmail(s, first);
      assertExported(await apiCall(first, CONTACT_EXPORT), 'first session after its step-up');

      const tab = first.clone();
      assertExported(await apiCall(tab, CONTACT_EXPORT), 'a second tab of the same session');

      const second = await signedInClient(s);
      assertStepUpRequired(await apiCall(second, CONTACT_EXPORT), CONTACT_EXPORT, 'email', 'second session');
      assertStepUpRedirect(await browserCall(second, CONTACT_EXPORT), CONTACT_EXPORT, 'second session (browser)');
      assertExported(await apiCall(first, CONTACT_EXPORT), 'the first session keeps its freshness');

      // A code sent for one session's step-up does not verify another session's.
      const third = await signedInClient(s);
      assertStepUpRequired(await apiCall(third, CONTACT_EXPORT), CONTACT_EXPORT, 'email', 'third session');
      s.clock.advance(PAST_COOLDOWN);
      expectStatus(await stepUpStart(second), 200, 'second session: start');
      const secondsCode = lastCode(s.stack.outboxFile, MERCHANT);
      const foreign = await stepUpVerify(third, secondsCode);
      assert.notEqual(foreign.status, 200, `another session's code: ${foreign.text}`);
      assertStepUpRequired(await apiCall(third, CONTACT_EXPORT), CONTACT_EXPORT, 'email', 'third session: still not verified');
      const own = expectStatus(await stepUpVerify(second, secondsCode), 200, 'the code in its own session');
      assert.equal(own.body['status'], 'verified');
      assertExported(await apiCall(second, CONTACT_EXPORT), 'second session after its own step-up');
    }));

  test('a step-up for another category right after a completed one can send its code (the used code’s resend cooldown does not block a new requirement)', () =>
    withRiskStack(RISK_AT.low, async (s) => {
      const client = await signedInClient(s);
      assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'email', 'contact export');
      await stepUpByEmail(s, client);
      assertExported(await apiCall(client, CONTACT_EXPORT), 'contact export');
      assertStepUpRequired(await apiCall(client, CAMPAIGN_EXPORT), CAMPAIGN_EXPORT, 'email', 'campaign export right after');
      const start = await stepUpStart(client);
      assert.equal(start.status, 200, `a new step-up, not a resend: ${start.text}`);
      assert.equal(start.body['status'], 'code_sent');
    }));

  test('a POST export is simply re-submitted after the verification and passes (bodies are not stored)', () =>
    withRiskStack(RISK_AT.low, async (s) => {
      const client = await signedInClient(s);
      const body = 'columns=email&note=quarterly';
      assertStepUpRequired(await apiCall(client, CONTACT_PATH, 'POST', body), CONTACT_PATH, 'email', 'POST before');
      await stepUpByEmail(s, client);
      assertExported(await apiCall(client, CONTACT_PATH, 'POST', body), 'POST re-submitted');
      assertExported(await apiCall(client, CONTACT_PATH), 'GET of the same category');
    }));
});

describe('the step-up API', () => {
  test('without a pending requirement: start and verify answer 409 no_step_up (also after a completed step-up)', () =>
    withRiskStack(RISK_AT.low, async (s) => {
      const client = await signedInClient(s);
      const start = await stepUpStart(client);
      assert.equal(start.status, 409, start.text);
      assert.equal(start.body['error'], 'no_step_up');
      const verify = await stepUpVerify(client, '123456');
      assert.equal(verify.status, 409, verify.text);
      const noCode = await client.post('/_guard/api/step-up/verify', {});
      assert.equal(noCode.status, 400, noCode.text);
      assert.equal(noCode.body['error'], 'invalid_code_format');
      assert.equal(verify.body['error'], 'no_step_up');
      assert.equal(codeMessages(s.stack.outboxFile, MERCHANT).length, 0, 'nothing was sent');

      assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'email', 'export');
      await stepUpByEmail(s, client);
      const code = lastCode(s.stack.outboxFile, MERCHANT);
      const replay = await stepUpVerify(client, code);
      assert.equal(replay.status, 409, `the requirement is gone once verified: ${replay.text}`);
      assert.equal(replay.body['error'], 'no_step_up');
      assert.equal((await stepUpStart(client)).status, 409);
    }));

  test('without a session the step-up API answers 401 login_required', () =>
    withRiskStack(RISK_AT.low, async (s) => {
      const anonymous = s.client();
      for (const reply of [await stepUpStart(anonymous), await stepUpVerify(anonymous, '123456')]) {
        assert.equal(reply.status, 401, reply.text);
        assert.equal(reply.body['error'], 'login_required');
      }
    }));

  test('a wrong code: 401 invalid_code with attempts_left, the export stays refused; then the right code works', () =>
    withRiskStack(RISK_AT.low, async (s) => {
      const client = await signedInClient(s);
      assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'email', 'before');
      expectStatus(await stepUpStart(client), 200, 'start');
      const right = lastCode(s.stack.outboxFile, MERCHANT);
      const wrong = await stepUpVerify(client, right === '000000' ? '111111' : '000000');
      assert.equal(wrong.status, 401, wrong.text);
      assert.equal(wrong.body['error'], 'invalid_code');
      const left = wrong.body['attempts_left'];
      assert.ok(typeof left === 'number' && Number.isInteger(left) && left > 0, `attempts_left: ${String(left)}`);
      assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'email', 'after a wrong code');

      const verified = expectStatus(await stepUpVerify(client, right), 200, 'the right code');
      assert.equal(verified.body['status'], 'verified');
      assertExported(await apiCall(client, CONTACT_EXPORT), 'after the right code');
    }));
});

/** Every answer to the step-up form is a 303 to the step-up page (Post/Redirect/Get); this follows it. */
async function followStepUp(client: Parameters<typeof postForm>[0], reply: Awaited<ReturnType<typeof postForm>>): Promise<Awaited<ReturnType<typeof postForm>>> {
  assert.equal(reply.status, 303, reply.text.slice(0, 300));
  const location = String(reply.headers.location);
  assert.match(location, /^\/_guard\/step-up\?return_to=/);
  return client.request(location, { headers: { accept: 'text/html' } });
}

describe('the step-up page and the invitation to enable 2FA', () => {
  test('HTML flow without 2FA: send → verify → 303 to the result page, which continues the export and only then invites; "Not now" → back, remembered for the next step-up', () =>
    withRiskStack(RISK_AT.low, async (s) => {
      const client = await signedInClient(s);
      const redirect = await browserCall(client, CONTACT_EXPORT);
      assertStepUpRedirect(redirect, CONTACT_EXPORT, 'browser');

      const { page, csrf } = await pageWithCsrf(client, String(redirect.headers.location));
      assert.match(page.text, /Confirm it/);
      assert.ok(page.text.includes(MASKED_MERCHANT_EMAIL), 'the page names the masked address');
      assert.equal(codeMessages(s.stack.outboxFile, MERCHANT).length, 0, 'showing the page sends nothing');

      const sent = await followStepUp(client, await postForm(client, '/_guard/step-up', { _csrf: csrf, action: 'send', return_to: CONTACT_EXPORT }));
      assert.equal(sent.status, 200, sent.text.slice(0, 300));
      assert.match(sent.text, /name="code"/, 'the code field is shown once a code was sent');
      assert.equal(codeMessages(s.stack.outboxFile, MERCHANT).length, 1, 'one email code');

      const verified = await postForm(client, '/_guard/step-up', { _csrf: csrf, action: 'verify', code: lastCode(s.stack.outboxFile, MERCHANT), return_to: CONTACT_EXPORT });
      assert.equal(verified.status, 303, verified.text.slice(0, 300));
      const done = String(verified.headers.location);
      assert.ok(done.startsWith(DONE_URL(CONTACT_EXPORT)), `on to the result page: ${done}`);

      const nudge = await pageWithCsrf(client, done);
      assertDonePage(nudge.page.text, CONTACT_EXPORT);
      assert.match(nudge.page.text, /two-factor authentication/i);
      assert.ok(nudge.page.text.indexOf('id="step-up-done"') < nudge.page.text.indexOf('id="nudge-heading"'), 'the result comes first, the invitation after it');
      assert.match(nudge.page.text, /href="\/_guard\/security\/enable\?return_to=%2Fdashboard"/, '"Enable now" comes back to where the merchant was (no Referer: the landing page)');
      assertExported(await browserCall(client, CONTACT_EXPORT), 'the export the result page continues to, before any answer to the invitation');
      const notNow = await postForm(client, '/_guard/step-up/nudge', { _csrf: nudge.csrf, return_to: '/dashboard' });
      assert.equal(notNow.status, 303, notNow.text.slice(0, 300));
      assert.equal(notNow.headers.location, '/dashboard', 'back to where the merchant was');
      const offsite = await postForm(client, '/_guard/step-up/nudge', { _csrf: nudge.csrf, return_to: 'https://evil.example/' });
      assert.equal(offsite.status, 303);
      assert.ok(String(offsite.headers.location).startsWith('/') && !String(offsite.headers.location).startsWith('//'), `no open redirect: ${String(offsite.headers.location)}`);

      // The next step-up (another category) does not invite again.
      assertStepUpRequired(await apiCall(client, CAMPAIGN_EXPORT), CAMPAIGN_EXPORT, 'email', 'campaign export');
      s.clock.advance(PAST_COOLDOWN);
      const next = await stepUpByEmail(s, client);
      assert.equal(next.body['nudge_enable_2fa'], false, '"Not now" is remembered');

      // Across sessions too, and the HTML flow then goes straight back to the export.
      const other = await signedInClient(s);
      assertStepUpRedirect(await browserCall(other, CONTACT_EXPORT), CONTACT_EXPORT, 'other session');
      const otherPage = await pageWithCsrf(other, stepUpUrlFor(CONTACT_EXPORT));
      expectStatus(await postForm(other, '/_guard/step-up', { _csrf: otherPage.csrf, action: 'send', return_to: CONTACT_EXPORT }), 303, 'send');
      const back = await postForm(other, '/_guard/step-up', { _csrf: otherPage.csrf, action: 'verify', code: lastCode(s.stack.outboxFile, MERCHANT), return_to: CONTACT_EXPORT });
      assert.equal(back.status, 303, back.text.slice(0, 300));
      assert.ok(String(back.headers.location).startsWith(DONE_URL(CONTACT_EXPORT)), String(back.headers.location));
      const otherDone = await browserCall(other, String(back.headers.location));
      assertDonePage(otherDone.text, CONTACT_EXPORT);
      assert.doesNotMatch(otherDone.text, /nudge-heading/, 'no invitation after "Not now"');
    }));

  test('the result page links back to the page the export was asked from (same-origin Referer only); a POST operation is asked again, not replayed', () =>
    withRiskStack(RISK_AT.low, async (s) => {
      const client = await signedInClient(s);
      const fromCampaigns = await client.request(CONTACT_EXPORT, { headers: { accept: 'text/html', referer: `${s.stack.url}/campaigns?tab=2` } });
      assertStepUpRedirect(fromCampaigns, CONTACT_EXPORT, 'browser');
      const { csrf } = await pageWithCsrf(client, stepUpUrlFor(CONTACT_EXPORT));
      expectStatus(await submitForm(client, '/_guard/step-up', { _csrf: csrf, action: 'send', return_to: CONTACT_EXPORT }), 200, 'send');
      const verified = await postForm(client, '/_guard/step-up', { _csrf: csrf, action: 'verify', code: lastCode(s.stack.outboxFile, MERCHANT), return_to: CONTACT_EXPORT });
      const done = await browserCall(client, String(verified.headers.location));
      assert.match(done.text, /<a href="\/campaigns\?tab=2" id="back">/, 'back to the page the export was asked from');
      assert.match(done.text, /enable\?return_to=%2Fcampaigns%3Ftab%3D2/, '"Enable now" returns there too');

      // Another site's Referer is never a way back; a POST export is not continued by a GET.
      const other = await signedInClient(s);
      const posted = await other.request(CAMPAIGN_EXPORT, { method: 'POST', headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', referer: 'https://evil.example/campaigns' }, body: 'x=1' });
      assertStepUpRedirect(posted, CAMPAIGN_EXPORT, 'POST export');
      const page = await pageWithCsrf(other, stepUpUrlFor(CAMPAIGN_EXPORT));
      s.clock.advance(PAST_COOLDOWN);
      expectStatus(await submitForm(other, '/_guard/step-up', { _csrf: page.csrf, action: 'send', return_to: CAMPAIGN_EXPORT }), 200, 'send');
      const ok = await postForm(other, '/_guard/step-up', { _csrf: page.csrf, action: 'verify', code: lastCode(s.stack.outboxFile, MERCHANT), return_to: CAMPAIGN_EXPORT });
      const result = await browserCall(other, String(ok.headers.location));
      assert.doesNotMatch(result.text, /http-equiv="refresh"/, 'a POST is not replayed as a GET');
      assert.match(result.text, /Send what you were doing again/);
      assert.match(result.text, /<a href="\/dashboard" id="back">/, 'another site is never the way back');
    }));

  test('"Enable now" on the result page comes back to where the merchant was once 2FA is on', () =>
    withRiskStack(RISK_AT.low, async (s) => {
      const client = await signedInClient(s);
      assertStepUpRedirect(await client.request(CONTACT_EXPORT, { headers: { accept: 'text/html', referer: `${s.stack.url}/campaigns?tab=2` } }), CONTACT_EXPORT, 'browser');
      const { csrf } = await pageWithCsrf(client, stepUpUrlFor(CONTACT_EXPORT));
      expectStatus(await submitForm(client, '/_guard/step-up', { _csrf: csrf, action: 'send', return_to: CONTACT_EXPORT }), 200, 'send');
      const verified = await postForm(client, '/_guard/step-up', { _csrf: csrf, action: 'verify', code: lastCode(s.stack.outboxFile, MERCHANT), return_to: CONTACT_EXPORT });
      const done = await browserCall(client, String(verified.headers.location));
      const enableNow = /href="(\/_guard\/security\/enable\?return_to=[^"]+)"/.exec(done.text)?.[1];
      assert.ok(enableNow, 'the invitation links to enabling');
      const start = await pageWithCsrf(client, enableNow.replace(/&amp;/g, '&'));
      assert.match(start.page.text, /name="return_to" value="\/campaigns\?tab=2"/, 'the password form carries where the merchant was (a GET stores nothing)');
      const password = await postForm(client, '/_guard/security/enable', { _csrf: start.csrf, step: 'password', password: PASSWORD, return_to: '/campaigns?tab=2' });
      assert.equal(password.status, 303, password.text.slice(0, 300));
      // The middle steps over the API (the same flow of the same session), the last one as the page.
      s.clock.advance(PAST_COOLDOWN);
      // Identity by text message: the address that gets the email codes cannot also prove who this is.
      expectStatus(await client.enableIdentity('sms'), 200, 'enable/identity');
      expectStatus(await client.enableIdentityVerify(lastCode(s.stack.outboxFile, MERCHANT_PHONE)), 200, 'enable/identity/verify');
      expectStatus(await client.enableMethod('email'), 200, 'enable/method');
      const page = await pageWithCsrf(client, '/_guard/security/enable?step=confirm&method=email');
      const finished = await postForm(client, '/_guard/security/enable', { _csrf: page.csrf, step: 'confirm', method: 'email', action: 'confirm', code: lastCode(s.stack.outboxFile, MERCHANT) });
      assert.equal(finished.status, 200, finished.text.slice(0, 300));
      assert.match(finished.text, /<a class="button" href="\/campaigns\?tab=2" id="enable-back">/, 'back to where the merchant was, once the codes are saved');
    }));

  test('the result page shows only a step-up this session finished: a crafted link cannot make it say "Verified"', () =>
    withRiskStack(RISK_AT.low, async (s) => {
      const client = await signedInClient(s);
      const crafted = await browserCall(client, '/_guard/step-up/done?return_to=%2Fapi%2Fcontacts%2Fexport&nudge=1');
      assert.equal(crafted.status, 303, crafted.text.slice(0, 200));
      assert.equal(crafted.headers.location, '/dashboard', 'no step-up finished: to the landing page');
      assert.doesNotMatch(crafted.text, /Verified/);
    }));

  test('"Not now" over the API (POST /_guard/api/step-up/nudge) is remembered too', () =>
    withRiskStack(RISK_AT.low, async (s) => {
      const client = await signedInClient(s);
      assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'email', 'export');
      assert.equal((await stepUpByEmail(s, client)).body['nudge_enable_2fa'], true);
      const snoozed = expectStatus(await client.post('/_guard/api/step-up/nudge'), 200, 'nudge snooze');
      assert.equal(snoozed.body['status'], 'snoozed');
      assertStepUpRequired(await apiCall(client, CAMPAIGN_EXPORT), CAMPAIGN_EXPORT, 'email', 'campaign export');
      s.clock.advance(PAST_COOLDOWN);
      assert.equal((await stepUpByEmail(s, client)).body['nudge_enable_2fa'], false);
    }));

  test('a user with 2FA never gets the invitation: the HTML verify goes to the result page, which continues the export', () =>
    withRiskStack(RISK_AT.high, async (s) => {
      const { client, enrolled } = await signedInWithTotp(s);
      assertStepUpRedirect(await browserCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'browser');
      const { page, csrf } = await pageWithCsrf(client, stepUpUrlFor(CONTACT_EXPORT));
      assert.match(page.text, /authenticator app/);
      assert.match(page.text, /name="code"/, 'the code field is shown at once for an authenticator app');
      const verified = await postForm(client, '/_guard/step-up', { _csrf: csrf, action: 'verify', code: nextTotp(s, enrolled), return_to: CONTACT_EXPORT });
      assert.equal(verified.status, 303, verified.text.slice(0, 300));
      assert.ok(String(verified.headers.location).startsWith(DONE_URL(CONTACT_EXPORT)), String(verified.headers.location));
      const done = await browserCall(client, String(verified.headers.location));
      assert.equal(done.status, 200);
      assertDonePage(done.text, CONTACT_EXPORT);
      assert.doesNotMatch(done.text, /nudge-heading/);
      assertExported(await browserCall(client, CONTACT_EXPORT), 'after the TOTP code');
    }));

  test('CSRF: POST /_guard/step-up without a valid token (missing, forged, another session’s) → 403 and nothing is verified; the code still works afterwards', () =>
    withRiskStack(RISK_AT.low, async (s) => {
      const client = await signedInClient(s);
      const other = await signedInClient(s);
      assertStepUpRequired(await apiCall(other, CONTACT_EXPORT), CONTACT_EXPORT, 'email', 'other session');
      const foreign = (await pageWithCsrf(other, stepUpUrlFor(CONTACT_EXPORT))).csrf;

      assertStepUpRedirect(await browserCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'browser');
      const { csrf } = await pageWithCsrf(client, stepUpUrlFor(CONTACT_EXPORT));
      assert.notEqual(foreign, csrf, 'tokens are bound to the session');
      expectStatus(await postForm(client, '/_guard/step-up', { _csrf: csrf, action: 'send', return_to: CONTACT_EXPORT }), 303, 'send');
      const code = lastCode(s.stack.outboxFile, MERCHANT);

      const forms: Array<[string, Record<string, string>]> = [
        ['no token', { action: 'verify', code, return_to: CONTACT_EXPORT }],
        ['empty token', { _csrf: '', action: 'verify', code, return_to: CONTACT_EXPORT }],
        ['forged token', { _csrf: 'A'.repeat(43), action: 'verify', code, return_to: CONTACT_EXPORT }],
        ['another session’s token', { _csrf: foreign, action: 'verify', code, return_to: CONTACT_EXPORT }],
      ];
      for (const [what, fields] of forms) {
        // Refused like every failed form (Post/Redirect/Get): 303 to the page, which says so with 403.
        const reply = await followStepUp(client, await postForm(client, '/_guard/step-up', fields));
        assert.equal(reply.status, 403, `${what}: ${reply.status} ${reply.text.slice(0, 200)}`);
        assert.match(reply.text, /This form has expired/, what);
        assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'email', `${what}: nothing verified`);
      }
      const crossSite = await client.request('/_guard/step-up', {
        method: 'POST',
        headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
        body: new URLSearchParams({ _csrf: csrf, action: 'verify', code, return_to: CONTACT_EXPORT }).toString(),
      });
      assert.equal(crossSite.status, 403, `cross-site form: ${crossSite.text.slice(0, 200)}`);
      assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'email', 'cross-site: nothing verified');

      const verified = expectStatus(await stepUpVerify(client, code), 200, 'the unconsumed code over the API');
      assert.equal(verified.body['status'], 'verified');
      assertExported(await apiCall(client, CONTACT_EXPORT), 'after the real verification');

      const snooze = await postForm(client, '/_guard/step-up/nudge', { _csrf: foreign, return_to: CONTACT_EXPORT });
      assert.equal(snooze.status, 403, `nudge with another session’s token: ${snooze.text.slice(0, 200)}`);
    }));
});

describe('risk-driven step-up with the demo thresholds', () => {
  test('burst: with 2FA and a known device the first three exports within 10 minutes pass, the fourth needs a fresh code (high); the window then resets', () =>
    withRiskStack(DEMO_RISK, async (s) => {
      const { client, enrolled } = await signedInWithTotp(s);
      for (let i = 1; i <= 3; i++) {
        assertExported(await apiCall(client, i === 2 ? CAMPAIGN_EXPORT : CONTACT_EXPORT), `export ${i}`);
        s.clock.advance(MINUTE);
      }
      assert.deepEqual(riskLogs(s, 'contact-export').concat(riskLogs(s, 'campaign-export')), [], 'three exports: low');
      assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'totp', 'export 4');
      const fourth = riskLogs(s, 'contact-export');
      assert.equal(fourth.length, 1);
      assert.equal(fourth[0]?.['level'], 'high');
      assert.equal(fourth[0]?.['score'], 60);
      assert.match(JSON.stringify(fourth[0]?.['signals']), /Burst of sensitive operations/);

      const verified = expectStatus(await stepUpVerify(client, nextTotp(s, enrolled)), 200, 'fresh TOTP code');
      assert.equal(verified.body['status'], 'verified');
      assertExported(await apiCall(client, CONTACT_EXPORT), 'export 5 (fresh)');
      assertStepUpRequired(await apiCall(client, CAMPAIGN_EXPORT), CAMPAIGN_EXPORT, 'totp', 'export 6, another category: still a burst');

      s.clock.advance(11 * MINUTE);
      assertExported(await apiCall(client, CAMPAIGN_EXPORT), 'after the window: low again');
    }));

  test('burst: four exports within one minute are a burst even when they straddle the end of the first export’s 10 minutes', () =>
    withRiskStack(DEMO_RISK, async (s) => {
      const { client, enrolled } = await signedInWithTotp(s);
      assertExported(await apiCall(client, CONTACT_EXPORT), 'export 1 at 0:00');
      s.clock.advance(9 * MINUTE + 30_000);
      assertExported(await apiCall(client, CONTACT_EXPORT), 'export 2 at 9:30');
      assertExported(await apiCall(client, CONTACT_EXPORT), 'export 3 at 9:30');
      s.clock.advance(MINUTE);
      // Within the 10 minutes before 10:30: exports 2 and 3, and this one.
      assertExported(await apiCall(client, CONTACT_EXPORT), 'export 4 at 10:30 (three within 10 minutes)');
      // Within the 10 minutes before 10:30: exports 2, 3, 4 and this one: more than 3.
      assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'totp', 'export 5 at 10:30 (four within one minute)');
      expectStatus(await stepUpVerify(client, nextTotp(s, enrolled)), 200, 'fresh code');
    }));

  test('burst without 2FA: every export needs the email code anyway; the fourth is assessed high', () =>
    withRiskStack(DEMO_RISK, async (s) => {
      const client = await signedInClient(s);
      for (let i = 1; i <= 4; i++) assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'email', `export ${i}`);
      const lines = riskLogs(s, 'contact-export');
      assert.deepEqual(lines.map((l) => l['level']), ['high'], 'only the fourth is above low');
    }));
});

describe('policy explain agrees with the enforcement point', () => {
  test('explainRequest against the demo policy: the matrix the integration tests observed', async () => {
    const policy = await loadPolicy(join(process.cwd(), 'policies', 'smartpush.yaml'));
    const user = (twoFactorEnabled: boolean, risk: Level, fresh = false): UserState => ({ authenticated: true, twoFactorEnabled, risk, fresh });
    const decision = (path: string, state: UserState, method = 'GET'): string => {
      const result = explainRequest(policy, { method, rawPath: path, user: state });
      assert.equal(result.rejected, null);
      if (result.rejected !== null) return 'rejected';
      const d = result.decision;
      return d.kind === 'step_up_required' ? `step_up_required ${d.action}` : d.kind;
    };
    // --user-state authenticated --2fa on --risk high
    const high = explainRequest(policy, { method: 'GET', rawPath: CONTACT_EXPORT, user: user(true, 'high') });
    assert.equal(high.rejected, null);
    if (high.rejected === null) {
      assert.deepEqual(high.decision, { kind: 'step_up_required', action: 'fresh_code' });
      assert.equal(high.rule.name, 'contact-export');
      assert.ok(high.reasons.some((r) => /no fresh verification for category contact-export/.test(r)), high.reasons.join('\n'));
    }
    for (const level of LEVELS) {
      assert.equal(decision(CONTACT_EXPORT, user(false, level)), 'step_up_required email_code', `2FA off, ${level}`);
      assert.equal(decision(CONTACT_EXPORT, user(false, level, true)), 'pass', `2FA off, ${level}, fresh`);
    }
    assert.equal(decision(CONTACT_EXPORT, user(true, 'low')), 'pass');
    assert.equal(decision(CONTACT_EXPORT, user(true, 'medium')), 'pass');
    assert.equal(decision(CONTACT_EXPORT, user(true, 'high', true)), 'pass');
    assert.equal(decision(CAMPAIGN_EXPORT, user(true, 'high')), 'step_up_required fresh_code');
    assert.equal(decision(CONTACT_PATH, user(false, 'low'), 'POST'), 'step_up_required email_code');
    assert.equal(decision(CONTACT_EXPORT, { authenticated: true, twoFactorEnabled: true }), 'step_up_required fresh_code', 'risk not assessed counts as high');
  });
});

test('a body-less JSON call (curl -X POST with a JSON content type and no body) is accepted; a form type is not', async () => {
  const stack = await startStack({ policy: 'version: 1\nrules: []\n' });
  try {
    for (const [type, status] of [['application/json', 200], ['application/json; charset=utf-8', 200], [undefined, 200], ['application/x-www-form-urlencoded', 415], ['text/plain', 415]] as const) {
      const r = await fetch(`${stack.url}/_guard/api/logout`, { method: 'POST', headers: type ? { 'content-type': type } : {} });
      assert.equal(r.status, status, `content-type ${type ?? '(none)'}`);
    }
  } finally {
    await stack.close();
  }
});
