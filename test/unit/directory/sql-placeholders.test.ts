import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindIdentifier } from '../../../src/directory/sql-placeholders.ts';

/** `:identifier` becomes the driver's placeholder, and nothing else does. */

test('postgres: every :identifier is $1; casts, strings, quoted names and comments are left alone', () => {
  assert.deepEqual(bindIdentifier('SELECT email FROM auth_user WHERE username = :identifier', 'pg'), {
    text: 'SELECT email FROM auth_user WHERE username = $1',
    occurrences: 1,
  });
  assert.equal(
    bindIdentifier("SELECT email::text, ':identifier' AS s, \":identifier\" FROM t -- :identifier\nWHERE a = :identifier OR b = lower(:identifier) /* :identifier */", 'pg').text,
    "SELECT email::text, ':identifier' AS s, \":identifier\" FROM t -- :identifier\nWHERE a = $1 OR b = lower($1) /* :identifier */",
  );
  // A longer name is not the parameter.
  assert.equal(bindIdentifier('SELECT :identifier_x, :identifier', 'pg').text, 'SELECT :identifier_x, $1');
  assert.equal(bindIdentifier("SELECT 'it''s :identifier', :identifier", 'pg').text, "SELECT 'it''s :identifier', $1");
});

test('mysql: one ? per occurrence (bound as many times), backslash escapes in strings honoured', () => {
  assert.deepEqual(bindIdentifier('SELECT email FROM u WHERE username = :identifier OR email = :identifier', 'mysql'), {
    text: 'SELECT email FROM u WHERE username = ? OR email = ?',
    occurrences: 2,
  });
  assert.equal(bindIdentifier("SELECT 'a\\' :identifier', `:identifier` FROM t WHERE x = :identifier", 'mysql').text, "SELECT 'a\\' :identifier', `:identifier` FROM t WHERE x = ?");
});
