import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AuditEvent } from '../../../src/audit/audit.ts';
import { jsonLinesFileSink } from '../../../src/audit/file-sink.ts';

const event = (n: number): AuditEvent => ({
  time: new Date(Date.UTC(2026, 10, 26, 12, 0, n)).toISOString(),
  event: 'login_success',
  outcome: 'success',
  user: `user${n}@example.com`,
  details: { login: `L${n}` },
});

const lines = (file: string): AuditEvent[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as AuditEvent);

test('the file sink creates the directory and an owner-only file, and writes one JSON line per record by close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spg-audit-file-'));
  const file = join(dir, 'nested', 'var', 'audit.jsonl');
  const errors: Error[] = [];
  const sink = jsonLinesFileSink(file, { onError: (error) => errors.push(error) });
  for (let n = 0; n < 50; n++) void sink.write(event(n));
  await sink.close?.();
  assert.deepEqual(lines(file), Array.from({ length: 50 }, (_, n) => event(n)));
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'nested', 'var')).mode & 0o777, 0o700);
  assert.deepEqual(errors, []);
});

test('the file sink appends to an existing log and makes a looser file owner-only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spg-audit-file-'));
  const file = join(dir, 'audit.jsonl');
  writeFileSync(file, `${JSON.stringify(event(0))}\n`);
  chmodSync(file, 0o644);
  const sink = jsonLinesFileSink(file);
  void sink.write(event(1));
  await sink.close?.();
  assert.deepEqual(lines(file), [event(0), event(1)], 'earlier records are kept');
  assert.equal(statSync(file).mode & 0o777, 0o600);
});

test('records still buffered when the process exits are written (flushed at exit)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spg-audit-exit-'));
  const file = join(dir, 'audit.jsonl');
  const script = join(dir, 'exit.ts');
  const sinkModule = pathToFileURL(join(process.cwd(), 'src', 'audit', 'file-sink.ts')).href;
  // Writes and exits at once, without closing: only the exit hook can write the lines.
  writeFileSync(
    script,
    `import { jsonLinesFileSink } from ${JSON.stringify(sinkModule)};
const sink = jsonLinesFileSink(${JSON.stringify(file)});
for (let n = 0; n < 3; n++) sink.write({ time: new Date(0).toISOString(), event: 'logout', outcome: 'success', user: 'exit' + n + '@example.com' });
process.exit(0);
`,
  );
  const run = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', cwd: process.cwd() });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(
    lines(file).map((e) => e.user),
    ['exit0@example.com', 'exit1@example.com', 'exit2@example.com'],
  );
});
