import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalIdentity, checkIdentifier, EMAIL_IDENTITY, isEmailAddress, type IdentityRules } from '../../../src/directory/identity.ts';
import { entryOf } from '../../../src/directory/values.ts';
import { parseAccount } from '../../../src/admin/model.ts';

/** One canonical key per account (issue 14): the same function for login, flows, admin, CLI, audit, risk. */

const USERNAME: IdentityRules = { kind: 'username', caseInsensitive: false };
const USERNAME_CI: IdentityRules = { kind: 'username', caseInsensitive: true };

test('email identities: trimmed, NFC, lower case', () => {
  assert.equal(canonicalIdentity('  Merchant@Example.COM \t', EMAIL_IDENTITY), 'merchant@example.com');
  // "é" composed (U+00E9) and decomposed (e + U+0301) are one spelling.
  assert.equal(canonicalIdentity('ren\u0065\u0301@example.com', EMAIL_IDENTITY), canonicalIdentity('ren\u00e9@example.com', EMAIL_IDENTITY));
  assert.equal(canonicalIdentity('ren\u0065\u0301@example.com', EMAIL_IDENTITY), 'ren\u00e9@example.com');
});

test('usernames keep their case unless the app ignores it (login.identifier_case: insensitive)', () => {
  assert.equal(canonicalIdentity(' Admin ', USERNAME), 'Admin');
  assert.notEqual(canonicalIdentity('Admin', USERNAME), canonicalIdentity('admin', USERNAME));
  assert.equal(canonicalIdentity('Admin', USERNAME_CI), canonicalIdentity('admin', USERNAME_CI));
  assert.equal(canonicalIdentity('Jos\u0065\u0301', USERNAME), 'Jos\u00e9');
});

test('checkIdentifier: usernames need only be sane; email identities must be addresses', () => {
  assert.deepEqual(checkIdentifier('admin', USERNAME), { ok: true, identity: 'admin' });
  assert.deepEqual(checkIdentifier('first.last+tag', USERNAME), { ok: true, identity: 'first.last+tag' });
  for (const [raw, message] of [
    ['', /empty/],
    ['   ', /empty/],
    ['x'.repeat(255), /too long/],
    ['bad\nname', /control characters/],
    ['bad\u0000name', /control characters/],
    ['bad\u2028name', /control characters/],
  ] as const) {
    const checked = checkIdentifier(raw, USERNAME);
    assert.equal(checked.ok, false, JSON.stringify(raw));
    assert.match((checked as { message: string }).message, message);
  }
  assert.equal(checkIdentifier(42, USERNAME).ok, false);
  assert.equal(checkIdentifier('admin', EMAIL_IDENTITY).ok, false);
  assert.deepEqual(checkIdentifier(' A@Example.com', EMAIL_IDENTITY), { ok: true, identity: 'a@example.com' });
});

test('parseAccount (admin API and CLI): invalid_email under email identities, invalid_identifier under usernames', () => {
  assert.equal(parseAccount('Merchant@Example.com'), 'merchant@example.com');
  assert.throws(() => parseAccount('admin'), (e: unknown) => (e as { code: string }).code === 'invalid_email');
  assert.equal(parseAccount('admin', USERNAME), 'admin');
  assert.throws(() => parseAccount('a\tb', USERNAME), (e: unknown) => (e as { code: string; status: number }).code === 'invalid_identifier' && (e as { status: number }).status === 400);
});

test('directory values: only an address is an address, only an international number is a phone', () => {
  assert.equal(isEmailAddress('admin'), false);
  assert.equal(isEmailAddress('a@b'), false);
  assert.equal(isEmailAddress('a@example.org'), true);
  assert.deepEqual(entryOf('admin', '12345'), { email: null, phone: null });
  assert.deepEqual(entryOf(' alice@example.org ', '+1 (555) 555-0123'), { email: 'alice@example.org', phone: '+15555550123' });
  assert.deepEqual(entryOf(null, undefined), { email: null, phone: null });
  assert.deepEqual(entryOf(42, { phone: '+15555550123' }), { email: null, phone: null });
});
