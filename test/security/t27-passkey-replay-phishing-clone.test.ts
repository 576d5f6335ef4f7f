/**
 * THREATS T27 (passkeys) — a replayed assertion, an assertion phished through another origin or
 * relying party, and a cloned authenticator.
 *
 * - Replay: a captured assertion answers a challenge that was taken once (compare-and-delete) when
 *   it was first checked; sent again, alone or in parallel, it finds no challenge.
 * - Phishing / relay: an assertion made on `https://evil.example.net` (or for its RP ID) is refused
 *   even though its signature is good; and the challenge it was meant for is used up.
 * - Clone: an authenticator whose signature counter does not increase (a copy that signs with an
 *   older counter, or the same counter again) is refused and audited as `passkey_clone_suspected`;
 *   a forged answer carrying a low counter fails on its signature first and raises no clone alarm.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { ceremonies, ORIGIN, RP } from '../helpers/passkeys.ts';
import { RISK_AT, signedInClient, withRiskStack } from '../helpers/step-up.ts';
import { enableTotp, expectStatus, MERCHANT, PASSWORD, totpAt } from '../helpers/two-factor.ts';

const ctx = { client: '203.0.113.9', requestId: 'r' };
const ann = 'ann@example.com';

async function enrolled() {
  const c = ceremonies();
  const authenticator = new SoftAuthenticator();
  const options = await c.passkeys.registrationOptions({ user: ann, bind: 'reg:s1', rp: RP });
  assert.equal((await c.passkeys.register({ user: ann, bind: 'reg:s1', response: authenticator.create(options, ORIGIN), name: 'Key', context: ctx })).ok, true);
  const challenge = async (bind = 'login:p1') => {
    const o = await c.passkeys.authenticationOptions({ user: ann, bind, rp: RP });
    assert.ok(o);
    return o;
  };
  return { ...c, authenticator, challenge };
}

describe('passkeys: replayed assertions', () => {
  test('the same assertion twice: the second is refused (no challenge)', async () => {
    const { passkeys, authenticator, challenge } = await enrolled();
    const answer = authenticator.get(await challenge(), ORIGIN);
    assert.equal((await passkeys.assert({ user: ann, bind: 'login:p1', response: answer, context: ctx, purpose: 'login' })).ok, true);
    assert.deepEqual(await passkeys.assert({ user: ann, bind: 'login:p1', response: answer, context: ctx, purpose: 'login' }), { ok: false, reason: 'no_challenge' });
  });

  test('an old assertion against a new challenge is refused', async () => {
    const { passkeys, authenticator, challenge } = await enrolled();
    const old = authenticator.get(await challenge(), ORIGIN);
    assert.equal((await passkeys.assert({ user: ann, bind: 'login:p1', response: old, context: ctx, purpose: 'login' })).ok, true);
    await challenge();
    assert.deepEqual(await passkeys.assert({ user: ann, bind: 'login:p1', response: old, context: ctx, purpose: 'login' }), { ok: false, reason: 'invalid' });
  });

  test('the same assertion sent 8 times at once passes exactly once', async () => {
    const { passkeys, authenticator, challenge } = await enrolled();
    const answer = authenticator.get(await challenge(), ORIGIN);
    const results = await Promise.all(Array.from({ length: 8 }, () => passkeys.assert({ user: ann, bind: 'login:p1', response: answer, context: ctx, purpose: 'login' })));
    assert.equal(results.filter((r) => r.ok).length, 1);
  });

  test('an assertion for one pending sign-in does not count for another', async () => {
    const { passkeys, authenticator, challenge } = await enrolled();
    const answer = authenticator.get(await challenge('login:p1'), ORIGIN);
    await challenge('login:p2');
    assert.equal((await passkeys.assert({ user: ann, bind: 'login:p2', response: answer, context: ctx, purpose: 'login' })).ok, false);
  });
});

describe('passkeys: phished or relayed assertions', () => {
  test('an assertion made on another origin is refused, and audited', async () => {
    const { passkeys, authenticator, challenge, audit } = await enrolled();
    const options = await challenge();
    const answer = authenticator.get(options, 'https://evil.example.net');
    assert.deepEqual(await passkeys.assert({ user: ann, bind: 'login:p1', response: answer, context: ctx, purpose: 'login' }), { ok: false, reason: 'invalid' });
    assert.ok(audit.all().some((e) => e.event === 'verification_failure' && e.reason === 'passkey_invalid'));
    // Nor can a right answer use that challenge afterwards: it is gone.
    const good = authenticator.get(options, ORIGIN);
    assert.deepEqual(await passkeys.assert({ user: ann, bind: 'login:p1', response: good, context: ctx, purpose: 'login' }), { ok: false, reason: 'no_challenge' });
  });

  test('an assertion for another RP ID is refused', async () => {
    const { passkeys, authenticator, challenge } = await enrolled();
    const answer = authenticator.get(await challenge(), ORIGIN, { rpId: 'evil.example.net' });
    assert.deepEqual(await passkeys.assert({ user: ann, bind: 'login:p1', response: answer, context: ctx, purpose: 'login' }), { ok: false, reason: 'invalid' });
  });
});

describe('passkeys: cloned authenticators', () => {
  test('a counter lower than the last one seen is refused and audited as a suspected clone', async () => {
    const { passkeys, authenticator, challenge, audit, store } = await enrolled();
    for (let i = 0; i < 3; i++) {
      assert.equal((await passkeys.assert({ user: ann, bind: 'login:p1', response: authenticator.get(await challenge(), ORIGIN), context: ctx, purpose: 'login' })).ok, true);
    }
    const clone = authenticator.get(await challenge(), ORIGIN, { counter: 2 });
    assert.deepEqual(await passkeys.assert({ user: ann, bind: 'login:p1', response: clone, context: ctx, purpose: 'login' }), { ok: false, reason: 'clone_suspected' });
    const event = audit.all().find((e) => e.event === 'passkey_clone_suspected');
    assert.ok(event);
    assert.equal(event.reason, 'counter_not_increased');
    assert.equal(event.details?.['stored_counter'], 3);
    assert.equal(event.details?.['presented_counter'], 2);
    assert.equal((await store.list(ann))[0]?.counter, 3, 'the refused counter is not stored');
  });

  test('the same non-zero counter again is refused too', async () => {
    const { passkeys, authenticator, challenge } = await enrolled();
    assert.equal((await passkeys.assert({ user: ann, bind: 'login:p1', response: authenticator.get(await challenge(), ORIGIN, { counter: 5 }), context: ctx, purpose: 'login' })).ok, true);
    assert.deepEqual(
      await passkeys.assert({ user: ann, bind: 'login:p1', response: authenticator.get(await challenge(), ORIGIN, { counter: 5 }), context: ctx, purpose: 'login' }),
      { ok: false, reason: 'clone_suspected' },
    );
  });

  test('a forged answer with a low counter fails on its signature and raises no clone alarm', async () => {
    const { passkeys, authenticator, challenge, audit } = await enrolled();
    assert.equal((await passkeys.assert({ user: ann, bind: 'login:p1', response: authenticator.get(await challenge(), ORIGIN, { counter: 9 }), context: ctx, purpose: 'login' })).ok, true);
    const forger = new SoftAuthenticator();
    forger.create({ challenge: 'x', rp: { id: RP.id, name: 'x' }, user: { id: 'x' } }, ORIGIN);
    const real = authenticator.credentials[0];
    const fake = forger.credentials[0];
    assert.ok(real && fake);
    // The real credential id, signed with another key.
    const answer = forger.get(await challenge(), ORIGIN, { counter: 1, credential: { ...fake, id: real.id } });
    assert.deepEqual(await passkeys.assert({ user: ann, bind: 'login:p1', response: answer, context: ctx, purpose: 'login' }), { ok: false, reason: 'invalid' });
    assert.equal(audit.all().some((e) => e.event === 'passkey_clone_suspected'), false);
  });
});

describe('passkeys over HTTP: a replayed sign-in answer and a cloned authenticator', () => {
  const origin = 'https://app.example.com';
  test('the same sign-in answer twice, and a lowered counter, are refused with stable codes', () =>
    withRiskStack(
      RISK_AT.low,
      async (s) => {
        const client = await signedInClient(s);
        const { secret } = await enableTotp(client, s.enroll);
        s.clock.advance(30_000);
        expectStatus(await client.post('/_guard/api/2fa/passkeys/start', { password: PASSWORD }), 200, 'start');
        expectStatus(await client.post('/_guard/api/2fa/passkeys/verify', { code: totpAt(secret, s.clock.now()) }), 200, 'verify');
        const authenticator = new SoftAuthenticator();
        const regOptions = expectStatus(await client.post('/_guard/api/2fa/passkeys/register/options'), 200, 'options').body;
        expectStatus(await client.post('/_guard/api/2fa/passkeys/register/verify', { response: authenticator.create(regOptions as never, origin), name: 'Key' }), 200, 'register');

        const signInWith = async (answer: (options: Record<string, unknown>) => Record<string, unknown>) => {
          const browser = s.client();
          expectStatus(await browser.login(), 200, 'login');
          const options = expectStatus(await browser.post('/_guard/api/login/passkey/options'), 200, 'options').body;
          const response = answer(options);
          return { browser, response, reply: await browser.post('/_guard/api/login/passkey/verify', { response }) };
        };
        // A good sign-in, counter 5.
        const first = await signInWith((o) => authenticator.get(o as never, origin, { counter: 5 }));
        expectStatus(first.reply, 200, 'first sign-in');
        // Its answer sent again (from the same pending sign-in's cookie, or a new one): refused.
        const replayed = await first.browser.post('/_guard/api/login/passkey/verify', { response: first.response });
        assert.notEqual(replayed.status, 200);
        const again = await signInWith(() => first.response);
        assert.equal(again.reply.status, 401);
        assert.equal(again.reply.body['error'], 'passkey_not_accepted');
        // A copy of the authenticator signing with counter 3: refused and audited.
        const clone = await signInWith((o) => authenticator.get(o as never, origin, { counter: 3 }));
        assert.equal(clone.reply.status, 401);
        assert.equal(clone.reply.body['error'], 'passkey_clone_suspected');
        assert.equal((await clone.browser.me()).status, 401);
        const events = await s.stack.guard.audit.recent({ user: MERCHANT, event: 'passkey_clone_suspected', limit: 5 });
        assert.equal(events.length, 1);
      },
      { config: { webauthn: { origins: [origin] } } },
    ));
});
