import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAudit, type AuditEvent } from '../../../src/audit/audit.ts';
import { jsonLinesFileSink } from '../../../src/audit/file-sink.ts';
import { createAudit, type AuditSink } from '../../../src/audit/record.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { memoryLogger } from '../../helpers/stack.ts';

/**
 * Issue 14 item 15: `settle()` resolves once every record so far is stored by every sink; the
 * service awaits it before answering. It costs nothing when nothing was recorded.
 */

const T0 = Date.UTC(2026, 10, 30, 8, 0, 0);

/** A sink whose settle() resolves when the test says so. */
function gated(): AuditSink & { calls: number; open(): void; events: AuditEvent[] } {
  let release: (() => void) | null = null;
  const sink = {
    name: 'gated',
    calls: 0,
    events: [] as AuditEvent[],
    write(event: AuditEvent): void {
      sink.events.push(event);
    },
    settle(): Promise<void> {
      sink.calls += 1;
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    open(): void {
      release?.();
    },
  };
  return sink;
}

const settledYet = async (promise: Promise<void>): Promise<boolean> => {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return done;
};

test('settle() waits for every sink to store what was recorded, and returns at once when nothing is new', async () => {
  const sink = gated();
  const audit = createAudit({ clock: new ManualClock(T0), logger: memoryLogger().logger, sinks: [sink], query: new MemoryAudit(Date.now) });
  assert.equal(await settledYet(audit.settle()), true, 'nothing recorded: nothing to wait for');
  assert.equal(sink.calls, 0);
  audit.record({ event: 'login_success', outcome: 'success', user: 'a@example.com' });
  const settling = audit.settle();
  assert.equal(await settledYet(settling), false, 'the record is not stored yet');
  sink.open();
  assert.equal(await settledYet(settling), true);
  assert.equal(await settledYet(audit.settle()), true, 'already covered');
  assert.equal(sink.calls, 1);
});

test('settle() waits for writes that return a promise (Redis), and a failing sink is counted, not thrown', async () => {
  let finish: (() => void) | null = null;
  const redisLike: AuditSink = { name: 'redis', write: () => new Promise<void>((resolve) => (finish = resolve)) };
  const failures: string[] = [];
  const broken: AuditSink = { name: 'broken', write: () => undefined, settle: () => Promise.reject(new Error('disk full')) };
  const audit = createAudit({ clock: new ManualClock(T0), logger: memoryLogger().logger, sinks: [redisLike, broken], query: new MemoryAudit(Date.now), onWriteFailure: (s) => failures.push(s) });
  audit.record({ event: '2fa_enabled', outcome: 'success', user: 'a@example.com' });
  const settling = audit.settle();
  assert.equal(await settledYet(settling), false, 'the Redis write is still in flight');
  (finish as (() => void) | null)?.();
  assert.equal(await settledYet(settling), true);
  assert.deepEqual(failures, ['broken']);
});

test('the file sink: after settle() the record is in the file (written and fdatasync-ed), without closing', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'spg-audit-settle-')), 'audit.jsonl');
  const sink = jsonLinesFileSink(file);
  try {
    for (let n = 0; n < 3; n++) {
      void sink.write({ time: new Date(T0 + n).toISOString(), event: 'logout', outcome: 'success', user: `u${n}@example.com` });
    }
    await sink.settle?.();
    const users = readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => (JSON.parse(line) as AuditEvent).user);
    assert.deepEqual(users, ['u0@example.com', 'u1@example.com', 'u2@example.com']);
  } finally {
    await sink.close?.();
  }
});
