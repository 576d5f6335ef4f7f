import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskEmail, maskPhone, normalisePhone, phoneCountryAllowed } from '../../../src/channels/phone.ts';

test('normalisePhone accepts international numbers in the usual spellings', () => {
  assert.deepEqual(normalisePhone('+1 555 555 0189'), { e164: '+15555550189', country: 'US' });
  assert.deepEqual(normalisePhone('+15555550189'), { e164: '+15555550189', country: 'US' });
  assert.deepEqual(normalisePhone('  +1 (415) 555-2671 '), { e164: '+14155552671', country: 'US' });
  assert.deepEqual(normalisePhone('+44 20 7946 0958'), { e164: '+442079460958', country: 'GB' });
  assert.deepEqual(normalisePhone('+86 138 0013 8000'), { e164: '+8613800138000', country: 'CN' });
  assert.deepEqual(normalisePhone('+49.30.901820'), { e164: '+4930901820', country: 'DE' });
});

test('normalisePhone tells apart regions sharing the +1 calling code', () => {
  assert.equal(normalisePhone('+1 242 359 1234')?.country, 'BS');
  assert.equal(normalisePhone('+1 684 733 1234')?.country, 'AS');
  assert.equal(normalisePhone('+1 416 555 0123')?.country, 'CA');
});

test('normalisePhone refuses national, malformed and unassigned numbers', () => {
  for (const input of [
    '',
    '   ',
    '555 555 0189', // no country: there is no default
    '0044 20 7946 0958', // international prefix instead of +
    '15555550189',
    '+1 800 FLOWERS', // letters
    '+1 202 555 0189 ext. 5', // extension
    '+1202555018999', // too long
    '+1 555 555 0289', // area code 555 outside the fictional 01XX range
    '+0 123',
    '+44 20',
    'tel:+12025550189',
    '+1 202 555 0189\n+44 20 7946 0958',
    '+' + '1'.repeat(40),
  ]) {
    assert.equal(normalisePhone(input), null, JSON.stringify(input));
  }
});

test('maskPhone keeps the calling code and the last two digits only', () => {
  assert.equal(maskPhone('+15555550189'), '+1 •••• ••89');
  assert.equal(maskPhone('+442079460958'), '+44 •••• ••58');
  assert.equal(maskPhone('+8613800138000'), '+86 •••• ••00');
  const masked = maskPhone('+14155552671');
  assert.ok(!masked.includes('415') && !masked.includes('2671'));
  // Something that is not a phone number reveals nothing.
  assert.equal(maskPhone('12'), '•••• ••••');
});

test('maskEmail keeps the first character and the domain', () => {
  assert.equal(maskEmail('merchant@example.com'), 'm•••@example.com');
  assert.equal(maskEmail('o@example.com'), 'o•••@example.com');
  assert.equal(maskEmail('élodie@exemple.fr'), 'é•••@exemple.fr');
  assert.equal(maskEmail('"a@b"@example.com'), '"•••@example.com');
  assert.equal(maskEmail('not-an-address'), '•••');
  assert.equal(maskEmail('@example.com'), '•••');
});

test('phoneCountryAllowed applies the allow-list by region', () => {
  assert.equal(phoneCountryAllowed('+15555550189', null), true);
  assert.equal(phoneCountryAllowed('+15555550189', ['US']), true);
  assert.equal(phoneCountryAllowed('+15555550189', ['us', 'CA']), true);
  assert.equal(phoneCountryAllowed('+8613800138000', ['US', 'CN']), true);
  assert.equal(phoneCountryAllowed('+8613800138000', ['US']), false);
  // +1 does not mean US: the Bahamas share the calling code.
  assert.equal(phoneCountryAllowed('+12423591234', ['US', 'CA']), false);
  assert.equal(phoneCountryAllowed('+12423591234', ['BS']), true);
  assert.equal(phoneCountryAllowed('+15555550189', []), false);
  // Unparseable numbers are never allowed, not even without a list.
  assert.equal(phoneCountryAllowed('not a number', null), false);
  assert.equal(phoneCountryAllowed('5555550189', null), false);
});
