import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEvent } from '../../../../src/audit/audit.ts';
import { DeliveryQueue, type SendResult } from '../../../../src/audit/stream/delivery-queue.ts';
import { eventBatchSchema, streamEventSchema } from '../../../../src/audit/stream/event-schema.ts';
import { formatSyslog } from '../../../../src/audit/stream/syslog-sink.ts';

/** A scheduler a test runs by hand: the delays asked for, and the retries waiting. */
function manualScheduler(): { delays: number[]; runNext(): void; schedule: (run: () => void, ms: number) => () => void } {
  const waiting: Array<() => void> = [];
  const delays: number[] = [];
  return {
    delays,
    runNext: () => waiting.shift()?.(),
    schedule: (run, ms) => {
      delays.push(ms);
      waiting.push(run);
      return () => {
        const i = waiting.indexOf(run);
        if (i >= 0) waiting.splice(i, 1);
      };
    },
  };
}

const event = (n: number, extra: Partial<AuditEvent> = {}): AuditEvent => ({
  time: '2026-12-02T10:00:00.000Z',
  event: 'login_failure',
  outcome: 'failure',
  user: `user${n}@example.com`,
  client: '203.0.113.9',
  reason: 'invalid_credentials',
  ...extra,
});

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('the delivery queue between the audit trail and a receiver', () => {
  test('delivers in order, in batches, one batch in flight at a time', async () => {
    const sent: string[][] = [];
    let inFlight = 0;
    let most = 0;
    const queue = new DeliveryQueue({
      name: 't',
      maxQueue: 100,
      batchSize: 2,
      maxAttempts: 3,
      backoff: { initialMs: 1000, maxMs: 8000 },
      send: async (batch) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await tick();
        sent.push(batch.map((e) => e.user ?? ''));
        inFlight -= 1;
        return { ok: true };
      },
    });
    for (let i = 1; i <= 5; i++) queue.push(event(i));
    await queue.idle();
    assert.deepEqual(sent.flat(), [1, 2, 3, 4, 5].map((i) => `user${i}@example.com`));
    assert.equal(sent[0]!.length, 1, 'the first event goes at once');
    assert.ok(sent.every((b) => b.length <= 2));
    assert.equal(most, 1);
    assert.equal(queue.depth, 0);
  });

  test('a transient failure is retried with doubling back-off, then given up after max attempts (counted)', async () => {
    const clock = manualScheduler();
    const outcomes: string[] = [];
    let attempts = 0;
    const queue = new DeliveryQueue({
      name: 't',
      maxQueue: 10,
      batchSize: 10,
      maxAttempts: 4,
      backoff: { initialMs: 1000, maxMs: 3000 },
      schedule: clock.schedule,
      onOutcome: (outcome, n) => outcomes.push(`${outcome}:${n}`),
      send: async (): Promise<SendResult> => {
        attempts += 1;
        return { ok: false, transient: true, detail: 'HTTP 503' };
      },
    });
    queue.push(event(1));
    for (let i = 0; i < 3; i++) {
      await tick();
      clock.runNext();
    }
    await tick();
    assert.equal(attempts, 4);
    assert.deepEqual(clock.delays, [1000, 2000, 3000], 'doubling, capped at maxMs');
    assert.deepEqual(outcomes, ['retried:1', 'retried:1', 'retried:1', 'dropped:1']);
    assert.equal(queue.depth, 0);
  });

  test('a permanent failure (a 4xx) drops the batch at once; a send that throws counts as transient', async () => {
    const outcomes: string[] = [];
    const clock = manualScheduler();
    const results: Array<SendResult | Error> = [new Error('socket hang up'), { ok: true }, { ok: false, transient: false, detail: 'HTTP 400' }];
    const queue = new DeliveryQueue({
      name: 't',
      maxQueue: 10,
      batchSize: 1,
      maxAttempts: 5,
      backoff: { initialMs: 10, maxMs: 10 },
      schedule: clock.schedule,
      onOutcome: (outcome) => outcomes.push(outcome),
      send: async () => {
        const next = results.shift();
        if (next instanceof Error) throw next;
        return next ?? { ok: true };
      },
    });
    queue.push(event(1));
    queue.push(event(2));
    await tick();
    clock.runNext();
    await queue.idle();
    assert.deepEqual(outcomes, ['retried', 'delivered', 'dropped']);
  });

  test('a full queue drops its oldest waiting events (counted), never the batch in flight, and push never throws', async () => {
    const outcomes: string[] = [];
    let release: (r: SendResult) => void = () => undefined;
    const sent: string[] = [];
    const queue = new DeliveryQueue({
      name: 't',
      maxQueue: 3,
      batchSize: 1,
      maxAttempts: 1,
      backoff: { initialMs: 10, maxMs: 10 },
      onOutcome: (outcome, n) => outcomes.push(`${outcome}:${n}`),
      send: (batch) => {
        sent.push(batch[0]!.user ?? '');
        return new Promise((resolve) => (release = resolve));
      },
    });
    for (let i = 1; i <= 6; i++) queue.push(event(i));
    assert.equal(queue.depth, 3);
    assert.deepEqual(outcomes, ['overflow:1', 'overflow:1', 'overflow:1']);
    release({ ok: true });
    await tick();
    release({ ok: true });
    await tick();
    release({ ok: true });
    await queue.idle();
    assert.deepEqual(sent, ['user1@example.com', 'user5@example.com', 'user6@example.com'], 'the in-flight event 1 and the newest two');
  });

  test('close gives what is queued one last try, then drops the rest instead of hanging', async () => {
    const outcomes: string[] = [];
    const queue = new DeliveryQueue({
      name: 't',
      maxQueue: 10,
      batchSize: 1,
      maxAttempts: 10,
      backoff: { initialMs: 60_000, maxMs: 60_000 },
      onOutcome: (outcome, n) => outcomes.push(`${outcome}:${n}`),
      send: async () => ({ ok: false, transient: true, detail: 'down' }),
    });
    queue.push(event(1));
    queue.push(event(2));
    await tick();
    await queue.close(1_000);
    assert.equal(queue.depth, 0);
    assert.ok(outcomes.includes('dropped:2'), outcomes.join(' '));
    queue.push(event(3));
    assert.equal(queue.depth, 0, 'a closed queue takes nothing');
  });
});

describe('syslog messages (RFC 5424)', () => {
  const options = { facility: 'authpriv' as const, appName: 'smartpush-guard', host: 'guard-1', procId: '4242' };
  const RFC5424 = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\[.*\]|-) \uFEFF(.*)$/s;

  test('PRI from facility and outcome, the header fields, structured data and the JSON event', () => {
    const line = formatSyslog(event(1, { requestId: 'req-1' }), '0b6c2b7e-4d0f-4a43-9a7a-3a5e4f8b9c10', options);
    const m = RFC5424.exec(line);
    assert.ok(m, line);
    assert.equal(Number(m[1]), 10 * 8 + 4, 'authpriv.warning for a failure');
    assert.equal(m[2], '2026-12-02T10:00:00.000Z');
    assert.equal(m[3], 'guard-1');
    assert.equal(m[4], 'smartpush-guard');
    assert.equal(m[5], '4242');
    assert.equal(m[6], 'login_failure');
    assert.match(m[7]!, /^\[spg@32473 outcome="failure" user="user1@example\.com" client="203\.0\.113\.9" reason="invalid_credentials" requestId="req-1" id="0b6c2b7e-/);
    const json = streamEventSchema.parse(JSON.parse(m[8]!));
    assert.equal(json.user, 'user1@example.com');
    assert.equal(json.host, 'guard-1');
    assert.equal(json.schema, 'smartpush-guard.event/v1');
    assert.equal(Number(RFC5424.exec(formatSyslog(event(1, { event: 'login_success', outcome: 'success' }), 'x', options))![1]), 85, 'success is notice');
    assert.equal(Number(RFC5424.exec(formatSyslog(event(1, { event: 'policy_reload', outcome: 'info' }), 'x', { ...options, facility: 'local3' }))![1]), 19 * 8 + 6);
  });

  test('values that would break the structured data are escaped, header fields lose spaces', () => {
    const line = formatSyslog(event(1, { user: 'a"b]c\\d', reason: 'x y' }), 'id-1', { ...options, host: 'my host' });
    assert.match(line, / user="a\\"b\\]c\\\\d" /);
    assert.match(line, /^<84>1 \S+ myhost smartpush-guard /);
  });

  test('a batch as the webhook sends it matches the published schema', () => {
    const batch = { schema: 'smartpush-guard.events/v1', events: [{ schema: 'smartpush-guard.event/v1', id: '0b6c2b7e-4d0f-4a43-9a7a-3a5e4f8b9c10', host: 'h', ...event(1) }] };
    assert.doesNotThrow(() => eventBatchSchema.parse(batch));
    assert.throws(() => eventBatchSchema.parse({ ...batch, events: [{ ...batch.events[0], password: 'x' }] }), 'unknown fields are refused');
  });
});
