import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryAudit, fromContext, isSecretDetailKey, withoutSecrets, type AuditEvent } from '../../../src/audit/audit.ts';
import { stdoutSink } from '../../../src/audit/file-sink.ts';
import { createAudit, type AuditSink } from '../../../src/audit/record.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { memoryLogger } from '../../helpers/stack.ts';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

function collecting(name: string): AuditSink & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return { name, events, write: (event) => void events.push(event) };
}

describe('the secret guard', () => {
  test('detail keys that name a secret are recognised, in any case style', () => {
    for (const key of ['code', 'password', 'totpSecret', 'totp_secret', 'session_id', 'sessionId', 'sid', 'cookie', 'Set-Cookie', 'recovery_codes', 'token', 'bearerToken', 'otpauth_uri', 'api-key', 'authorization', 'pin', 'OTP']) {
      assert.equal(isSecretDetailKey(key), true, key);
    }
  });

  test('ordinary detail keys are kept (words, not substrings, are matched)', () => {
    for (const key of ['login', 'method', 'channel', 'purpose', 'destination', 'category', 'via', 'subject', 'monkey', 'passage', 'scope', 'attempts_left', 'remaining', 'factors', 'origin']) {
      assert.equal(isSecretDetailKey(key), false, key);
    }
  });

  test('withoutSecrets drops the secret-named keys and says which', () => {
    const { event, dropped } = withoutSecrets({ event: 'verification_failure', outcome: 'failure', details: { code: '123456', purpose: 'login', sessionId: 'abc' } });
    assert.deepEqual(event.details, { purpose: 'login' });
    assert.deepEqual(dropped.sort(), ['code', 'sessionId']);
  });

  test('MemoryAudit applies the guard too', () => {
    const audit = new MemoryAudit(() => T0);
    audit.record({ event: 'code_sent', outcome: 'success', user: 'a@example.com', details: { channel: 'sms', code: '654321' } });
    assert.deepEqual(audit.all()[0]?.details, { channel: 'sms' });
  });

  test('fromContext merges request facts and details, leaving out what is unknown', () => {
    assert.deepEqual(fromContext({ client: '192.0.2.1', requestId: 'r1', details: { login: 'L' } }, { purpose: 'login', missing: undefined }), {
      client: '192.0.2.1',
      requestId: 'r1',
      details: { login: 'L', purpose: 'login' },
    });
    assert.deepEqual(fromContext(undefined), {});
    assert.deepEqual(fromContext({ userAgent: '' }), {}, 'an empty user agent is left out');
  });
});

describe('createAudit: the fan-out recorder', () => {
  test('every sink gets the record, stamped with the injected clock', () => {
    const clock = new ManualClock(T0);
    const a = collecting('a');
    const b = collecting('b');
    const audit = createAudit({ clock, logger: memoryLogger().logger, sinks: [a, b], query: new MemoryAudit(Date.now) });
    audit.record({ event: 'logout', outcome: 'success', user: 'a@example.com', requestId: 'r1' });
    const expected: AuditEvent = { time: new Date(T0).toISOString(), event: 'logout', outcome: 'success', user: 'a@example.com', requestId: 'r1' };
    assert.deepEqual(a.events, [expected]);
    assert.deepEqual(b.events, [expected]);
  });

  test('a throwing sink and a rejecting sink neither throw nor stop the others; each failure is counted and logged', async () => {
    const failures: string[] = [];
    const { logger, logs } = memoryLogger();
    const good = collecting('good');
    const throwing: AuditSink = { name: 'throwing', write: () => { throw new Error('disk full'); } };
    const rejecting: AuditSink = { name: 'rejecting', write: () => Promise.reject(new Error('redis down')) };
    const audit = createAudit({ clock: new ManualClock(T0), logger, sinks: [throwing, rejecting, good], query: new MemoryAudit(Date.now), onWriteFailure: (sink) => failures.push(sink) });
    assert.doesNotThrow(() => audit.record({ event: 'ban', outcome: 'info', user: 'a@example.com' }));
    assert.equal(good.events.length, 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(failures.sort(), ['rejecting', 'throwing']);
    assert.equal(logs.filter((line) => line['msg'] === 'audit record could not be written').length, 2);
  });

  test('secret-named details never reach a sink, and the drop is logged (without the value)', () => {
    const { logger, logs } = memoryLogger();
    const sink = collecting('s');
    const audit = createAudit({ clock: new ManualClock(T0), logger, sinks: [sink], query: new MemoryAudit(Date.now) });
    audit.record({ event: '2fa_enabled', outcome: 'success', user: 'a@example.com', details: { method: 'totp', totp_secret: 'JBSWY3DPEHPK3PXP', recovery_codes: 'abcd-efgh' } });
    assert.deepEqual(sink.events[0]?.details, { method: 'totp' });
    const line = JSON.stringify(logs);
    assert.ok(line.includes('totp_secret'), 'the dropped key is named');
    assert.ok(!line.includes('JBSWY3DPEHPK3PXP') && !line.includes('abcd-efgh'), 'the dropped values are not logged');
  });

  test('the query side is the configured store; after close, records are refused and counted, not thrown', async () => {
    const query = new MemoryAudit(() => T0);
    query.record({ event: 'logout', outcome: 'success', user: 'q@example.com' });
    const failures: string[] = [];
    let closedSinks = 0;
    const sink: AuditSink = { name: 's', write: () => undefined, close: async () => void closedSinks++ };
    const audit = createAudit({ clock: new ManualClock(T0), logger: memoryLogger().logger, sinks: [sink], query, onWriteFailure: (s) => failures.push(s) });
    assert.equal((await audit.recent({ user: 'q@example.com', limit: 10 })).length, 1);
    await audit.close();
    await audit.close();
    assert.equal(closedSinks, 1, 'sinks close once');
    assert.doesNotThrow(() => audit.record({ event: 'logout', outcome: 'success' }));
    assert.deepEqual(failures, ['closed']);
  });
});

test('the stdout sink writes one JSON line per record, marked as audit', () => {
  const lines: string[] = [];
  const sink = stdoutSink((line) => lines.push(line));
  const event: AuditEvent = { time: new Date(T0).toISOString(), event: 'step_up', outcome: 'success', user: 'a@example.com', details: { category: 'contact-export' } };
  void sink.write(event);
  assert.equal(lines.length, 1);
  assert.ok(lines[0]?.endsWith('\n'));
  assert.deepEqual(JSON.parse(lines[0] as string), { audit: true, ...event });
});
