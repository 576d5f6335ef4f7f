import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AccessEntry, createAccessLog, createLogger, isoTimeOncePerMs, LineBatch } from '../../../src/observability/logger.ts';

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

  test('a hook or a message prefix that could change the line still gets it, through pino', () => {
    const hooked = capture();
    createAccessLog(pino({ hooks: { streamWrite: (line: string) => line.replace('"request"', '"REQ"') } }, hooked.stream))(ENTRIES[0] as AccessEntry);
    assert.equal((JSON.parse(hooked.lines[0] ?? '') as Record<string, unknown>)['msg'], 'REQ');
    const prefixed = capture();
    createAccessLog(pino({ msgPrefix: '[guard] ' }, prefixed.stream))(ENTRIES[0] as AccessEntry);
    assert.equal((JSON.parse(prefixed.lines[0] ?? '') as Record<string, unknown>)['msg'], '[guard] request');
  });

  test('lines are handed on in order, about 4 KiB at a time, and flushing passes the held ones first', () => {
    const written: string[] = [];
    const calls: string[] = [];
    const batch = new LineBatch({
      write: (text: string) => {
        written.push(text);
        calls.push('write');
        return true;
      },
      flush: () => {
        calls.push('flush');
      },
      flushSync: () => {
        calls.push('flushSync');
      },
    });
    const line = (i: number): string => `${JSON.stringify({ i, pad: 'x'.repeat(90) })}\n`;
    for (let i = 0; i < 100; i++) batch.write(line(i));
    // 100 lines of ~110 characters: handed on in batches of at least 4096 characters.
    assert.ok(written.length >= 2 && written.length <= 3, `${written.length} writes`);
    for (const text of written) assert.ok(text.length >= 4096);
    batch.flush();
    assert.deepEqual(calls.slice(-2), ['write', 'flush']);
    assert.equal(written.join(''), Array.from({ length: 100 }, (_, i) => line(i)).join(''));
    batch.write(line(100));
    batch.flushSync();
    assert.deepEqual(calls.slice(-2), ['write', 'flushSync']);
    assert.equal(written.at(-1), line(100));
    batch.flush();
    assert.deepEqual(calls.slice(-2), ['flushSync', 'flush'], 'nothing held: nothing written');
  });

  test('to a file: access lines and other lines arrive in the order they were logged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spg-log-'));
    try {
      const file = join(dir, 'guard.log');
      const logger = createLogger('info', file);
      const access = createAccessLog(logger);
      access(ENTRIES[0] as AccessEntry);
      logger.warn({ requestId: 'req-2' }, 'between');
      access(ENTRIES[1] as AccessEntry);
      await new Promise<void>((resolve, reject) => logger.flush((error) => (error ? reject(error) : resolve())));
      const lines = readFileSync(file, 'utf8').trim().split('\n').map((text) => JSON.parse(text) as Record<string, unknown>);
      assert.deepEqual(lines.map((l) => [l['msg'], l['requestId']]), [['request', 'req-1'], ['between', 'req-2'], ['request', ENTRIES[1]?.requestId]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the time field is pino's ISO time, whatever the millisecond, second or year", () => {
    const times = [
      Date.UTC(2026, 11, 3, 19, 34, 12, 0),
      Date.UTC(2026, 11, 3, 19, 34, 12, 7),
      Date.UTC(2026, 11, 3, 19, 34, 12, 42),
      Date.UTC(2026, 11, 3, 19, 34, 12, 999),
      Date.UTC(2026, 11, 3, 19, 34, 13, 0),
      Date.UTC(2026, 11, 31, 23, 59, 59, 999),
      Date.UTC(2027, 0, 1, 0, 0, 0, 1),
      0,
      -1,
      -1001,
      Date.UTC(12000, 0, 1, 0, 0, 0, 5),
    ];
    // Each value twice in a row (the once-per-millisecond cache), then again after others.
    for (const at of [...times, ...times.reverse()]) {
      const expected = `,"time":"${new Date(at).toISOString()}"`;
      assert.equal(isoTimeOncePerMs(at), expected);
      assert.equal(isoTimeOncePerMs(at), expected);
    }
  });

  test('field values seen before are written the same way as new ones', () => {
    const out = capture();
    const log = createAccessLog(createLogger('info', out.stream));
    const entry = (i: number): AccessEntry => new AccessEntry(`id-${i}`, 'GET', '/p', 200, `rule "${i % 3}"\u2028`, 'forward', `198.51.100.${i % 2000}`, 1);
    // More distinct client addresses than the remembered literals hold, each seen several times.
    for (let i = 0; i < 2500; i++) log(entry(i));
    for (let i = 0; i < 2500; i++) log(entry(i));
    assert.equal(out.lines.length, 5000);
    out.lines.forEach((line, n) => {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      const i = n % 2500;
      assert.equal(parsed['client'], `198.51.100.${i % 2000}`);
      assert.equal(parsed['rule'], `rule "${i % 3}"\u2028`);
      assert.equal(parsed['method'], 'GET');
      assert.equal(parsed['msg'], 'request');
    });
  });

  test('lines still held when the process ends are written: at a natural end and at process.exit()', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spg-log-exit-'));
    try {
      const logger = fileURLToPath(new URL('../../../src/observability/logger.ts', import.meta.url));
      const script = join(dir, 'child.mts');
      // Fewer than 4 KiB of lines: all of them still held by the batch when the process ends.
      writeFileSync(
        script,
        `import { createLogger, createAccessLog, AccessEntry } from ${JSON.stringify(logger)};
const log = createLogger('info', process.argv[2]);
const access = createAccessLog(log);
// The writer opens its file asynchronously; a service logs once it is open.
const { existsSync } = await import('node:fs');
while (!existsSync(process.argv[2])) await new Promise((resolve) => setTimeout(resolve, 10));
await new Promise((resolve) => setTimeout(resolve, 50));
for (let i = 0; i < 5; i++) access(new AccessEntry('r-' + i, 'GET', '/', 200, 'rule', 'forward', '127.0.0.1', 1));
log.info('last line');
if (process.argv[3] === 'exit') process.exit(0);
`,
      );
      for (const how of ['natural', 'exit']) {
        const file = join(dir, `${how}.log`);
        execFileSync(process.execPath, ['--import', 'tsx', script, file, how], { stdio: 'pipe' });
        const lines = readFileSync(file, 'utf8').trim().split('\n').map((text) => JSON.parse(text) as Record<string, unknown>);
        assert.deepEqual(lines.map((l) => l['requestId'] ?? l['msg']), ['r-0', 'r-1', 'r-2', 'r-3', 'r-4', 'last line'], how);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
