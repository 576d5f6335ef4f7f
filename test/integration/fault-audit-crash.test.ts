import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { startDemoApp } from '../../demo/app.ts';
import type { AuditEvent } from '../../src/audit/audit.ts';
import { ADMIN_TOKEN, deployment, serve } from '../helpers/guard-process.ts';
import { enableTotp, expectStatus, GuardClient, MERCHANT } from '../helpers/two-factor.ts';

/**
 * Issue 14 item 15: a security event the user was told succeeded is in every configured audit sink
 * after a kill -9 of the process. The service awaits the audit's settle() before it answers; the
 * file was buffered for up to a second (4 KiB) before, and lost exactly those last events.
 */

function fileEvents(file: string): AuditEvent[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as AuditEvent);
}

test('kill -9 right after acknowledged sign-ins, sign-outs and a support action: every event is in the file and in SQLite', async () => {
  const app = await startDemoApp({ host: '127.0.0.1', port: 0 });
  const d = deployment({ upstream: app.url });
  const running = await serve(d, ['--init-store']);
  try {
    for (let i = 0; i < 6; i++) {
      const login = await fetch(`${running.url}/_guard/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: i % 2 === 0 ? 'merchant@example.com' : 'owner@example.com', password: 'smartpush-demo' }),
      });
      const answer = await login.text();
      assert.equal(login.status, 200, answer);
      assert.deepEqual(JSON.parse(answer), { status: 'authenticated' });
      const cookie = login.headers
        .getSetCookie()
        .map((c) => c.split(';', 1)[0])
        .join('; ');
      const logout = await fetch(`${running.url}/_guard/api/logout`, { method: 'POST', headers: { 'content-type': 'application/json', cookie } });
      assert.equal(logout.status, 200, await logout.text());
    }
    const unlock = await fetch(`${running.adminUrl}/admin/users/merchant@example.com/unlock`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'fault test' }),
    });
    assert.equal(unlock.status, 200, await unlock.text());
  } finally {
    // At once, with no grace: no exit hook, no flush timer, no close.
    await running.kill9();
    await app.close();
  }

  const inFile = fileEvents(d.audit);
  const count = (events: readonly AuditEvent[], name: string): number => events.filter((e) => e.event === name).length;
  assert.equal(count(inFile, 'login_success'), 6, 'every acknowledged sign-in is in the audit file');
  assert.equal(count(inFile, 'logout'), 6, 'every acknowledged sign-out is in the audit file');
  assert.equal(count(inFile, 'unlocked'), 1, 'the support action is in the audit file');

  const db = new Database(d.db, { readonly: true });
  try {
    const rows = db.prepare<[], { record: string }>('SELECT record FROM audit_events ORDER BY id').all();
    const inSqlite = rows.map((row) => JSON.parse(row.record) as AuditEvent);
    assert.equal(count(inSqlite, 'login_success'), 6, 'and in the SQLite audit table');
    assert.equal(count(inSqlite, 'logout'), 6);
    assert.equal(count(inSqlite, 'unlocked'), 1);
  } finally {
    db.close();
  }
});

test('kill -9 right after "Two-Factor Authentication Enabled": after a restart the TOTP enrollment and its audit record are there, and the password alone does not sign in', async () => {
  const app = await startDemoApp({ host: '127.0.0.1', port: 0 });
  const d = deployment({ upstream: app.url });
  try {
    const first = await serve(d, ['--init-store']);
    try {
      const client = new GuardClient(first.url);
      expectStatus(await client.login(MERCHANT), 200, 'sign-in');
      const enrolled = await enableTotp(client, { outboxFile: d.outbox });
      assert.equal(enrolled.reply.body['enabled'], true);
    } finally {
      await first.kill9();
    }
    assert.equal(fileEvents(d.audit).filter((e) => e.event === '2fa_enabled' && e.user === MERCHANT).length, 1, 'the acknowledged enable is in the audit file');

    const second = await serve(d); // no --init-store: the store exists
    try {
      const status = await fetch(`${second.adminUrl}/admin/users/${MERCHANT}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      const body = (await status.json()) as { two_factor?: { method?: string } };
      assert.equal(status.status, 200, JSON.stringify(body));
      assert.equal(body.two_factor?.method, 'totp', 'the enrollment survived the kill -9');
      const login = await new GuardClient(second.url).login(MERCHANT);
      assert.equal(login.status, 200);
      assert.deepEqual([login.body['status'], login.body['method']], ['verification_required', 'totp'], 'the authenticator code is asked, not an email code');
    } finally {
      await second.kill9();
    }
  } finally {
    await app.close();
  }
});
