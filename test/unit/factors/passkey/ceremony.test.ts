import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { passkeyName, relyingParty } from '../../../../src/factors/passkey/ceremony.ts';
import { SoftAuthenticator } from '../../../helpers/soft-authenticator.ts';
import { ceremonies, ORIGIN, RP } from '../../../helpers/passkeys.ts';

const ctx = { client: '198.51.100.7', requestId: 'r1' };
const ann = 'ann@example.com';

async function enrolled(counterStep = 1) {
  const c = ceremonies();
  const authenticator = new SoftAuthenticator(counterStep);
  const options = await c.passkeys.registrationOptions({ user: ann, bind: 'reg:s1', rp: RP });
  const added = await c.passkeys.register({ user: ann, bind: 'reg:s1', response: authenticator.create(options, ORIGIN), name: 'Laptop', context: ctx });
  assert.equal(added.ok, true);
  return { ...c, authenticator };
}

describe('passkey registration', () => {
  test('options ask for no attestation and preferred user verification, bound to the relying party', async () => {
    const { passkeys } = ceremonies();
    const options = await passkeys.registrationOptions({ user: ann, bind: 'reg:s1', rp: RP });
    assert.equal(options.attestation, 'none');
    assert.equal(options.authenticatorSelection?.userVerification, 'preferred');
    assert.equal(options.rp.id, 'app.example.com');
    assert.equal(options.user.name, ann);
    assert.notEqual(options.user.id, Buffer.from(ann).toString('base64url'), 'the user handle names no one');
    assert.equal(Buffer.from(options.challenge, 'base64url').length, 32);
  });

  test('a software authenticator registers; the credential is stored with its name, key and transports', async () => {
    const { store, audit } = await enrolled();
    const [key] = await store.list(ann);
    assert.ok(key);
    assert.equal(key.name, 'Laptop');
    assert.deepEqual(key.transports, ['internal']);
    assert.equal(key.counter, 0);
    assert.equal(key.lastUsedAt, null);
    assert.ok(key.publicKey.length > 60);
    const event = audit.all().find((e) => e.event === 'passkey_added');
    assert.ok(event);
    assert.equal(event.user, ann);
    assert.equal(event.details?.['passkey'], key.id.slice(0, 12));
  });

  test('the next registration excludes the keys the account already has', async () => {
    const { passkeys, store } = await enrolled();
    const options = await passkeys.registrationOptions({ user: ann, bind: 'reg:s1', rp: RP });
    assert.deepEqual(options.excludeCredentials?.map((c) => c.id), (await store.list(ann)).map((c) => c.id));
  });

  test('a registration answer counts once, only for the session that asked, and a bad name is refused first', async () => {
    const { passkeys, store } = ceremonies();
    const authenticator = new SoftAuthenticator();
    const options = await passkeys.registrationOptions({ user: ann, bind: 'reg:s1', rp: RP });
    const response = authenticator.create(options, ORIGIN);
    assert.deepEqual(await passkeys.register({ user: ann, bind: 'reg:s1', response, name: '  ', context: ctx }), { ok: false, reason: 'invalid_name' });
    assert.deepEqual(await passkeys.register({ user: ann, bind: 'reg:other-session', response, name: 'Key', context: ctx }), { ok: false, reason: 'no_challenge' });
    assert.equal((await passkeys.register({ user: ann, bind: 'reg:s1', response, name: 'Key', context: ctx })).ok, true);
    assert.deepEqual(await passkeys.register({ user: ann, bind: 'reg:s1', response, name: 'Key', context: ctx }), { ok: false, reason: 'no_challenge' });
    assert.equal((await store.list(ann)).length, 1);
  });

  test('an answer made for another origin, RP ID or challenge is refused and uses the challenge up', async () => {
    for (const bad of [{ origin: 'https://evil.example.net' }, { rpId: 'evil.example.net' }, { challenge: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, { type: 'webauthn.get' }]) {
      const { passkeys, store } = ceremonies();
      const authenticator = new SoftAuthenticator();
      const options = await passkeys.registrationOptions({ user: ann, bind: 'reg:s1', rp: RP });
      const response = authenticator.create(options, bad.origin ?? ORIGIN, bad);
      assert.deepEqual(await passkeys.register({ user: ann, bind: 'reg:s1', response, name: 'Key', context: ctx }), { ok: false, reason: 'invalid' }, JSON.stringify(bad));
      assert.deepEqual(await passkeys.register({ user: ann, bind: 'reg:s1', response: authenticator.create(options, ORIGIN), name: 'Key', context: ctx }), { ok: false, reason: 'no_challenge' });
      assert.deepEqual(await store.list(ann), []);
    }
  });

  test('garbage instead of an answer is refused, not thrown', async () => {
    const { passkeys } = ceremonies();
    for (const response of [null, 'x', 42, { id: 'x' }, { response: {} }]) {
      await passkeys.registrationOptions({ user: ann, bind: 'reg:s1', rp: RP });
      assert.deepEqual(await passkeys.register({ user: ann, bind: 'reg:s1', response, name: 'Key', context: ctx }), { ok: false, reason: 'invalid' });
    }
  });
});

describe('passkey authentication', () => {
  test('an account without passkeys gets no options', async () => {
    const { passkeys } = ceremonies();
    assert.equal(await passkeys.authenticationOptions({ user: ann, bind: 'login:p1', rp: RP }), null);
  });

  test('an assertion of the enrolled key passes, moves the counter and records its use', async () => {
    const { passkeys, store, authenticator, audit, clock } = await enrolled();
    const options = await passkeys.authenticationOptions({ user: ann, bind: 'login:p1', rp: RP });
    assert.ok(options);
    assert.equal(options.userVerification, 'preferred');
    assert.equal(options.rpId, 'app.example.com');
    clock.advance(1000);
    const result = await passkeys.assert({ user: ann, bind: 'login:p1', response: authenticator.get(options, ORIGIN), context: ctx, purpose: 'login' });
    assert.equal(result.ok, true);
    const [key] = await store.list(ann);
    assert.equal(key?.counter, 1);
    assert.equal(key?.lastUsedAt, clock.now());
    assert.ok(audit.all().some((e) => e.event === 'passkey_used' && e.details?.['purpose'] === 'login'));
  });

  test('an authenticator without a counter (always 0) keeps working', async () => {
    const { passkeys, authenticator } = await enrolled(0);
    for (let i = 0; i < 3; i++) {
      const options = await passkeys.authenticationOptions({ user: ann, bind: 'login:p1', rp: RP });
      assert.ok(options);
      assert.equal((await passkeys.assert({ user: ann, bind: 'login:p1', response: authenticator.get(options, ORIGIN), context: ctx, purpose: 'login' })).ok, true);
    }
  });

  test('another account cannot answer with its own passkey', async () => {
    const { passkeys, authenticator } = await enrolled();
    const bob = new SoftAuthenticator();
    const regOptions = await passkeys.registrationOptions({ user: 'bob@example.com', bind: 'reg:s2', rp: RP });
    assert.equal((await passkeys.register({ user: 'bob@example.com', bind: 'reg:s2', response: bob.create(regOptions, ORIGIN), name: 'Bob', context: ctx })).ok, true);
    const options = await passkeys.authenticationOptions({ user: ann, bind: 'login:p1', rp: RP });
    assert.ok(options);
    const answer = bob.get({ ...options, allowCredentials: [] }, ORIGIN);
    assert.deepEqual(await passkeys.assert({ user: ann, bind: 'login:p1', response: answer, context: ctx, purpose: 'login' }), { ok: false, reason: 'unknown_credential' });
    void authenticator;
  });
});

describe('relying party from config', () => {
  const base = { rpId: null, rpName: 'SmartPush', origins: null, publicOrigin: null };
  test('configured origins win; the RP ID defaults to the first origin host', () => {
    assert.deepEqual(relyingParty({ ...base, origins: ['https://a.example.com', 'https://b.example.com'], rpId: 'example.com' }, { proto: 'http', host: 'evil.test' }), {
      id: 'example.com',
      name: 'SmartPush',
      origins: ['https://a.example.com', 'https://b.example.com'],
    });
    assert.deepEqual(relyingParty({ ...base, publicOrigin: 'https://app.example.com' }, { proto: 'http', host: 'evil.test' }), { id: 'app.example.com', name: 'SmartPush', origins: ['https://app.example.com'] });
  });
  test('without config only localhost names its own origin; IP addresses are never an RP ID', () => {
    assert.deepEqual(relyingParty(base, { proto: 'http', host: 'localhost:8080' }), { id: 'localhost', name: 'SmartPush', origins: ['http://localhost:8080'] });
    assert.equal(relyingParty(base, { proto: 'http', host: '127.0.0.1:8080' }), null);
    assert.equal(relyingParty(base, { proto: 'https', host: 'app.example.com' }), null);
    assert.equal(relyingParty({ ...base, publicOrigin: 'http://127.0.0.1:8080' }, { proto: 'http', host: '127.0.0.1:8080' }), null);
    assert.equal(relyingParty({ ...base, rpId: 'example.com' }, { proto: 'http', host: 'localhost:8080' }), null, 'a configured RP ID never meets a localhost origin');
    assert.equal(relyingParty({ ...base, origins: ['https://app.example.com'], rpId: 'other.example' }, { proto: 'https', host: 'app.example.com' }), null, 'the RP ID must cover every origin');
  });
  test('passkey names are trimmed, 1-64 characters, without control characters', () => {
    assert.equal(passkeyName('  My   key '), 'My key');
    assert.equal(passkeyName(''), null);
    assert.equal(passkeyName('x'.repeat(65)), null);
    assert.equal(passkeyName('a\u0007b'), null);
    assert.equal(passkeyName(7), null);
  });
});
