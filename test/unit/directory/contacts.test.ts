import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Contacts } from '../../../src/directory/index.ts';
import { EMAIL_IDENTITY } from '../../../src/directory/identity.ts';
import type { Directory, DirectoryResult } from '../../../src/directory/types.ts';
import { memoryLogger } from '../../helpers/stack.ts';

/** How flows see the directory: its answer, the email fallback for email identities, and failures logged. */

const USERNAME = { kind: 'username' as const, caseInsensitive: false };
const fixed = (result: DirectoryResult | Error): Directory => ({
  kind: 'test',
  lookup: () => (result instanceof Error ? Promise.reject(result) : Promise.resolve(result)),
  close: () => Promise.resolve(),
});
const NONE = { upstreamCookies: {}, requestId: 'r1' };

test('no directory: an email identity is its own address; a username has none', async () => {
  const { logger } = memoryLogger();
  assert.deepEqual(await new Contacts(null, EMAIL_IDENTITY, logger).of('a@example.org', NONE), { ok: true, email: 'a@example.org', phone: null });
  assert.deepEqual(await new Contacts(null, USERNAME, logger).of('admin', NONE), { ok: true, email: null, phone: null });
});

test('the directory address wins; an email identity falls back to itself when the directory has none', async () => {
  const { logger } = memoryLogger();
  const entry = (email: string | null) => fixed({ ok: true, entry: { email, phone: '+15555550123' } });
  assert.deepEqual(await new Contacts(entry('work@example.org'), EMAIL_IDENTITY, logger).of('a@example.org', NONE), { ok: true, email: 'work@example.org', phone: '+15555550123' });
  assert.deepEqual(await new Contacts(entry(null), EMAIL_IDENTITY, logger).of('a@example.org', NONE), { ok: true, email: 'a@example.org', phone: '+15555550123' });
  assert.deepEqual(await new Contacts(entry(null), USERNAME, logger).of('admin', NONE), { ok: true, email: null, phone: '+15555550123' });
});

test('failures are logged with their reason (never a secret) and reported for usernames; a mismatch is never papered over', async () => {
  const { logger, logs } = memoryLogger();
  const down = fixed({ ok: false, reason: 'unavailable', message: 'postgres directory: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5432' });
  assert.deepEqual(await new Contacts(down, USERNAME, logger).of('admin', NONE), { ok: false, reason: 'unavailable', message: 'postgres directory: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5432' });
  const line = logs.find((l) => l['event'] === 'directory_lookup_failed');
  assert.equal(line?.['reason'], 'unavailable');
  assert.equal(line?.['requestId'], 'r1');
  // An email identity still gets its own address when the directory is down...
  assert.deepEqual(await new Contacts(down, EMAIL_IDENTITY, logger).of('a@example.org', NONE), { ok: true, email: 'a@example.org', phone: null });
  // ...but not when the app says the session is someone else's.
  const other = fixed({ ok: false, reason: 'account_mismatch', message: 'names another account' });
  assert.equal((await new Contacts(other, EMAIL_IDENTITY, logger).of('a@example.org', NONE)).ok, false);
  // A directory that throws is a typed failure too.
  const thrown = await new Contacts(fixed(new Error('boom')), USERNAME, logger).of('admin', NONE);
  assert.deepEqual(thrown.ok ? null : thrown.reason, 'source_error');
});
