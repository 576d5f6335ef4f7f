import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { AccessEntry, createAccessLog, createLogger } from '../../../src/observability/logger.ts';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { lines, stream };
}

const ENTRIES = [
  new AccessEntry('req-1', 'GET', '/static/app.css', 200, 'static', 'pass', '203.0.113.7', 0.4321),
  new AccessEntry('r"\\\u0001é\u2028', undefined, undefined, 429, undefined, undefined, '::1', 12),
  new AccessEntry('x'.repeat(60), 'POST', '/a/"b"/' + 'c'.repeat(50), 502, 'rule "x"', 'intercept', '198.51.100.1', Number.NaN),
];

describe('access log', () => {
  test('the fast line is byte for byte what pino writes for the same object', () => {
    const fast = capture();
    const slow = capture();
    const fastLog = createAccessLog(createLogger('info', fast.stream));
    const reference = createLogger('info', slow.stream).child({}, { redact: [] });
    for (const entry of ENTRIES) {
      fastLog(entry);
      reference.info({ ...entry }, 'request');
    }
    assert.equal(fast.lines.length, ENTRIES.length);
    // Same bytes apart from the time stamp (formatted per millisecond).
    const untimed = (line: string): string => line.replace(/,"time":"[^"]*"/, '');
    assert.deepEqual(fast.lines.map(untimed), slow.lines.map(untimed));
    const first = JSON.parse(fast.lines[0] ?? '') as Record<string, unknown>;
    assert.deepEqual(Object.keys(first), ['level', 'time', 'service', 'requestId', 'method', 'path', 'status', 'rule', 'decision', 'client', 'ms', 'msg']);
    assert.equal(first['ms'], 0.4321);
    assert.equal((JSON.parse(fast.lines[2] ?? '') as Record<string, unknown>)['ms'], null);
  });

  test('below info nothing is written; a logger with a mixin or serializers gets pino\'s own line', () => {
    const quiet = capture();
    createAccessLog(createLogger('warn', quiet.stream))(ENTRIES[0] as AccessEntry);
    assert.equal(quiet.lines.length, 0);
    const mixed = capture();
    createAccessLog(pino({ mixin: () => ({ extra: 1 }), serializers: { path: (p: string) => p.toUpperCase() } }, mixed.stream))(ENTRIES[0] as AccessEntry);
    const line = JSON.parse(mixed.lines[0] ?? '') as Record<string, unknown>;
    assert.equal(line['extra'], 1);
    assert.equal(line['path'], '/STATIC/APP.CSS');
    assert.equal(line['msg'], 'request');
  });
});
