import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { findForm, type FormLookup } from '../../../src/flows/login-form.ts';

/** The login form's hidden fields, as frameworks write them, found as a browser would submit them. */

const found = (lookup: FormLookup) => {
  assert.ok(lookup.ok, lookup.ok ? '' : lookup.problem);
  return lookup.form;
};

const DJANGO = `<html><body>
<form action="/search/" method="get"><input type="hidden" name="q" value="x"><input name="term"></form>
<form action="/admin/login/?next=/admin/" method="post" id="login-form">
  <input type="hidden" name="csrfmiddlewaretoken" value="tok123">
  <input type="text" name="username"><input type="password" name="password">
  <input type="hidden" name="next" value="/admin/">
  <input type="hidden" name="disabled_one" value="no" disabled>
</form></body></html>`;

describe('findForm for a login', () => {
  test('Django: the form holding the password field, its hidden fields in order (not the search form, not disabled ones)', () => {
    const form = found(findForm(DJANGO, { passwordField: 'password', copy: 'auto' }));
    assert.deepEqual(form.fields, [
      ['csrfmiddlewaretoken', 'tok123'],
      ['next', '/admin/'],
    ]);
    assert.equal(form.method, 'POST');
    assert.equal(form.action, '/admin/login/?next=/admin/');
  });

  test('Rails, Laravel and Spring tokens are hidden fields too', () => {
    const rails = `<form method="post" action="/users/sign_in"><input type="hidden" name="authenticity_token" value="r1"><input name="user[email]"><input type="password" name="user[password]"></form>`;
    assert.deepEqual(found(findForm(rails, { passwordField: 'user[password]', copy: 'auto' })).fields, [['authenticity_token', 'r1']]);
    const laravel = `<form method="POST"><input type="hidden" name="_token" value="l1"><input type=password name=password></form>`;
    assert.deepEqual(found(findForm(laravel, { passwordField: 'password', copy: 'auto' })).fields, [['_token', 'l1']]);
    const spring = `<form method="post" action="/login"><input name="username"><input type="password" name="password"><input name="_csrf" type="hidden" value="s1"/></form>`;
    assert.deepEqual(found(findForm(spring, { passwordField: 'password', copy: 'auto' })).fields, [['_csrf', 's1']]);
  });

  test('a password field named otherwise is still found by its type', () => {
    const html = `<form><input type="hidden" name="t" value="1"><input type="password" name="pw"></form><form><input type="hidden" name="u" value="2"></form>`;
    assert.deepEqual(found(findForm(html, { passwordField: 'password', copy: 'auto' })).fields, [['t', '1']]);
  });

  test('named fields are copied whatever their type; a missing one is a clear problem', () => {
    const html = `<form id="f"><input type="hidden" name="a" value="1"><input type="text" name="b" value="2"><select name="c"><option value="x">X</option><option value="y" selected>Y</option></select><textarea name="d">text</textarea><input type="password" name="password"></form>`;
    assert.deepEqual(found(findForm(html, { passwordField: 'password', copy: ['b', 'c', 'd'] })).fields, [
      ['b', '2'],
      ['c', 'y'],
      ['d', 'text'],
    ]);
    const missing = findForm(html, { passwordField: 'password', copy: ['token'] });
    assert.deepEqual(missing, { ok: false, problem: 'the form has no field named "token"' });
  });

  test('a selector names the form (or an element inside it)', () => {
    assert.deepEqual(found(findForm(DJANGO, { selector: '#login-form', copy: 'auto' })).fields.map(([n]) => n), ['csrfmiddlewaretoken', 'next']);
    assert.deepEqual(found(findForm(DJANGO, { selector: 'input[name=term]', copy: 'auto' })).fields, [['q', 'x']]);
    assert.equal((findForm(DJANGO, { selector: '#nothing', copy: 'auto' }) as { problem: string }).problem, 'no element matches the selector "#nothing"');
    assert.match((findForm(DJANGO, { selector: '[[[', copy: 'auto' }) as { problem: string }).problem, /not valid CSS/);
  });

  test('pages without the form say so', () => {
    assert.deepEqual(findForm('<p>Service unavailable</p>', { passwordField: 'password', copy: 'auto' }), { ok: false, problem: 'the page has no form' });
    assert.deepEqual(findForm('<form><input name="q"></form>', { passwordField: 'password', copy: 'auto' }), { ok: false, problem: 'no form on the page has a password field' });
  });
});

describe('findForm for a logout', () => {
  const PAGE = `<form action="/search/"><input type="hidden" name="q" value="1"></form>
<form id="logout-form" method="post" action="/admin/logout/"><input type="hidden" name="csrfmiddlewaretoken" value="t2"></form>`;

  test('the form posting to the logout path', () => {
    assert.deepEqual(found(findForm(PAGE, { actionPath: '/admin/logout/', copy: 'auto' })).fields, [['csrfmiddlewaretoken', 't2']]);
  });

  test('several forms and none posting to the path: ambiguous, name one', () => {
    assert.deepEqual(findForm(PAGE, { actionPath: '/logout', copy: 'auto' }), { ok: false, problem: 'the page has 2 forms: name one with a selector' });
  });
});
