import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuardRouteTable } from '../../../src/access/routing.ts';

test('guard routes with a :param segment: one path segment matches, nothing more or less', () => {
  const table = new GuardRouteTable([
    { path: '/_guard/api/sessions', access: 'authenticated' },
    { path: '/_guard/api/sessions/revoke-others', access: 'authenticated' },
    { path: '/_guard/api/sessions/:handle/revoke', access: 'authenticated' },
    { path: '/_guard/login', access: 'public' },
  ]);
  assert.equal(table.lookup('/_guard/api/sessions/AbC_-123/revoke').access, 'authenticated');
  assert.equal(table.lookup('/_guard/api/sessions/AbC_-123/revoke/').access, 'authenticated');
  assert.equal(table.lookup('/_guard/api/sessions/AbC_-123/revoke').name, 'guard:api/sessions/:handle/revoke');
  assert.equal(table.lookup('/_guard/api/sessions/revoke-others').name, 'guard:api/sessions/revoke-others', 'an exact path wins');
  assert.equal(table.lookup('/_guard/api/sessions/a/b/revoke').name, 'guard:not-found');
  assert.equal(table.lookup('/_guard/api/sessions//revoke').name, 'guard:not-found', 'an empty segment is no handle');
  assert.equal(table.lookup('/_guard/api/sessions/x/revokeX').name, 'guard:not-found');
  assert.equal(table.lookup('/_guard/login').access, 'public');
});
