import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEvent, AuditQuery } from '../../src/audit/audit.ts';
import type { AuditEventType } from '../../src/config/audit-events.ts';
import type { AuditSink } from '../../src/audit/record.ts';
import { ManualClock } from '../../src/core/clock.ts';

/**
 * The behaviour every durable audit query store shares (SQLite, Redis): what the admin API's
 * "recent events of a user" relies on. Each backend's test file calls `auditStoreContract`.
 */

export const DAY = 24 * 3_600_000;
export const RETENTION = 90 * DAY;
const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);

export interface OpenedAuditStore {
  readonly store: AuditSink & AuditQuery;
  close(): Promise<void>;
}

export type AuditStoreFactory = (clock: ManualClock) => Promise<OpenedAuditStore>;

export function auditEvent(clock: ManualClock, user: string | undefined, event: AuditEventType, n: number): AuditEvent {
  return {
    time: new Date(clock.now()).toISOString(),
    event,
    outcome: 'info',
    ...(user !== undefined ? { user } : {}),
    client: '192.0.2.7',
    requestId: `req-${n}`,
    details: { n, login: `L${n}` },
  };
}

async function withStore(open: AuditStoreFactory, fn: (store: AuditSink & AuditQuery, clock: ManualClock) => Promise<void>): Promise<void> {
  const clock = new ManualClock(T0);
  const opened = await open(clock);
  try {
    await fn(opened.store, clock);
  } finally {
    await opened.close();
  }
}

export function auditStoreContract(name: string, open: AuditStoreFactory): void {
  test(`${name}: a user's recent events come back newest first, whole, up to the limit`, () =>
    withStore(open, async (store, clock) => {
      const written: AuditEvent[] = [];
      for (let n = 0; n < 5; n++) {
        const e = auditEvent(clock, 'ann@example.com', 'login_success', n);
        written.push(e);
        await store.write(e);
        await store.write(auditEvent(clock, 'bob@example.com', 'login_failure', 100 + n));
        clock.advance(1000);
      }
      assert.deepEqual(await store.recent({ user: 'ann@example.com', limit: 10 }), [...written].reverse());
      assert.deepEqual(await store.recent({ user: 'ann@example.com', limit: 2 }), [written[4], written[3]]);
      assert.deepEqual(await store.recent({ user: 'nobody@example.com', limit: 10 }), []);
    }));

  test(`${name}: filters by event and by time (since)`, () =>
    withStore(open, async (store, clock) => {
      await store.write(auditEvent(clock, 'ann@example.com', 'login_failure', 1));
      clock.advance(60_000);
      const since = clock.now();
      await store.write(auditEvent(clock, 'ann@example.com', 'login_failure', 2));
      await store.write(auditEvent(clock, 'ann@example.com', 'code_sent', 3));
      const failures = await store.recent({ user: 'ann@example.com', event: 'login_failure', limit: 10 });
      assert.deepEqual(failures.map((e) => e.requestId), ['req-2', 'req-1']);
      const recent = await store.recent({ user: 'ann@example.com', since, limit: 10 });
      assert.deepEqual(recent.map((e) => e.requestId), ['req-3', 'req-2']);
      const recentFailures = await store.recent({ user: 'ann@example.com', event: 'login_failure', since, limit: 10 });
      assert.deepEqual(recentFailures.map((e) => e.requestId), ['req-2']);
    }));

  test(`${name}: without a user, every event (also those without a user) newest first`, () =>
    withStore(open, async (store, clock) => {
      await store.write(auditEvent(clock, 'ann@example.com', 'logout', 1));
      clock.advance(1000);
      await store.write(auditEvent(clock, undefined, 'policy_reload', 2));
      clock.advance(1000);
      await store.write(auditEvent(clock, 'bob@example.com', 'logout', 3));
      assert.deepEqual((await store.recent({ limit: 10 })).map((e) => e.requestId), ['req-3', 'req-2', 'req-1']);
      assert.deepEqual((await store.recent({ event: 'policy_reload', limit: 10 })).map((e) => e.requestId), ['req-2']);
    }));

  test(`${name}: records older than the retention are not answered`, () =>
    withStore(open, async (store, clock) => {
      await store.write(auditEvent(clock, 'ann@example.com', 'login_success', 1));
      clock.advance(RETENTION - DAY);
      await store.write(auditEvent(clock, 'ann@example.com', 'login_success', 2));
      assert.equal((await store.recent({ user: 'ann@example.com', limit: 10 })).length, 2);
      clock.advance(2 * DAY);
      assert.deepEqual((await store.recent({ user: 'ann@example.com', limit: 10 })).map((e) => e.requestId), ['req-2']);
      assert.deepEqual((await store.recent({ limit: 10 })).map((e) => e.requestId), ['req-2']);
    }));
}
