import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Tracing off costs no memory: a sidecar that starts, serves and stops without `tracing` never
 * loads the OpenTelemetry SDK or its exporter. The same process then starts tracing, which must
 * load them (so the check can see them at all).
 */
test('without tracing the OpenTelemetry SDK is never loaded; startTracing loads it', { timeout: 60_000 }, () => {
  const log = join(mkdtempSync(join(tmpdir(), 'spg-lazy-')), 'modules.log');
  writeFileSync(log, '');
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--import', './test/helpers/module-log.mjs', 'test/helpers/tracing-off-child.ts'],
    { env: { ...process.env, SPG_MODULE_LOG: log }, encoding: 'utf8', timeout: 50_000 },
  );
  assert.equal(child.status, 0, child.stderr);
  const lines = readFileSync(log, 'utf8').split('\n');
  const off = lines.indexOf('MARK tracing-off-done');
  const on = lines.indexOf('MARK tracing-on-done');
  assert.ok(off >= 0 && on > off, lines.join('\n'));
  const sdk = (line: string): boolean => /@opentelemetry\/(sdk-trace|exporter-trace-otlp-http|otlp-|resources|core)/.test(line);
  assert.deepEqual(lines.slice(0, off).filter(sdk), [], 'nothing of the SDK before tracing is started');
  const loaded = lines.slice(off, on);
  assert.ok(loaded.some((l) => l.includes('@opentelemetry/sdk-trace-base')), loaded.join('\n'));
  assert.ok(loaded.some((l) => l.includes('@opentelemetry/exporter-trace-otlp-http')), loaded.join('\n'));
});
